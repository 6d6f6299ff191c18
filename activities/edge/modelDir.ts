// The device's model directory:
//   releases/<sha256>.<ext> (+ .meta.json, + .manifest.json when signed)   installed models, named by content
//   staging/<sha256>.<ext>  (+ the same sidecars)   pushed by pushArtifact, not live
//   staging/<sha256>.<ext>.claims/<run key>.json  one claim per deployment run that needs it
//   backups/<stamp>-<sha256>.<ext> (+ meta)  real copies of what `current` served before a swap,
//                                            at most one per sha
//   journal/<run key>.json                    one swap journal per deployment run
//   current -> releases/<sha256>.<ext>        what the runtime loads
// Every path here is built from a validated sha256 and extension (or a hash), never from free
// text, so no input can reach outside the model directory.
import { randomBytes, createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, readlink, rename, rm, rmdir, symlink } from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { fsyncDir, fsyncFile } from '../../lib/durableFs';
import { ErrorType } from '../../common/errors';
import { SHA256_PATTERN } from '../../common/ids';
import { manifestPathOf } from '../../edge/releaseManifest';
import { edgeFailure } from './failures';

export const MODEL_EXTS = ['onnx', 'hef'] as const;
export type ModelExt = (typeof MODEL_EXTS)[number];

export function isModelExt(value: unknown): value is ModelExt {
  return typeof value === 'string' && (MODEL_EXTS as readonly string[]).includes(value);
}

/** Rejects a malformed sha256 or extension before it can become part of a path. */
export function checkArtifactId(sha256: unknown, ext: unknown): asserts ext is ModelExt {
  if (typeof sha256 !== 'string' || !SHA256_PATTERN.test(sha256)) {
    throw edgeFailure(ErrorType.InvalidRequest, `sha256 must be 64 lowercase hex characters, got ${JSON.stringify(sha256)}`);
  }
  if (!isModelExt(ext)) {
    throw edgeFailure(ErrorType.InvalidRequest, `ext must be one of ${MODEL_EXTS.join(', ')}, got ${JSON.stringify(ext)}`);
  }
}

export const metaPathOf = (file: string): string => `${file}.meta.json`;
export { manifestPathOf };
/** The files that travel with a model file wherever it goes (install, backup, restore). */
export const sidecarsOf = (file: string): string[] => [metaPathOf(file), manifestPathOf(file)];
export const currentLinkPath = (modelDir: string): string => path.join(modelDir, 'current');
export const releasesDir = (modelDir: string): string => path.join(modelDir, 'releases');
export const stagingDir = (modelDir: string): string => path.join(modelDir, 'staging');
export const backupsDir = (modelDir: string): string => path.join(modelDir, 'backups');
export const journalDir = (modelDir: string): string => path.join(modelDir, 'journal');

export function releaseFileName(sha256: string, ext: ModelExt): string {
  checkArtifactId(sha256, ext);
  return `${sha256}.${ext}`;
}

export function releasePath(modelDir: string, sha256: string, ext: ModelExt): string {
  return path.join(releasesDir(modelDir), releaseFileName(sha256, ext));
}

export function stagedPath(modelDir: string, sha256: string, ext: ModelExt): string {
  return path.join(stagingDir(modelDir), releaseFileName(sha256, ext));
}

const MAX_ID_LENGTH = 1000;

/**
 * Validates a deployment run (workflow id + run id) before it names anything on the device.
 * A run id never holds a newline, so `deploymentId \n runId` splits one way only.
 */
export function checkRun(deploymentId: unknown, runId: unknown): void {
  if (typeof deploymentId !== 'string' || deploymentId.length === 0 || deploymentId.length > MAX_ID_LENGTH) {
    throw edgeFailure(ErrorType.InvalidRequest, `deploymentId must be a non-empty string of at most ${MAX_ID_LENGTH} characters`);
  }
  if (typeof runId !== 'string' || runId.length === 0 || runId.length > MAX_ID_LENGTH || /[\r\n]/.test(runId)) {
    throw edgeFailure(ErrorType.InvalidRequest, `runId must be a non-empty single-line string of at most ${MAX_ID_LENGTH} characters, got ${JSON.stringify(runId)?.slice(0, 80)}`);
  }
}

/**
 * A deployment run's name on the device: the sha256 of `deploymentId \n runId`. Ids are free
 * text (workflow ids), so files are named by this hash, never by the ids themselves.
 */
