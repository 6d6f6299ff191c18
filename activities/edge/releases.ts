// Moving model files between staging/, releases/ and backups/, each step verified by sha256
// (names are never trusted) and safe to repeat after a crash at any point.
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import type { BackupRecord } from '../../common/contracts';
import { ErrorType } from '../../common/errors';
import { readModelMetadata } from '../../edge/metadata';
import { edgeFailure } from './failures';
import {
  backupPath, copyDurable, exists, isModelExt, metaPathOf, moveDurable, releasePath, sha256File, stagedPath,
  type CurrentTarget, type ModelExt, type ParsedBackup,
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
}

/**
 * Puts the staged artifact at releases/<sha>.<ext> (+ metadata) by rename. A release that is
 * already there with the right bytes is kept (a redeploy, or a retry after the rename), and the
 * now redundant staged copy is dropped.
 */
export async function installRelease(modelDir: string, sha256: string, ext: ModelExt): Promise<InstallResult> {
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
  // Metadata first: the runtime reads `<model>.meta.json` next to whatever `current` names.
  const stagedMeta = await checkMetadata(metaPathOf(staged), sha256);
  if (stagedMeta) {
    await moveDurable(metaPathOf(staged), metaPathOf(release));
  } else if (!(await checkMetadata(metaPathOf(release), sha256))) {
    throw edgeFailure(ErrorType.ArtifactNotStaged, `${metaPathOf(staged)} is missing: push the artifact with its metadata`, { staged }, true);
  }
  if (releaseOk) {
    await rm(staged, { force: true });
    return { release, from: 'already-installed' };
  }
  await moveDurable(staged, release);
  return { release, from: 'staging' };
}

/**
 * A real copy of what `current` serves (and its metadata) into backups/, named by the sha of the
 * bytes actually copied. Null when nothing is served (no link, or a link to a missing file).
 */
export async function backupCurrent(modelDir: string, current: CurrentTarget | null, fallbackExt: ModelExt, at: Date): Promise<BackupRecord | null> {
  if (!current || !(await exists(current.file))) return null;
  const ext = path.extname(current.file).slice(1);
  const backupExt = isModelExt(ext) ? ext : fallbackExt;
  const sha256 = await sha256File(current.file);
  if (sha256 === null) return null;
  const dest = backupPath(modelDir, sha256, backupExt, at);
  const copied = await copyDurable(current.file, dest);
  if (copied !== sha256) {
    // The file changed while we copied it: a backup that matches neither version is no backup.
    await rm(dest, { force: true });
    throw new Error(`${current.file} changed during the backup copy; retry`);
  }
  if (await exists(metaPathOf(current.file))) await copyDurable(metaPathOf(current.file), metaPathOf(dest));
  return { sha256, backupPath: dest, releasePath: current.file };
}

/**
 * Makes releases/<sha>.<ext> hold the backed-up model again: kept if intact, otherwise copied
 * back from the backup (verified). The backup missing or corrupt is final: BackupMissing.
 */
export async function reinstateBackup(modelDir: string, backup: ParsedBackup): Promise<string> {
  const release = releasePath(modelDir, backup.sha256, backup.ext);
  if ((await sha256File(release)) !== backup.sha256) {
    const backupSha = await sha256File(backup.path);
    if (backupSha === null) {
      throw edgeFailure(ErrorType.BackupMissing, `backup ${backup.path} is gone and ${release} does not hold ${backup.sha256}: nothing to restore from`, { backupPath: backup.path, release }, true);
    }
    if (backupSha !== backup.sha256) {
      throw edgeFailure(ErrorType.BackupMissing, `backup ${backup.path} is corrupt (sha256 ${backupSha}, expected ${backup.sha256})`, { backupPath: backup.path, actual: backupSha }, true);
    }
    const copied = await copyDurable(backup.path, release);
    if (copied !== backup.sha256) throw new Error(`${backup.path} changed while it was restored; retry`);
  }
  const metaOk = await checkMetadata(metaPathOf(release), backup.sha256).catch(() => null);
  if (!metaOk && (await exists(metaPathOf(backup.path)))) await copyDurable(metaPathOf(backup.path), metaPathOf(release));
  return release;
}
