// swapModel: install → backup → journal → atomic switch → restart → /healthz names the new sha.
//
// Retry safety rests on the run's journal (journal.ts): it is written before `current` moves, so
// a retry after a crash anywhere past that point reuses the backup it names instead of backing
// up the new model as "previous". A retry that finds the new model already current and served
// returns reused: true without restarting again. The journal belongs to one deployment run: a
// re-run of the same workflow id starts its own swap (and backs up what the device serves now).
//
// Every ApplicationFailure thrown carries `switched` in its details (SwapFailureDetails): false
// means `current` still names what it named before this run, so there is nothing to undo.
import { ApplicationFailure, TemporalFailure } from '@temporalio/common';
import type { BackupRecord, SwapFailureDetails, SwapModelInput, SwapModelResult } from '../../common/contracts';
import { ErrorType } from '../../common/errors';
import type { EdgeDevice } from './device';
import { heartbeat } from './activityContext';
import { edgeFailure } from './failures';
import { probeHealth, servesSha, waitForServedSha } from './health';
import { backupsInUse, journalRelease, newJournal, readJournal, scanJournals, writeJournal, type SwapJournal } from './journal';
import { checkArtifactId, checkRun, distinctShas, listBackups, pruneBackups, readCurrent, releasePath, sha256File, switchCurrent, type CurrentTarget } from './modelDir';
import { healthTimeoutOf, resolveOptions, withModelDirLock, type EdgeActivityOptions } from './options';
import { backupCurrent, installRelease } from './releases';
import { restartRuntime } from './restart';

/**
 * The journal of an earlier attempt of this run, if it still describes the device: the link
 * points either at the new release (switched) or still at what was backed up (not yet).
 * A journal of a rolled-back attempt (or one being rolled back), or one that someone else's swap
 * has overtaken, is stale.
 */
function liveJournal(journal: SwapJournal | null, current: CurrentTarget | null, target: string): SwapJournal | null {
  if (!journal || journal.phase === 'restored' || journal.phase === 'restoring') return null;
  if (current?.file === target) return journal;
  const before = journal.backup?.releasePath ?? null;
  return (current?.file ?? null) === before ? journal : null;
}

/** Whether `current` names the release this run's journal switched to (and not what it backed up). */
function switchedBy(modelDir: string, journal: SwapJournal | null, current: CurrentTarget | null): boolean {
  if (!journal || journal.phase === 'restored') return false;
  const release = journalRelease(modelDir, journal);
  return current?.file === release && journal.backup?.releasePath !== release;
}

/** Re-throws `err` as an ApplicationFailure whose details say whether `current` was switched. */
function withSwitched(err: unknown, switched: boolean): unknown {
  if (err instanceof ApplicationFailure) {
    const first = err.details?.[0];
    const details: SwapFailureDetails = { ...(first && typeof first === 'object' ? first : {}), switched };
    return ApplicationFailure.create({ type: err.type ?? undefined, message: err.message, nonRetryable: err.nonRetryable === true, details: [details, ...(err.details?.slice(1) ?? [])], cause: err.cause, nextRetryDelay: err.nextRetryDelay ?? undefined });
  }
  // Cancellation and other Temporal failures keep their meaning. A plain error (I/O) keeps the
  // type the SDK would give it (its name) and stays retryable, but now says what state the
  // device is in.
  if (err instanceof TemporalFailure || !(err instanceof Error)) return err;
  return ApplicationFailure.create({ type: err.name, message: err.message, nonRetryable: false, details: [{ switched } satisfies SwapFailureDetails], cause: err });
}

export function createSwapModel(device: EdgeDevice, options: EdgeActivityOptions = {}) {
  const opts = resolveOptions(options);
  const { modelDir, id: deviceId } = device;

  /** Backups this swap may drop: beyond keepBackups distinct versions, and not in use. */
  async function prune(current: CurrentTarget | null, justMade: BackupRecord | null): Promise<string[]> {
    const inUse = backupsInUse(modelDir, await scanJournals(modelDir), current?.file ?? null);
    if (justMade) inUse.add(justMade.sha256);
    return pruneBackups(modelDir, device.keepBackups, inUse);
  }

  const backupsOnDevice = async (): Promise<string[]> => distinctShas(await listBackups(modelDir));

  async function swap(input: SwapModelInput, healthTimeoutMs: number, state: { switched: boolean }): Promise<SwapModelResult> {
    const { deploymentId, runId, sha256, ext } = input;
    const run = { deploymentId, runId };
    const target = releasePath(modelDir, sha256, ext);
    const previous = await readJournal(modelDir, deploymentId, runId);
    const current = await readCurrent(modelDir);
    // An earlier attempt of this run may have switched already: then so has this one.
    state.switched = switchedBy(modelDir, previous, current);
    if (previous && previous.sha256 !== sha256) {
      throw edgeFailure(ErrorType.InvalidRequest, `run ${runId} of deployment ${deploymentId} already swapped this device to ${previous.sha256}; a deployment run names one model`, { journalSha256: previous.sha256 }, true);
    }
    let journal = liveJournal(previous, current, target);

    if (journal && current?.file === target && (await sha256File(target)) === sha256) {
      const obs = await probeHealth(device.healthUrl);
      if (servesSha(obs, sha256)) {
        await writeJournal(modelDir, journal, 'healthy', opts.now());
        return { deviceId, backup: journal.backup, servedSha256Prefix: obs.sha256Prefix as string, restartMs: 0, healthyAfterMs: 0, reused: true, backupsOnDevice: await backupsOnDevice() };
      }
    }

    heartbeat({ deviceId, stage: 'swap: verifying the staged artifact' });
    // Verify and install before the backup: a bad artifact must fail before anything changes.
    await installRelease(modelDir, sha256, ext, run);

    let backup: BackupRecord | null;
    if (journal) {
      backup = journal.backup;
    } else {
      heartbeat({ deviceId, stage: 'swap: backing up the current model' });
      const at = opts.now();
      backup = await backupCurrent(modelDir, current, ext, at);
      journal = await writeJournal(modelDir, newJournal(run, deviceId, sha256, ext, backup, at), 'prepared', at);
      await prune(current, backup);
    }

    await switchCurrent(modelDir, target);
    state.switched = true;
    journal = await writeJournal(modelDir, journal, 'switched', opts.now());

    const restart = await restartRuntime(device.restartCommand, { timeoutMs: opts.restartTimeoutMs, deviceId });
    journal = await writeJournal(modelDir, journal, 'restarted', opts.now());

    const healthy = await waitForServedSha({ healthUrl: device.healthUrl, sha256, timeoutMs: healthTimeoutMs, pollIntervalMs: opts.pollIntervalMs, deviceId });
    await writeJournal(modelDir, journal, 'healthy', opts.now());
    return {
      deviceId,
      backup,
      servedSha256Prefix: healthy.observation.sha256Prefix as string,
      restartMs: restart.durationMs,
      healthyAfterMs: healthy.waitedMs,
      reused: false,
      backupsOnDevice: await backupsOnDevice(),
    };
  }

  return async function swapModel(input: SwapModelInput): Promise<SwapModelResult> {
    const state = { switched: false };
    try {
      checkArtifactId(input.sha256, input.ext);
      checkRun(input.deploymentId, input.runId); // before anything is touched
      const healthTimeoutMs = healthTimeoutOf(input.healthTimeoutMs);
      return await withModelDirLock(modelDir, () => swap(input, healthTimeoutMs, state));
    } catch (err) {
      throw withSwitched(err, state.switched);
    }
  };
}
