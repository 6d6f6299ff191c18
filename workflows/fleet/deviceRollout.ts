// deviceRollout: one device's part of a fleet rollout (child of a rolloutWave). deploy: is the
// device's edge worker there at all → stage → swap → validate → soak; any failure undoes what
// this run did to the device (discard the staged copy, or restore the backup) before it returns.
// catch-up: the same, after waiting (until the rollout's deadline) for the worker to come back.
// revert: puts back the backup this run's swap journal names. The child always returns a result
// the wave can count; it fails only on a bug. The device journals stay keyed by the parent
// deployment's id and run id, so the parent's revert and this child's restore are one journal.
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  TimeoutFailure,
  defineQuery,
  isCancellation,
  patched,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { ErrorType } from '../../common/errors';
import type { BackupRecord, RestoreBackupResult, SwapFailureDetails, ValidationReport } from '../../common/contracts';
import type { DeviceFigures, DeviceRolloutInput, DeviceRolloutResult, DeviceRolloutStep } from '../../common/rollout';
import { SA_DEVICES, SA_MODEL, SA_SHA, SA_STAGE, SA_STATUS } from '../../common/searchAttributes';
import { MESSAGE_NAMES } from '../../common/workflowNames';
import { edgeActivity, gpuActivity } from '../activities';
import { escapeText } from '../escapeText';
import { summarizeFailure } from '../failures';
import { isoAt, nowMs } from '../clock';
import { closeDeviceRollout } from './closeFailed';
import { SEARCH_ATTRIBUTES_AT_START_PATCH } from './searchAttributesAtStart';

export const deviceRolloutStatusQuery = defineQuery<DeviceRolloutResult & { step?: DeviceRolloutStep | 'done' }>(MESSAGE_NAMES.deviceRollout.deviceRolloutStatusQuery);

const short = (sha: string): string => `${sha.slice(0, 12)}…`;

/**
 * A cancelled step is awaited until its activity has really stopped (it heartbeats, so it learns
 * of the cancellation within seconds): the undo must not restore the device while a swap or a
 * push is still running on it.
 */
const UNTIL_STOPPED = { cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED };

/** Failed because the device's worker never picked the call up in time (the device is offline). */
function notPickedUp(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && String(err.cause.timeoutType) === 'SCHEDULE_TO_START';
}

function figuresOf(v: ValidationReport): DeviceFigures {
  return {
    servedSha256Prefix: v.servedSha256Prefix,
    p50Ms: v.latencyMs.p50,
    p95Ms: v.latencyMs.p95,
    p99Ms: v.latencyMs.p99,
    rps: v.throughput.rps,
    minReferenceCosine: v.outputs.minReferenceCosine,
    ...(v.outputs.binding ? { bindingMinCosine: v.outputs.binding.minCosine, bindingMaxRelativeError: v.outputs.binding.maxRelativeError } : {}),
  };
}

