// The swap journal: `<modelDir>/journal/<hash of deploymentId>.json`, written durably BEFORE
// `current` is switched. It is the device's own record of what a deployment backed up, so that
// a retried swapModel does not back up the new model as "previous", and restoreBackup knows
// what to restore even when the workflow never got the swap's result (crash, timeout).
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { BackupRecord } from '../../common/contracts';
import { SHA256_PATTERN } from '../../common/ids';
import { writeFileAtomic } from '../../common/durableFs';
import { ErrorType } from '../../common/errors';
import { edgeFailure } from './failures';
import { journalPath, MODEL_EXTS } from './modelDir';

/** prepared: backup made, `current` not yet switched … restored: the compensation finished. */
export const SWAP_PHASES = ['prepared', 'switched', 'restarted', 'healthy', 'restored'] as const;
export type SwapPhase = (typeof SWAP_PHASES)[number];

const sha = z.string().regex(SHA256_PATTERN);

const JournalSchema = z.object({
  schema: z.literal('edgeship.swap-journal/1'),
  deploymentId: z.string().min(1),
  deviceId: z.string(),
  sha256: sha,
  ext: z.enum(MODEL_EXTS),
  backup: z.object({ sha256: sha, backupPath: z.string(), releasePath: z.string() }).nullable(),
  phase: z.enum(SWAP_PHASES),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export type SwapJournal = z.infer<typeof JournalSchema>;

export function newJournal(deploymentId: string, deviceId: string, sha256: string, ext: SwapJournal['ext'], backup: BackupRecord | null, at: Date): SwapJournal {
  const stamp = at.toISOString();
  return { schema: 'edgeship.swap-journal/1', deploymentId, deviceId, sha256, ext, backup, phase: 'prepared', createdAt: stamp, updatedAt: stamp };
}

export async function readJournal(modelDir: string, deploymentId: string): Promise<SwapJournal | null> {
  const file = journalPath(modelDir, deploymentId);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  // Written atomically, so a malformed journal means someone edited it: refuse to guess.
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    raw = undefined;
  }
  const parsed = JournalSchema.safeParse(raw);
  if (!parsed.success || parsed.data.deploymentId !== deploymentId) {
    throw edgeFailure(ErrorType.DeviceStateCorrupt, `swap journal ${file} is malformed or belongs to another deployment; inspect it by hand`);
  }
  return parsed.data;
}

export async function writeJournal(modelDir: string, journal: SwapJournal, phase: SwapPhase, at: Date): Promise<SwapJournal> {
  const next = { ...journal, phase, updatedAt: at.toISOString() };
  await writeFileAtomic(journalPath(modelDir, journal.deploymentId), JSON.stringify(next, null, 2) + '\n');
  return next;
}
