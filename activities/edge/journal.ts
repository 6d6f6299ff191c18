// The swap journal: `<modelDir>/journal/<sha256 of deploymentId \n runId>.json`, written durably
// BEFORE `current` is switched. It is the device's own record of what one deployment RUN backed
// up, so that a retried swapModel does not back up the new model as "previous", and
// restoreBackup knows what to restore even when the workflow never got the swap's result (crash,
// timeout). Keyed by the run, not only the workflow id: a re-run of the same workflow id is
// another deployment and must never restore (or be refused by) an earlier run's journal.
import { readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { BackupRecord, DeploymentRun } from '../../common/contracts';
import { SHA256_PATTERN } from '../../common/ids';
import { writeFileAtomic } from '../../lib/durableFs';
import { ErrorType } from '../../common/errors';
import { literal, nullable, object, oneOf, parse, string, type Infer } from '../../edge/shape';
import { edgeFailure } from './failures';
import { journalDir, journalPath, MODEL_EXTS, releasePath } from './modelDir';

/**
 * prepared: backup made, `current` not yet switched … healthy: the swap finished;
 * restoring: the compensation is about to move `current` back (written before it does, so a
 * restore that stopped halfway is told apart from another deployment putting that version back);
 * restored: the compensation finished.
 */
export const SWAP_PHASES = ['prepared', 'switched', 'restarted', 'healthy', 'restoring', 'restored'] as const;
export type SwapPhase = (typeof SWAP_PHASES)[number];

export const JOURNAL_SCHEMA = 'edgeship.swap-journal/2';
/** Journals of edgeship before run-scoped journals: keyed by workflow id only, never used. */
const LEGACY_SCHEMA = 'edgeship.swap-journal/1';

const sha = string({ pattern: SHA256_PATTERN });

const JournalSchema = object({
  schema: literal(JOURNAL_SCHEMA),
  deploymentId: string({ min: 1 }),
  runId: string({ min: 1 }),
  deviceId: string(),
  sha256: sha,
  ext: oneOf(MODEL_EXTS),
  backup: nullable(object({ sha256: sha, backupPath: string(), releasePath: string() })),
  phase: oneOf(SWAP_PHASES),
  createdAt: string(),
  updatedAt: string(),
});

export type SwapJournal = Infer<typeof JournalSchema>;

export function newJournal(run: DeploymentRun, deviceId: string, sha256: string, ext: SwapJournal['ext'], backup: BackupRecord | null, at: Date): SwapJournal {
  const stamp = at.toISOString();
  return { schema: JOURNAL_SCHEMA, deploymentId: run.deploymentId, runId: run.runId, deviceId, sha256, ext, backup, phase: 'prepared', createdAt: stamp, updatedAt: stamp };
}

/** The release a journal's swap points `current` at. */
export function journalRelease(modelDir: string, journal: SwapJournal): string {
  return releasePath(modelDir, journal.sha256, journal.ext);
}

type Parsed = { kind: 'journal'; journal: SwapJournal } | { kind: 'legacy' } | { kind: 'corrupt' };

function parseJournal(text: string): Parsed {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { kind: 'corrupt' };
  }
  if ((raw as { schema?: unknown } | null)?.schema === LEGACY_SCHEMA) return { kind: 'legacy' };
  const parsed = parse(JournalSchema, raw);
  return parsed.ok ? { kind: 'journal', journal: parsed.value } : { kind: 'corrupt' };
}

/**
 * This run's journal, or null when it has none (a v1 journal is none: it cannot name a run).
 * Journals are written atomically, so a malformed one, or one naming another run, means someone
 * edited it: DeviceStateCorrupt, a person must look.
 */
export async function readJournal(modelDir: string, deploymentId: string, runId: string): Promise<SwapJournal | null> {
  const file = journalPath(modelDir, deploymentId, runId);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const parsed = parseJournal(text);
  if (parsed.kind === 'legacy') return null;
  if (parsed.kind === 'corrupt' || parsed.journal.deploymentId !== deploymentId || parsed.journal.runId !== runId) {
    throw edgeFailure(ErrorType.DeviceStateCorrupt, `swap journal ${file} is malformed or belongs to another deployment run; inspect it by hand`);
  }
  return parsed.journal;
}

export async function writeJournal(modelDir: string, journal: SwapJournal, phase: SwapPhase, at: Date): Promise<SwapJournal> {
  const next = { ...journal, phase, updatedAt: at.toISOString() };
  await writeFileAtomic(journalPath(modelDir, journal.deploymentId, journal.runId), JSON.stringify(next, null, 2) + '\n');
  return next;
}

export interface JournalScan {
  journals: SwapJournal[];
  /** Raw text of journals that do not parse: whatever they name must be treated as in use. */
  unreadable: string[];
}

/** Every run journal on the device (legacy v1 journals are skipped). */
export async function scanJournals(modelDir: string): Promise<JournalScan> {
  let names: string[];
  try {
    names = await readdir(journalDir(modelDir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { journals: [], unreadable: [] };
    throw err;
  }
  const scan: JournalScan = { journals: [], unreadable: [] };
  for (const name of names.filter((n) => /^[0-9a-f]{64}\.json$/.test(n))) {
    let text: string;
    try {
      text = await readFile(path.join(journalDir(modelDir), name), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    const parsed = parseJournal(text);
    if (parsed.kind === 'journal') scan.journals.push(parsed.journal);
    else if (parsed.kind === 'corrupt') scan.unreadable.push(text);
  }
  return scan;
}

/**
 * Backups (by sha256) that a journal may still restore: its run switched (or is about to
 * switch: `prepared`, with `current` still on what it backed up) and was not restored, and
 * `current` still points where that run left it; or its restore is under way. Pruning must never remove these. A journal
 * that does not parse protects every sha it mentions: unknown is in use.
 */
export function backupsInUse(modelDir: string, scan: JournalScan, currentFile: string | null): Set<string> {
  const inUse = new Set<string>();
  for (const j of scan.journals) {
    if (!j.backup || j.phase === 'restored') continue;
    const live = j.phase === 'restoring' || currentFile === journalRelease(modelDir, j) || (j.phase === 'prepared' && currentFile === j.backup.releasePath);
    if (live) inUse.add(j.backup.sha256);
  }
  for (const text of scan.unreadable) for (const m of text.matchAll(/[0-9a-f]{64}/g)) inUse.add(m[0]);
  return inUse;
}