export function runKey(deploymentId: string, runId: string): string {
  checkRun(deploymentId, runId);
  return createHash('sha256').update(`${deploymentId}\n${runId}`).digest('hex');
}

export function journalPath(modelDir: string, deploymentId: string, runId: string): string {
  return path.join(journalDir(modelDir), `${runKey(deploymentId, runId)}.json`);
}

// ---- staging claims ---------------------------------------------------------------------------
// One artifact may be staged for several deployment runs at once (the same bytes under two model
// names, a re-run). Each run that staged it leaves a claim; the staged file goes only when the
// last claim does. A staged file without a claims directory (pushed by an older edgeship) is
// unclaimed.

export const claimsDirOf = (staged: string): string => `${staged}.claims`;
export const claimFileName = (deploymentId: string, runId: string): string => `${runKey(deploymentId, runId)}.json`;
const CLAIM_NAME = /^[0-9a-f]{64}\.json$/;

export function claimPath(staged: string, deploymentId: string, runId: string): string {
  return path.join(claimsDirOf(staged), claimFileName(deploymentId, runId));
}

/** Claim file names on a staged file (temporary files of a claim being written do not count). */
export async function listClaims(staged: string): Promise<string[]> {
  try {
    return (await readdir(claimsDirOf(staged))).filter((n) => CLAIM_NAME.test(n)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Claims of runs other than this one. */
export async function otherClaims(staged: string, deploymentId: string, runId: string): Promise<string[]> {
  const own = claimFileName(deploymentId, runId);
  return (await listClaims(staged)).filter((n) => n !== own);
}

/** Drops this run's claim; returns its path when there was one. */
export async function dropClaim(staged: string, deploymentId: string, runId: string): Promise<string | null> {
  const claim = claimPath(staged, deploymentId, runId);
  if (!(await exists(claim))) return null;
  await rm(claim, { force: true });
  return claim;
}

/** Removes the claims directory if it is empty; a claim written meanwhile keeps it. */
export async function removeClaimsDirIfEmpty(staged: string): Promise<void> {
  try {
    await rmdir(claimsDirOf(staged));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
  }
}

// ---- backups ----------------------------------------------------------------------------------

const BACKUP_NAME = /^(\d{8}T\d{9}Z)-([0-9a-f]{64})\.(onnx|hef)$/;

/** Sortable UTC stamp with milliseconds: 20250102T030405678Z. */
export function backupStamp(at: Date): string {
  return at.toISOString().replace(/[-:.]/g, '');
}

export function backupPath(modelDir: string, sha256: string, ext: ModelExt, at: Date): string {
  return path.join(backupsDir(modelDir), `${backupStamp(at)}-${releaseFileName(sha256, ext)}`);
}

export interface ParsedBackup {
  path: string;
  stamp: string;
  sha256: string;
  ext: ModelExt;
}

/**
 * Accepts a backup path handed back by the workflow only if it names a file directly inside
 * this device's backups/ with the exact backup naming; returns the path rebuilt from its parts.
 */
export function parseBackupPath(modelDir: string, candidate: unknown): ParsedBackup | null {
  if (typeof candidate !== 'string' || path.dirname(candidate) !== backupsDir(modelDir)) return null;
  const m = BACKUP_NAME.exec(path.basename(candidate));
  if (!m) return null;
  const [, stamp, sha256, ext] = m;
  return { path: path.join(backupsDir(modelDir), `${stamp}-${sha256}.${ext}`), stamp, sha256, ext: ext as ModelExt };
}

/** The backups in backups/, newest first (by stamp). */
export async function listBackups(modelDir: string): Promise<ParsedBackup[]> {
  let names: string[];
  try {
    names = await readdir(backupsDir(modelDir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .map((n) => parseBackupPath(modelDir, path.join(backupsDir(modelDir), n)))
    .filter((b): b is ParsedBackup => b !== null)
    .sort((a, b) => (a.stamp === b.stamp ? a.path.localeCompare(b.path) : b.stamp.localeCompare(a.stamp)));
}

/** Distinct model versions (sha256) held in backups/, newest first. */
export function distinctShas(backups: readonly ParsedBackup[]): string[] {
  return [...new Set(backups.map((b) => b.sha256))];
}

async function removeBackupFile(file: string): Promise<void> {
  await rm(file, { force: true });
  for (const sidecar of sidecarsOf(file)) await rm(sidecar, { force: true });
}

/**
 * Keeps the newest `keep` distinct versions (sha256), plus every version in `protect` (the
 * backup just made; those a journal may still restore), one verified file each. Older copies of
 * a kept version (left by edgeship before one copy per sha) go; so do the versions beyond `keep`.
 * Returns the removed files.
 */
export async function pruneBackups(modelDir: string, keep: number, protect: ReadonlySet<string>): Promise<string[]> {
  const backups = await listBackups(modelDir);
  const keepShas = new Set([...distinctShas(backups).slice(0, Math.max(0, keep)), ...protect]);
  const copiesBySha = new Map<string, ParsedBackup[]>();
  for (const b of backups) copiesBySha.set(b.sha256, [...(copiesBySha.get(b.sha256) ?? []), b]);
  const removed: string[] = [];
  for (const [sha, copies] of copiesBySha) {
    const survivor = keepShas.has(sha) ? await survivingCopy(copies) : null;
    for (const c of copies) {
      if (c === survivor) continue;
      await removeBackupFile(c.path);
      removed.push(c.path);
    }
  }
  return removed;
}

/**
 * The copy of a version to keep: the newest intact one. Only duplicates (left by edgeship before
 * one copy per sha) are hashed; with no intact copy the newest stays, so that a restore from it
 * fails loudly (BackupMissing) instead of pruning hiding the damage.
 */
async function survivingCopy(copies: readonly ParsedBackup[]): Promise<ParsedBackup> {
  if (copies.length === 1) return copies[0];
  for (const c of copies) if ((await sha256File(c.path)) === c.sha256) return c;
  return copies[0];
}

// ---- the `current` link -----------------------------------------------------------------------

export interface CurrentTarget {
  link: string; // what the symlink says (relative or absolute)
  file: string; // that, resolved against the model directory
}

/** The target of `current`, or null when there is no link (a device that serves nothing). */
export async function readCurrent(modelDir: string): Promise<CurrentTarget | null> {
  const link = currentLinkPath(modelDir);
  try {
    const target = await readlink(link);
    return { link: target, file: path.resolve(modelDir, target) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'EINVAL') throw edgeFailure(ErrorType.DeviceStateCorrupt, `${link} exists but is not a symlink; refusing to touch it`);
    throw err;
  }
}


const tmpSuffix = (): string => `.tmp-${randomBytes(6).toString('hex')}`;

/**
 * Points `current` at `releases/<file>` in one atomic step: a new symlink under a temporary
 * name renamed over the old one, so the runtime never sees a missing or half-made link. The
 * link is relative, so the model directory can be moved or mounted elsewhere.
 */
export async function switchCurrent(modelDir: string, releaseFile: string): Promise<void> {
  const target = path.relative(modelDir, releaseFile);
  if (target.startsWith('..') || path.isAbsolute(target)) throw new Error(`${releaseFile} is outside ${modelDir}`);
  const tmp = path.join(modelDir, `current${tmpSuffix()}`);
  await symlink(target, tmp);
  try {
    await rename(tmp, currentLinkPath(modelDir));
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(modelDir);
}

export async function removeCurrent(modelDir: string): Promise<boolean> {
  const link = currentLinkPath(modelDir);
  try {
    const st = await lstat(link);
    if (!st.isSymbolicLink()) throw new Error(`${link} is not a symlink; refusing to remove it`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  await rm(link, { force: true });
  await fsyncDir(modelDir);
  return true;
}

// ---- files ------------------------------------------------------------------------------------

/** Streaming sha256 of a file; null when it does not exist. */
export async function sha256File(file: string): Promise<string | null> {
  const hash = createHash('sha256');
  try {
    await pipeline(createReadStream(file), hash);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return hash.digest('hex');
}

export async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}


/**
 * A real, durable copy (new inode, bytes streamed, fsynced, then renamed into place so a crash
 * never leaves a half-written file under the final name). Returns the sha256 of the bytes copied.
 */
export async function copyDurable(src: string, dest: string): Promise<string> {
  await mkdir(path.dirname(dest), { recursive: true });
  const tmp = `${dest}${tmpSuffix()}`;
  const hash = createHash('sha256');
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(createReadStream(src), tap, createWriteStream(tmp, { flags: 'wx' }));
    await fsyncFile(tmp);
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(path.dirname(dest));
  return hash.digest('hex');
}

/** Rename within the model directory (same file system), made durable. */
export async function moveDurable(src: string, dest: string): Promise<void> {
  await mkdir(path.dirname(dest), { recursive: true });
  await rename(src, dest);
  await fsyncDir(path.dirname(dest));
}

