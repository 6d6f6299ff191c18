// restoreBackup: the compensation of one deployment run. It undoes only what that run did:
// the run's own swap journal must say it switched `current`, and `current` must still point at
// that run's release. Then it puts back exactly what the run backed up, restarts, and proves with
// /healthz that the device serves it again. In every other case the device is left alone:
// - no journal of this run, or one still `prepared` → nothing-switched: the journal is written
//   before the switch, so nothing of this run ever went live;
// - `current` points at another release → superseded: another deployment swapped since, and a
//   rollback must never undo its work (it restores only what its own run replaced);
// - the journal is `restored` → already-restored: an earlier attempt finished (the release is
//   made intact again if needed, and a restart happens only if /healthz does not name it).
// The restore journals `restoring` before it moves `current`, so a restore that stopped halfway
// (current already back on the backup) is finished, while the same state reached by another
// deployment swapping that version back in is superseded.
// A swap that was a first install (journal backup null) is undone by removing `current` and
// requiring the runtime to answer that it serves nothing.
import type { BackupRecord, RestoreBackupInput, RestoreBackupResult, RestoreOutcome } from '../../common/contracts';
import { ErrorType } from '../../common/errors';
import type { EdgeDevice } from './device';
import { heartbeat } from './activityContext';
import { edgeFailure } from './failures';
import { probeHealth, servesSha, waitForNoModel, waitForServedSha, type HealthObservation } from './health';
import { journalRelease, readJournal, writeJournal, type SwapJournal } from './journal';
import { checkRun, parseBackupPath, readCurrent, removeCurrent, sha256File, switchCurrent, type CurrentTarget, type ParsedBackup } from './modelDir';
import { healthTimeoutOf, resolveOptions, withModelDirLock, type EdgeActivityOptions } from './options';
import { reinstateBackup } from './releases';
import { restartRuntime } from './restart';

const sameBackup = (a: BackupRecord | null, b: BackupRecord | null): boolean =>
  a === b || (a !== null && b !== null && a.sha256 === b.sha256 && a.backupPath === b.backupPath && a.releasePath === b.releasePath);

