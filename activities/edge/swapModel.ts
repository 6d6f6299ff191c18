// swapModel: backup → install → journal → atomic switch → restart → /healthz names the new sha.
//
// Retry safety rests on the journal (journal.ts): it is written before `current` moves, so a
// retry after a crash anywhere past that point reuses the backup it names instead of backing up
// the new model as "previous". A retry that finds the new model already current and served
// returns reused: true without restarting again.
import type { BackupRecord, SwapModelInput, SwapModelResult } from '../../common/contracts';
import { ErrorType } from '../../common/errors';
import type { DeviceSpec } from '../../common/inventory';
import { heartbeat } from './activityContext';
import { edgeFailure } from './failures';
import { probeHealth, servesSha, waitForServedSha } from './health';
import { newJournal, readJournal, writeJournal, type SwapJournal } from './journal';
import { checkArtifactId, journalPath, pruneBackups, readCurrent, releasePath, sha256File, switchCurrent, type CurrentTarget } from './modelDir';
import { healthTimeoutOf, resolveOptions, withModelDirLock, type EdgeActivityOptions } from './options';
import { backupCurrent, installRelease } from './releases';
import { runRestartCommand } from './restart';

/**
 * The journal of an earlier attempt of this deployment, if it still describes the device: the
 * link points either at the new release (switched) or still at what was backed up (not yet).
 * A journal of a rolled-back attempt, or one that someone else's swap has overtaken, is stale.
 */
function liveJournal(journal: SwapJournal | null, current: CurrentTarget | null, target: string): SwapJournal | null {
  if (!journal || journal.phase === 'restored') return null;
  if (current?.file === target) return journal;
  const before = journal.backup?.releasePath ?? null;
  return (current?.file ?? null) === before ? journal : null;
}

export function createSwapModel(device: DeviceSpec, options: EdgeActivityOptions = {}) {
  const opts = resolveOptions(options);
  const { modelDir, id: deviceId } = device;

  return async function swapModel(input: SwapModelInput): Promise<SwapModelResult> {
    const { deploymentId, sha256, ext } = input;
    checkArtifactId(sha256, ext);
    const healthTimeoutMs = healthTimeoutOf(input.healthTimeoutMs);
    journalPath(modelDir, deploymentId); // validates the id before anything is touched

    return withModelDirLock(modelDir, async () => {
      const target = releasePath(modelDir, sha256, ext);
      const previous = await readJournal(modelDir, deploymentId);
      if (previous && previous.sha256 !== sha256) {
        throw edgeFailure(ErrorType.InvalidRequest, `deployment ${deploymentId} already swapped this device to ${previous.sha256}; a deployment id names one model`, { journalSha256: previous.sha256 }, true);
      }
      const current = await readCurrent(modelDir);
      let journal = liveJournal(previous, current, target);

      if (journal && current?.file === target && (await sha256File(target)) === sha256) {
        const obs = await probeHealth(device.healthUrl);
        if (servesSha(obs, sha256)) {
          await writeJournal(modelDir, journal, 'healthy', opts.now());
          return { deviceId, backup: journal.backup, servedSha256Prefix: obs.sha256Prefix as string, restartMs: 0, healthyAfterMs: 0, reused: true };
        }
      }

      heartbeat({ deviceId, stage: 'swap: verifying the staged artifact' });
      // Verify and install before the backup: a bad artifact must fail before anything changes.
      await installRelease(modelDir, sha256, ext);

      let backup: BackupRecord | null;
      if (journal) {
        backup = journal.backup;
      } else {
        heartbeat({ deviceId, stage: 'swap: backing up the current model' });
        const at = opts.now();
        backup = await backupCurrent(modelDir, current, ext, at);
        journal = await writeJournal(modelDir, newJournal(deploymentId, deviceId, sha256, ext, backup, at), 'prepared', at);
        await pruneBackups(modelDir, device.keepBackups, backup ? [backup.backupPath] : []);
      }

      await switchCurrent(modelDir, target);
      journal = await writeJournal(modelDir, journal, 'switched', opts.now());

      const restart = await runRestartCommand(device.restartCommand, { timeoutMs: opts.restartTimeoutMs, deviceId });
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
      };
    });
  };
}
