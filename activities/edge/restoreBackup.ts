// restoreBackup: the compensation. Puts back exactly what swapModel backed up, restarts, and
// proves with /healthz that the device serves it again.
//
// Which backup: the one in the input (from swapModel's result) or, when the workflow never got
// that result (the swap crashed or timed out), the one in this deployment's swap journal.
// - backup found            → releases/<sha>.<ext> made intact again (from the backup copy if
//                             needed), `current` switched to it, restart, /healthz == backup sha.
// - journal with no backup  → the swap was a first install: `current` removed, restart, and the
//                             runtime must answer that it serves nothing.
// - neither                 → no journal means the swap never reached the switch (the journal
//                             is written before it), so nothing of this deployment went live:
//                             `current` is left alone (removing it would take down the model the
//                             device served all along) and what is served is reported.
// Running it twice is cheap: when the device already serves the backup, it does not restart.
import type { RestoreBackupInput, RestoreBackupResult } from '../../common/contracts';
import { ErrorType } from '../../common/errors';
import type { DeviceSpec } from '../../common/inventory';
import { heartbeat } from './activityContext';
import { edgeFailure } from './failures';
import { probeHealth, servesSha, waitForNoModel, waitForServedSha } from './health';
import { readJournal, writeJournal, type SwapJournal } from './journal';
import { journalPath, parseBackupPath, readCurrent, removeCurrent, sha256File, switchCurrent, type ParsedBackup } from './modelDir';
import { healthTimeoutOf, resolveOptions, withModelDirLock, type EdgeActivityOptions } from './options';
import { reinstateBackup } from './releases';
import { runRestartCommand } from './restart';

export function createRestoreBackup(device: DeviceSpec, options: EdgeActivityOptions = {}) {
  const opts = resolveOptions(options);
  const { modelDir, id: deviceId } = device;

  function parseBackup(backup: NonNullable<RestoreBackupInput['backup']>, source: string): ParsedBackup {
    const parsed = parseBackupPath(modelDir, backup.backupPath);
    if (!parsed || parsed.sha256 !== backup.sha256) {
      throw edgeFailure(ErrorType.InvalidRequest, `${source} backup ${JSON.stringify(backup.backupPath)} is not a backup of ${backup.sha256} in ${modelDir}/backups`, { backup }, true);
    }
    return parsed;
  }

  async function markRestored(journal: SwapJournal | null): Promise<void> {
    if (journal) await writeJournal(modelDir, journal, 'restored', opts.now());
  }

  return async function restoreBackup(input: RestoreBackupInput): Promise<RestoreBackupResult> {
    const start = performance.now();
    const healthTimeoutMs = healthTimeoutOf(input.healthTimeoutMs);
    journalPath(modelDir, input.deploymentId); // validates the id
    const elapsed = (): number => Math.round(performance.now() - start);
    const wait = { healthUrl: device.healthUrl, timeoutMs: healthTimeoutMs, pollIntervalMs: opts.pollIntervalMs, deviceId };
    const restart = (): Promise<unknown> => runRestartCommand(device.restartCommand, { timeoutMs: opts.restartTimeoutMs, deviceId });

    return withModelDirLock(modelDir, async () => {
      const journal = await readJournal(modelDir, input.deploymentId);
      const backup = input.backup ? parseBackup(input.backup, 'the requested') : journal?.backup ? parseBackup(journal.backup, 'the journaled') : null;

      if (backup) {
        heartbeat({ deviceId, stage: 'restore: reinstating the backup', sha256: backup.sha256 });
        const release = await reinstateBackup(modelDir, backup);
        const current = await readCurrent(modelDir);
        if (current?.file === release && servesSha(await probeHealth(device.healthUrl), backup.sha256)) {
          await markRestored(journal);
          return { deviceId, restoredSha256: backup.sha256, servedSha256Prefix: backup.sha256.slice(0, 16), durationMs: elapsed() };
        }
        await switchCurrent(modelDir, release);
        await restart();
        const healthy = await waitForServedSha({ ...wait, sha256: backup.sha256 });
        await markRestored(journal);
        return { deviceId, restoredSha256: backup.sha256, servedSha256Prefix: healthy.observation.sha256Prefix, durationMs: elapsed() };
      }

      if (journal) {
        heartbeat({ deviceId, stage: 'restore: removing the first install' });
        const removed = await removeCurrent(modelDir);
        const obs = await probeHealth(device.healthUrl);
        if (removed || obs.status === null || obs.healthy) {
          await restart();
          await waitForNoModel(wait);
        }
        await markRestored(journal);
        return { deviceId, restoredSha256: null, servedSha256Prefix: null, durationMs: elapsed() };
      }

      // Nothing of this deployment went live: report what the device serves, change nothing.
      const current = await readCurrent(modelDir);
      const sha = current ? await sha256File(current.file) : null;
      const obs = await probeHealth(device.healthUrl);
      return { deviceId, restoredSha256: sha, servedSha256Prefix: obs.healthy ? obs.sha256Prefix : null, durationMs: elapsed() };
    });
  };
}