export function createRestoreBackup(device: EdgeDevice, options: EdgeActivityOptions = {}) {
  const opts = resolveOptions(options);
  const { modelDir, id: deviceId } = device;

  function parseBackup(backup: BackupRecord, source: string): ParsedBackup {
    const parsed = parseBackupPath(modelDir, backup.backupPath);
    if (!parsed || parsed.sha256 !== backup.sha256) {
      throw edgeFailure(ErrorType.InvalidRequest, `${source} backup ${JSON.stringify(backup.backupPath)} is not a backup of ${backup.sha256} in ${modelDir}/backups`, { backup }, true);
    }
    return parsed;
  }

  /** The input backup must be the one this run's journal recorded: a restore never picks its own. */
  function checkInputBackup(input: RestoreBackupInput, journal: SwapJournal | null): void {
    if (!input.backup) return;
    parseBackup(input.backup, 'the requested');
    if (journal && !sameBackup(input.backup, journal.backup)) {
      throw edgeFailure(ErrorType.InvalidRequest, `the requested backup ${input.backup.backupPath} is not the one run ${journal.runId} journaled (${journal.backup?.backupPath ?? 'none: a first install'})`, { requested: input.backup, journaled: journal.backup }, true);
    }
  }

  return async function restoreBackup(input: RestoreBackupInput): Promise<RestoreBackupResult> {
    const start = performance.now();
    const healthTimeoutMs = healthTimeoutOf(input.healthTimeoutMs);
    checkRun(input.deploymentId, input.runId);
    const elapsed = (): number => Math.round(performance.now() - start);
    const wait = { healthUrl: device.healthUrl, timeoutMs: healthTimeoutMs, pollIntervalMs: opts.pollIntervalMs, deviceId };
    const restart = (): Promise<unknown> => restartRuntime(device.restartCommand, { timeoutMs: opts.restartTimeoutMs, deviceId });
    const done = (outcome: RestoreOutcome, restoredSha256: string | null, servedSha256Prefix: string | null, reason?: string): RestoreBackupResult =>
      ({ deviceId, outcome, ...(reason ? { reason } : {}), restoredSha256, servedSha256Prefix, durationMs: elapsed() });

    /** Leaves the device alone and reports what it serves now. */
    async function untouched(outcome: RestoreOutcome, current: CurrentTarget | null, reason: string): Promise<RestoreBackupResult> {
      const sha = current ? await sha256File(current.file) : null;
      const obs = await probeHealth(device.healthUrl);
      return done(outcome, sha, obs.healthy ? obs.sha256Prefix : null, reason);
    }

    /**
     * Backup sha current again and proven by /healthz; restarts only when it is not served yet.
     * The journal says `restoring` before `current` moves, unless the restore had finished.
     */
    async function serveBackup(backup: ParsedBackup, journal: SwapJournal, outcome: RestoreOutcome): Promise<RestoreBackupResult> {
      heartbeat({ deviceId, stage: 'restore: reinstating the backup', sha256: backup.sha256 });
      const release = await reinstateBackup(modelDir, backup);
      const current = await readCurrent(modelDir);
      const obs = await probeHealth(device.healthUrl);
      if (current?.file === release && servesSha(obs, backup.sha256)) {
        await writeJournal(modelDir, journal, 'restored', opts.now());
        return done(outcome, backup.sha256, obs.sha256Prefix);
      }
      if (journal.phase !== 'restored') journal = await writeJournal(modelDir, journal, 'restoring', opts.now());
      if (current?.file !== release) await switchCurrent(modelDir, release);
      await restart();
      const healthy = await waitForServedSha({ ...wait, sha256: backup.sha256 });
      await writeJournal(modelDir, journal, 'restored', opts.now());
      return done(outcome, backup.sha256, healthy.observation.sha256Prefix);
    }

    /** Undoes a first install: no `current`, and the runtime answers that it serves nothing. */
    async function serveNothing(journal: SwapJournal, outcome: RestoreOutcome): Promise<RestoreBackupResult> {
      heartbeat({ deviceId, stage: 'restore: removing the first install' });
      if (journal.phase !== 'restored') journal = await writeJournal(modelDir, journal, 'restoring', opts.now());
      const removed = await removeCurrent(modelDir);
      const obs: HealthObservation = await probeHealth(device.healthUrl);
      if (removed || obs.status === null || obs.healthy) {
        await restart();
        await waitForNoModel(wait);
      }
      await writeJournal(modelDir, journal, 'restored', opts.now());
      return done(outcome, null, null);
    }

    async function undo(journal: SwapJournal): Promise<RestoreBackupResult> {
      const outcome: RestoreOutcome = journal.phase === 'restored' ? 'already-restored' : journal.backup ? 'restored' : 'first-install-removed';
      return journal.backup ? serveBackup(parseBackup(journal.backup, 'the journaled'), journal, outcome) : serveNothing(journal, outcome);
    }

    /** The decision: undo this run's swap, or leave the device alone (and say why). */
    async function decide(journal: SwapJournal | null, current: CurrentTarget | null, run: string): Promise<RestoreBackupResult> {
      if (!journal) {
        return untouched('nothing-switched', current, `${run} has no swap journal on this device: its swap never reached the switch, nothing of it went live`);
      }
      const at = current?.file ?? null;
      const own = journalRelease(modelDir, journal);
      const before = journal.backup?.releasePath ?? null;
      switch (journal.phase) {
        case 'prepared':
          // The switch and the journal's `switched` are two steps: a worker killed between them
          // leaves `prepared` with `current` already on this run's release. The device's lease
          // (one deployment at a time) means nobody else put it there.
          if (at === own && own !== before) return undo(journal);
          return untouched('nothing-switched', current, `${run} journaled its backup but never switched \`current\`: nothing of it went live`);
        case 'restored':
          // Finished earlier: re-proven only while the device still holds what that restore left.
          return at === before ? undo(journal) : untouched('already-restored', current, `${run} was restored earlier; the device has changed since (another deployment), left alone`);
        case 'restoring':
          // This restore stopped halfway: `current` is on this run's release or already back.
          if (at === own || at === before) return undo(journal);
          break;
        default: // switched, restarted, healthy: this run may have put its model live
          if (at === own) return undo(journal);
      }
      return untouched('superseded', current, `\`current\` points at ${current ? current.link : 'nothing'}, not at ${run}'s release ${journal.sha256.slice(0, 16)}: another deployment swapped since; left alone`);
    }

    return withModelDirLock(modelDir, async () => {
      const journal = await readJournal(modelDir, input.deploymentId, input.runId);
      checkInputBackup(input, journal);
      return decide(journal, await readCurrent(modelDir), `run ${input.runId} of ${input.deploymentId}`);
    });
  };
}
