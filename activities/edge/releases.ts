// Moving model files between staging/, releases/ and backups/, each step verified by sha256
// (names are never trusted) and safe to repeat after a crash at any point.
import { rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { BackupRecord, DeploymentRun } from '../../common/contracts';
import { ErrorType } from '../../common/errors';
import { readModelMetadata } from '../../edge/metadata';
import { edgeFailure } from './failures';
import {
  backupPath, copyDurable, dropClaim, exists, isModelExt, listBackups, metaPathOf, moveDurable, otherClaims, releasePath,
  removeClaimsDirIfEmpty, sha256File, stagedPath, type CurrentTarget, type ModelExt, type ParsedBackup,
} from './modelDir';

/** Null when the file is missing; throws when its metadata is malformed or names another sha. */
async function checkMetadata(file: string, sha256: string): Promise<'ok' | null> {
  if (!(await exists(file))) return null;
  let meta;
  try {
    meta = await readModelMetadata(file);
  } catch (err) {
    throw edgeFailure(ErrorType.InvalidRequest, (err as Error).message, { file }, true);
  }
  if (meta.sha256 !== sha256) {
    throw edgeFailure(ErrorType.ArtifactShaMismatch, `${file} describes sha256 ${meta.sha256}, expected ${sha256}`, { file, expected: sha256, actual: meta.sha256 }, true);
  }
  return 'ok';
}

export interface InstallResult {
  release: string;
  from: 'staging' | 'already-installed';
  /** The staged copy was kept because other runs still claim it. */
  keptForOtherRuns: boolean;
}

/** Moves a staged file into place, or copies it when another run still needs the staged one. */
/** Whether this process owns the file: on a packaged device the deploy user uploads, the service installs. */
async function ownedByThisProcess(file: string): Promise<boolean> {
  const uid = process.getuid?.();
  return uid === undefined || (await stat(file)).uid === uid;
}

async function placeStaged(staged: string, dest: string, keepStaged: boolean, sha256?: string): Promise<void> {
  // A file the SFTP deploy user uploaded is copied, not renamed: renamed, the live release would
  // still belong to that user, who could chmod and rewrite it. The copy is ours; the upload goes.
  if (!keepStaged && (await ownedByThisProcess(staged))) {
    await moveDurable(staged, dest);
    return;
  }
  const copied = await copyDurable(staged, dest);
  if (sha256 !== undefined && copied !== sha256) throw new Error(`${staged} changed while it was installed; retry`);
  if (!keepStaged) await rm(staged, { force: true });
}

/**
 * Puts the staged artifact at releases/<sha>.<ext> (+ metadata): by rename, or by a verified
 * copy when other deployment runs still claim the staged file (they will swap or discard it
 * themselves). A release that is already there with the right bytes is kept (a redeploy, or a
 * retry after the rename), and the then redundant staged copy is dropped unless claimed. This
 * run's claim goes once the release is in place.
 */
export async function installRelease(modelDir: string, sha256: string, ext: ModelExt, run: DeploymentRun): Promise<InstallResult> {
  const release = releasePath(modelDir, sha256, ext);
  const staged = stagedPath(modelDir, sha256, ext);
  const releaseOk = (await sha256File(release)) === sha256;
  if (!releaseOk) {
    const stagedSha = await sha256File(staged);
    if (stagedSha === null) {
      throw edgeFailure(ErrorType.ArtifactNotStaged, `${staged} is not on the device (and no intact ${path.basename(release)} is installed): push the artifact first`, { staged, release }, true);
    }
    if (stagedSha !== sha256) {
      throw edgeFailure(ErrorType.ArtifactShaMismatch, `${staged} has sha256 ${stagedSha}, expected ${sha256}: push it again`, { staged, expected: sha256, actual: stagedSha }, true);
    }
  }
  const keepStaged = (await otherClaims(staged, run.deploymentId, run.runId)).length > 0;
  // Metadata first: the runtime reads `<model>.meta.json` next to whatever `current` names.
  const stagedMeta = await checkMetadata(metaPathOf(staged), sha256);
  if (stagedMeta) {
    await placeStaged(metaPathOf(staged), metaPathOf(release), keepStaged);
  } else if (!(await checkMetadata(metaPathOf(release), sha256))) {
    throw edgeFailure(ErrorType.ArtifactNotStaged, `${metaPathOf(staged)} is missing: push the artifact with its metadata`, { staged }, true);
  }
  if (releaseOk) {
    if (!keepStaged) await rm(staged, { force: true });
  } else {
    await placeStaged(staged, release, keepStaged, sha256);
  }
  await dropClaim(staged, run.deploymentId, run.runId);
  if (!keepStaged) await removeClaimsDirIfEmpty(staged);
  return { release, from: releaseOk ? 'already-installed' : 'staging', keptForOtherRuns: keepStaged };
}

/**
 * A real copy of what `current` serves (and its metadata) into backups/, named by the sha of the
 * bytes actually copied. Null when nothing is served (no link, or a link to a missing file).
 * One file per version: an intact backup of the same sha is renamed to the new stamp (it counts
 * as the newest version now) instead of being copied again; other copies of that sha go.
 */
export async function backupCurrent(modelDir: string, current: CurrentTarget | null, fallbackExt: ModelExt, at: Date): Promise<BackupRecord | null> {
  if (!current || !(await exists(current.file))) return null;
  const ext = path.extname(current.file).slice(1);
  const backupExt = isModelExt(ext) ? ext : fallbackExt;
  const sha256 = await sha256File(current.file);
  if (sha256 === null) return null;
  const dest = backupPath(modelDir, sha256, backupExt, at);
  const earlier = (await listBackups(modelDir)).filter((b) => b.sha256 === sha256 && b.path !== dest);
  let reused = (await sha256File(dest)) === sha256;
  for (const b of earlier) {
    if (!reused && (await sha256File(b.path)) === sha256) {
      await moveDurable(b.path, dest);
      reused = true;
    } else {
      await rm(b.path, { force: true });
    }
    await rm(metaPathOf(b.path), { force: true });
  }
  if (!reused) {
    const copied = await copyDurable(current.file, dest);
    if (copied !== sha256) {
      // The file changed while we copied it: a backup that matches neither version is no backup.
      await rm(dest, { force: true });
      throw new Error(`${current.file} changed during the backup copy; retry`);
    }
  }
  if (await exists(metaPathOf(current.file))) await copyDurable(metaPathOf(current.file), metaPathOf(dest));
  return { sha256, backupPath: dest, releasePath: current.file };
}

/**
 * The backup file to restore from: the one named, or, when a later backup of the same version
 * renamed or replaced it (one file per sha), the intact copy of that sha that is there now.
 */
async function backupSource(modelDir: string, backup: ParsedBackup): Promise<{ path: string; sha: string | null }> {
  const named = await sha256File(backup.path);
  if (named !== null) return { path: backup.path, sha: named };
  for (const b of await listBackups(modelDir)) {
    if (b.sha256 === backup.sha256 && (await sha256File(b.path)) === backup.sha256) return { path: b.path, sha: backup.sha256 };
  }
  return { path: backup.path, sha: null };
}

/**
 * Makes releases/<sha>.<ext> hold the backed-up model again: kept if intact, otherwise copied
 * back from the backup (verified). The backup missing or corrupt is final: BackupMissing.
 */
export async function reinstateBackup(modelDir: string, backup: ParsedBackup): Promise<string> {
  const release = releasePath(modelDir, backup.sha256, backup.ext);
  let source = backup.path;
  if ((await sha256File(release)) !== backup.sha256) {
    const found = await backupSource(modelDir, backup);
    source = found.path;
    if (found.sha === null) {
      throw edgeFailure(ErrorType.BackupMissing, `backup ${backup.path} is gone and ${release} does not hold ${backup.sha256}: nothing to restore from`, { backupPath: backup.path, release }, true);
    }
    if (found.sha !== backup.sha256) {
      throw edgeFailure(ErrorType.BackupMissing, `backup ${backup.path} is corrupt (sha256 ${found.sha}, expected ${backup.sha256})`, { backupPath: backup.path, actual: found.sha }, true);
    }
    const copied = await copyDurable(source, release);
    if (copied !== backup.sha256) throw new Error(`${source} changed while it was restored; retry`);
  }
  const metaOk = await checkMetadata(metaPathOf(release), backup.sha256).catch(() => null);
  if (!metaOk) {
    const from = (await exists(metaPathOf(source))) ? source : (await backupSource(modelDir, backup)).path;
    if (await exists(metaPathOf(from))) await copyDurable(metaPathOf(from), metaPathOf(release));
  }
  return release;
}
