// deviceRollout: one device's part of a fleet rollout (child of a rolloutWave). deploy: is the
// device's edge worker there at all → stage → swap → validate → soak; any failure undoes what
// this run did to the device (discard the staged copy, or restore the backup) before it returns.
// catch-up: the same, after waiting (until the rollout's deadline) for the worker to come back.
// revert: puts back the backup this run's swap journal names. The child always returns a result
// the wave can count; it fails only on a bug. The device journals stay keyed by the parent
// deployment's id and run id, so the parent's revert and this child's restore are one journal.
import {
  CancellationScope,
  defineQuery,
  isCancellation,
  patched,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { ErrorType } from '../../common/errors';
import type { BackupRecord } from '../../common/contracts';
import type { DeviceRolloutInput, DeviceRolloutResult, DeviceRolloutStep } from '../../common/rollout';
import { SA_DEVICES, SA_MODEL, SA_SHA, SA_STAGE, SA_STATUS } from '../../common/searchAttributes';
import { MESSAGE_NAMES } from '../../common/workflowNames';
import { escapeText } from '../escapeText';
import { summarizeFailure } from '../failures';
import { isoAt, nowMs } from '../clock';
import { UNTIL_STOPPED, discardStaged, probeDevice, pushToDevice, restoreDevice, soakDevice, swapDevice, validateDevice, type DeviceAt, type StepFailed } from '../device/lifecycle';
import { validationFigures } from '../device/stepMeaning';
import { closeDeviceRollout } from './closeFailed';
import { SEARCH_ATTRIBUTES_AT_START_PATCH } from './searchAttributesAtStart';

export const deviceRolloutStatusQuery = defineQuery<DeviceRolloutResult & { step?: DeviceRolloutStep | 'done' }>(MESSAGE_NAMES.deviceRollout.deviceRolloutStatusQuery);

/** A failed step, carried to the one place that undoes the device (cancellations included). */
const failedAt = (at: DeviceRolloutStep, failed: StepFailed): Error => Object.assign(new Error(at), { cause: failed.error, at, failed });

/** Started by a wave whose code is 1 or later (common/rollout.ts DEVICE_ROLLOUT_CODE): no patch marker decides. */
const startedWithCode1 = (input: DeviceRolloutInput): boolean => (input.code ?? 0) >= 1;

export async function deviceRollout(input: DeviceRolloutInput): Promise<DeviceRolloutResult> {
  return closeDeviceRollout(await rollOutDevice(input), startedWithCode1(input));
}

async function rollOutDevice(input: DeviceRolloutInput): Promise<DeviceRolloutResult> {
  const { deviceId, mode, artifact, edge } = input;
  const run = { deploymentId: input.deploymentId, runId: input.runId };
  const sha256 = artifact.sha256;
  const result: DeviceRolloutResult = { deviceId, mode, wave: input.wave, outcome: 'failed', startedAt: isoAt(nowMs()), finishedAt: '' };
  let step: DeviceRolloutStep | 'done' = mode === 'revert' ? 'restore' : 'probe';
  setHandler(deviceRolloutStatusQuery, () => ({ ...result, step }));
  // The wave sets device, model, sha and status at the child's start; from then on only the final
  // status (and where a failure happened) is upserted: the filters an operator uses. Every upsert
  // is a history event and a visibility write; the step lives in the details and the query.
  const attributesAtStart = startedWithCode1(input) || patched(SEARCH_ATTRIBUTES_AT_START_PATCH);
  // (A child started by a wave that predates the patch has none: it sets them itself.)
  if (!attributesAtStart || workflowInfo().typedSearchAttributes.get(SA_DEVICES) === undefined) {
    upsertSearchAttributes([
      { key: SA_DEVICES, value: [deviceId] },
      { key: SA_MODEL, value: input.modelName },
      { key: SA_SHA, value: sha256 },
      { key: SA_STATUS, value: 'running' },
      { key: SA_STAGE, value: step },
    ]);
  }
  const stepNow = (): DeviceRolloutStep | undefined => (step === 'done' ? undefined : step);
  const enter = (next: DeviceRolloutStep): void => {
    step = next;
    if (!attributesAtStart) upsertSearchAttributes([{ key: SA_STAGE, value: next }]);
    setCurrentDetails(`**${escapeText(deviceId)}** · ${mode} · ${next} · ${escapeText(input.wave)} of ${escapeText(input.deploymentId)}`);
  };
  const finish = (): DeviceRolloutResult => {
    step = 'done';
    result.finishedAt = isoAt(nowMs());
    upsertSearchAttributes([{ key: SA_STATUS, value: result.outcome }, { key: SA_STAGE, value: attributesAtStart ? (result.failedStep ?? 'done') : 'done' }]);
    setCurrentDetails(`**${escapeText(deviceId)}** · ${result.outcome}${result.failedStep ? ` at ${result.failedStep}` : ''}${result.error ? `: ${escapeText(result.error.message)}` : ''}`);
    return result;
  };
  const fail = (at: DeviceRolloutStep, failed: StepFailed): void => {
    result.failedStep = at;
    result.error = { type: failed.failure.type, message: failed.failure.message };
  };
  const device: DeviceAt = { deviceId, run, edge };

  /** Puts back `backup` (null: the one this run's swap journal names); the result notes what the restore found. */
  const restore = async (backup: BackupRecord | null): Promise<StepFailed | undefined> => {
    const restored = await restoreDevice(device, backup, 'patient');
    if (!restored.ok) return restored;
    result.restore = restored.result;
    result.servedSha256Prefix = restored.result.servedSha256Prefix;
    return undefined;
  };

  if (mode === 'revert') {
    enter('restore');
    const failed = await restore(null);
    if (failed) fail('restore', failed);
    result.outcome = failed ? 'revert-failed' : 'reverted';
    return finish();
  }

  /** What this run has done on the device so far: the undo depends on it. */
  let staged = false;
  let swapSent = false;
  let backup: BackupRecord | null = null;

  /** Undo, outside cancellation: restore after a swap was sent, else drop the staged copy. */
  async function undo(): Promise<void> {
    await CancellationScope.nonCancellable(async () => {
      if (swapSent) {
        const failed = await restore(backup);
        if (failed) {
          result.error = { type: failed.failure.type, message: `${result.error ? `${result.error.message}; ` : ''}restore failed: ${failed.failure.message}` };
          result.outcome = 'failed-unrestored';
        }
      } else if (staged) {
        // Cleanup only: a staged file left behind changes nothing live.
        await discardStaged(device, { sha256, ext: input.ext });
      }
    });
  }

  try {
    enter('probe');
    const waitMs = mode === 'catch-up' ? Math.max(1000, (input.catchUpUntilMs ?? nowMs()) - nowMs()) : input.offlineAfterMs;
    const probe = await probeDevice(device, waitMs);
    if (!probe.ok) {
      if (probe.offline) {
        result.outcome = 'skipped-offline';
        result.error = { type: 'DeviceOffline', message: `the edge worker of ${deviceId} did not answer within ${waitMs} ms` };
        return finish();
      }
      // An edge worker that has no probeServing at all predates the edge API this side drives:
      // the device counts as failed for that reason, with nothing staged and nothing to undo.
      if (probe.unsupported) {
        result.failedStep = 'probe';
        result.error = { type: ErrorType.DeviceVersionUnsupported, message: `the edge worker of ${deviceId} does not implement probeServing (${probe.failure.message}): it predates the edge API this GPU side drives; upgrade the device package` };
        result.outcome = 'failed';
        return finish();
      }
      throw failedAt('probe', probe);
    }
    result.servedSha256Prefix = probe.seen.servedSha256Prefix;
    if (mode === 'catch-up') result.cameBackAt = isoAt(nowMs());

    enter('stage');
    staged = true; // a failed push may leave a partial upload: the discard runs either way
    const push = await pushToDevice(device, { artifact, metadataPath: input.metadataPath, ...(input.manifestPath ? { manifestPath: input.manifestPath } : {}) }, UNTIL_STOPPED);
    if (!push.ok) {
      // The push refused the device's edge version before connecting: nothing to discard.
      if (push.nothingStaged) staged = false;
      throw failedAt('stage', push);
    }
    if (push.pushed.servedSha256 !== undefined) result.replacedSha256 = push.pushed.servedSha256;

    enter('swap');
    swapSent = true;
    const swap = await swapDevice(device, { sha256, ext: input.ext, ...(input.allowDowngrade ? { allowDowngrade: true } : {}) }, UNTIL_STOPPED);
    if (!swap.ok) {
      // Only a swap that says it switched nothing needs no restore (then the staged copy goes).
      if (!swap.mayHaveSwitched) swapSent = false;
      throw failedAt('swap', swap);
    }
    const { swapped } = swap;
    backup = swapped.backup;
    Object.assign(result, { backup: swapped.backup, servedSha256Prefix: swapped.servedSha256Prefix, ...(swapped.backupsOnDevice ? { backupsOnDevice: swapped.backupsOnDevice } : {}), ...(swapped.release ? { release: swapped.release } : {}) });

    enter('validate');
    const validated = await validateDevice(device, { sha256, ext: input.ext, gates: input.gates, validation: input.validation }, UNTIL_STOPPED);
    if (!validated.ok) {
      if (validated.measured) {
        result.figures = validationFigures(validated.measured);
        result.validationFailures = validated.measured.failures;
      }
      throw failedAt('validate', validated);
    }
    result.figures = validationFigures(validated.report);
    result.servedSha256Prefix = validated.report.servedSha256Prefix;

    if (input.soakMs > 0) {
      enter('soak');
      const soaked = await soakDevice(device, { sha256, soakMs: input.soakMs, p95LatencyMs: input.gates.p95LatencyMs }, UNTIL_STOPPED);
      if (!soaked.ok) throw failedAt('soak', soaked);
      const { soak } = soaked;
      result.soak = { healthy: soak.healthy, degraded: soak.degraded, polls: soak.polls, requests: soak.requests, errors: soak.errors, p95LatencyMs: soak.p95LatencyMs, durationMs: soak.durationMs };
      if (!soak.healthy) {
        result.failedStep = 'soak';
        result.error = { type: 'SoakDegraded', message: `degraded during the soak: ${soak.degraded.join('; ')}` };
        result.outcome = 'failed';
        await undo();
        return finish();
      }
    }
    result.outcome = 'validated';
    return finish();
  } catch (wrapped) {
    const at = (wrapped as { at?: DeviceRolloutStep }).at;
    const failed = (wrapped as { failed?: StepFailed }).failed;
    const err = at ? (wrapped as { cause?: unknown }).cause : wrapped;
    if (isCancellation(err)) {
      result.outcome = 'cancelled';
      result.error = { type: 'Cancelled', message: `cancelled during ${step}` };
      await undo();
      // A cancellation after the swap ends with the device restored; the outcome says it was undone.
      if (swapSent && result.outcome === 'cancelled') result.failedStep = at ?? stepNow();
      return finish();
    }
    fail(at ?? stepNow() ?? 'restore', failed ?? { ok: false, error: err, failure: summarizeFailure(err, 'compensate', deviceId) });
    result.outcome = 'failed';
    await undo();
    return finish();
  }
}