export async function deviceRollout(input: DeviceRolloutInput): Promise<DeviceRolloutResult> {
  return closeDeviceRollout(await rollOutDevice(input));
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
  const attributesAtStart = patched(SEARCH_ATTRIBUTES_AT_START_PATCH);
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
  const fail = (at: DeviceRolloutStep, err: unknown): void => {
    const f = summarizeFailure(err, at === 'validate' ? 'validate' : at === 'swap' ? 'swap' : at === 'stage' ? 'stage' : 'compensate', deviceId);
    result.failedStep = at;
    result.error = { type: f.type, message: f.message };
  };

  async function restore(backup: BackupRecord | null, patient: boolean): Promise<RestoreBackupResult> {
    const restoreBackup = edgeActivity(deviceId, 'restoreBackup', `restore ${deviceId} → ${backup ? `backup ${short(backup.sha256)}` : 'the journaled backup'}`, edge, patient ? {} : { scheduleToStartTimeout: edge.queueWait });
    return restoreBackup({ ...run, backup, healthTimeoutMs: edge.healthTimeoutMs });
  }

  if (mode === 'revert') {
    enter('restore');
    try {
      result.restore = await restore(null, true);
      result.servedSha256Prefix = result.restore.servedSha256Prefix;
      result.outcome = 'reverted';
    } catch (err) {
      fail('restore', err);
      result.outcome = 'revert-failed';
    }
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
        try {
          result.restore = await restore(backup, true);
          result.servedSha256Prefix = result.restore.servedSha256Prefix;
        } catch (err) {
          const f = summarizeFailure(err, 'compensate', deviceId);
          result.error = { type: f.type, message: `${result.error ? `${result.error.message}; ` : ''}restore failed: ${f.message}` };
          result.outcome = 'failed-unrestored';
        }
      } else if (staged) {
        try {
          const discardStaged = edgeActivity(deviceId, 'discardStaged', `discard staged ${short(sha256)} on ${deviceId}`, edge);
          await discardStaged({ ...run, sha256, ext: input.ext });
        } catch {
          // Cleanup only: a staged file left behind changes nothing live.
        }
      }
    });
  }

  try {
    enter('probe');
    const waitMs = mode === 'catch-up' ? Math.max(1000, (input.catchUpUntilMs ?? nowMs()) - nowMs()) : input.offlineAfterMs;
    try {
      const probe = edgeActivity(deviceId, 'probeServing', `is ${deviceId} there?`, edge, { scheduleToStartTimeout: waitMs });
      const seen = await probe({});
      result.servedSha256Prefix = seen.servedSha256Prefix;
      if (mode === 'catch-up') result.cameBackAt = isoAt(nowMs());
    } catch (err) {
      if (notPickedUp(err)) {
        result.outcome = 'skipped-offline';
        result.error = { type: 'DeviceOffline', message: `the edge worker of ${deviceId} did not answer within ${waitMs} ms` };
        return finish();
      }
      // An edge worker that has no probeServing at all predates the edge API this side drives:
      // the device counts as failed for that reason, with nothing staged and nothing to undo.
      if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'NotFoundError') {
        result.failedStep = 'probe';
        result.error = { type: ErrorType.DeviceVersionUnsupported, message: `the edge worker of ${deviceId} does not implement probeServing (${err.cause.message}): it predates the edge API this GPU side drives; upgrade the device package` };
        result.outcome = 'failed';
        return finish();
      }
      throw Object.assign(new Error('probe'), { cause: err, at: 'probe' as const });
    }

    enter('stage');
    staged = true; // a failed push may leave a partial upload: the discard runs either way
    try {
      const pushed = await gpuActivity('pushArtifact', `stage ${short(sha256)} on ${deviceId}`, UNTIL_STOPPED)({ deviceId, artifact, metadataPath: input.metadataPath, ...(input.manifestPath ? { manifestPath: input.manifestPath } : {}), ...run });
      if (pushed.servedSha256 !== undefined) result.replacedSha256 = pushed.servedSha256;
    } catch (err) {
      // The push refused the device's edge version before connecting: nothing to discard.
      if (summarizeFailure(err, 'stage', deviceId).type === ErrorType.DeviceVersionUnsupported) staged = false;
      throw Object.assign(new Error('stage'), { cause: err, at: 'stage' as const });
    }

    enter('swap');
    swapSent = true;
    try {
      const swapped = await edgeActivity(deviceId, 'swapModel', `swap ${deviceId} → ${short(sha256)}`, edge, UNTIL_STOPPED)({ ...run, sha256, ext: input.ext, healthTimeoutMs: edge.healthTimeoutMs, ...(input.allowDowngrade ? { allowDowngrade: true } : {}) });
      backup = swapped.backup;
      Object.assign(result, { backup: swapped.backup, servedSha256Prefix: swapped.servedSha256Prefix, ...(swapped.backupsOnDevice ? { backupsOnDevice: swapped.backupsOnDevice } : {}), ...(swapped.release ? { release: swapped.release } : {}) });
    } catch (err) {
      // Only a swap that says it switched nothing needs no restore (then the staged copy goes).
      if ((summarizeFailure(err, 'swap', deviceId).details as Partial<SwapFailureDetails> | undefined)?.switched === false) swapSent = false;
      throw Object.assign(new Error('swap'), { cause: err, at: 'swap' as const });
    }

    enter('validate');
    try {
      const validation = await edgeActivity(deviceId, 'validateDeployment', `validate ${deviceId} serving ${short(sha256)}`, edge, UNTIL_STOPPED)({
        sha256,
        ext: input.ext,
        gates: input.gates,
        ...input.validation,
      });
      result.figures = figuresOf(validation);
      result.servedSha256Prefix = validation.servedSha256Prefix;
    } catch (err) {
      const details = summarizeFailure(err, 'validate', deviceId).details as Partial<ValidationReport> | undefined;
      if (details && Array.isArray(details.failures) && details.latencyMs && details.throughput && details.outputs) {
        result.figures = figuresOf(details as ValidationReport);
        result.validationFailures = details.failures;
      }
      throw Object.assign(new Error('validate'), { cause: err, at: 'validate' as const });
    }

    if (input.soakMs > 0) {
      enter('soak');
      let soak;
      try {
        soak = await edgeActivity(deviceId, 'watchServing', `soak ${deviceId} for ${input.soakMs} ms`, edge, { ...UNTIL_STOPPED, startToCloseTimeout: input.soakMs + 120_000 })({
          sha256,
          durationMs: input.soakMs,
          p95LatencyMs: input.gates.p95LatencyMs,
        });
      } catch (err) {
        throw Object.assign(new Error('soak'), { cause: err, at: 'soak' as const });
      }
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
    const err = at ? (wrapped as { cause?: unknown }).cause : wrapped;
    if (isCancellation(err)) {
      result.outcome = 'cancelled';
      result.error = { type: 'Cancelled', message: `cancelled during ${step}` };
      await undo();
      // A cancellation after the swap ends with the device restored; the outcome says it was undone.
      if (swapSent && result.outcome === 'cancelled') result.failedStep = at ?? stepNow();
      return finish();
    }
    fail(at ?? stepNow() ?? 'restore', err);
    result.outcome = 'failed';
    await undo();
    return finish();
  }
}
