// One device's lifecycle, written once: probe → stage → swap → validate → soak, and the undo
// (restore the backup, or discard the staged copy). Each step schedules its activity with the
// options its callers have always used, never throws, and returns what happened to the device
// (`ok`, or the failure with what it means for the device: did the swap switch anything, did the
// failed validation measure, was the restore picked up at all). What the report calls that is
// workflows/device/outcomes.ts (pure).
//
// Both rollouts call these steps: a plain deployment (workflows/deploy/: stage on every device,
// wait for a person, then swap and validate device by device, undo on a saga) and a fleet
// rollout's per-device workflow (workflows/fleet/deviceRollout.ts: probe → … → soak, its own undo).
// A plain deployment deliberately stays its own sequence rather than becoming a one-wave fleet
// rollout: that would turn its activities into child workflows, so every recorded plain history
// would stop replaying (or need a patch kept forever), and its report, approval screen and CLI
// output (staged everywhere before the decision, one saga) would change shape. Sharing the
// steps keeps each history's commands exactly as they were.
//
// To add a rollout step: a function here (its activity's options in workflows/activities.ts),
// its phases in outcomes.ts, then one call in deviceRollout.ts and/or deploy/rollOut.ts (docs/develop.md).
import { ActivityCancellationType, ActivityFailure, ApplicationFailure, TimeoutFailure, type ActivityOptions } from '@temporalio/workflow';
import type {
  ArtifactRef,
  BackupRecord,
  ProbeServingResult,
  PushArtifactResult,
  RestoreBackupResult,
  SoakReport,
  SwapModelResult,
  ValidateDeploymentInput,
  ValidationReport,
} from '../../common/contracts';
import { ErrorType } from '../../common/errors';
import { edgeActivity, gpuActivity, type EdgeDeadlines } from '../activities';
import { summarizeFailure } from '../failures';
import type { FailureSummary } from '../report';
import { measuredValidation, restoreChangedDevice, swapMayHaveSwitched } from './stepMeaning';

export const short = (sha: string): string => `${sha.slice(0, 12)}…`;

/** The device a step acts on, for which deployment run, with which device deadlines. */
export interface DeviceAt {
  deviceId: string;
  run: { deploymentId: string; runId: string };
  edge: EdgeDeadlines;
}

/** A step that failed: the error as thrown (cancellations included) and its summary. */
export interface StepFailed {
  ok: false;
  error: unknown;
  failure: FailureSummary;
}

/**
 * A cancelled step is awaited until its activity has really stopped (it heartbeats, so it learns
 * of the cancellation within seconds): the undo must not restore the device while a swap or a
 * push is still running on it. The fleet's per-device workflow runs every step so.
 */
export const UNTIL_STOPPED: ActivityOptions = { cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED };

/** Failed because the device's worker never picked the call up in time (the device is offline). */
function notPickedUp(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && String(err.cause.timeoutType) === 'SCHEDULE_TO_START';
}

/** Is the device's edge worker there at all? Not picked up within `waitMs`: offline. */
export async function probeDevice(at: DeviceAt, waitMs: number): Promise<{ ok: true; seen: ProbeServingResult } | (StepFailed & { offline: boolean; unsupported: boolean })> {
  const { deviceId, edge } = at;
  try {
    return { ok: true, seen: await edgeActivity(deviceId, 'probeServing', `is ${deviceId} there?`, edge, { scheduleToStartTimeout: waitMs })({}) };
  } catch (error) {
    // An edge worker that has no probeServing at all predates the edge API this side drives.
    const unsupported = error instanceof ActivityFailure && error.cause instanceof ApplicationFailure && error.cause.type === 'NotFoundError';
    return { ok: false, error, failure: summarizeFailure(error, 'compensate', deviceId), offline: notPickedUp(error), unsupported };
  }
}

/** Stage: the artifact (and its signed manifest) pushed over SFTP; nothing live touched. */
export async function pushToDevice(
  at: DeviceAt,
  release: { artifact: ArtifactRef; metadataPath: string; manifestPath?: string },
  extra: ActivityOptions = {},
): Promise<{ ok: true; pushed: PushArtifactResult } | (StepFailed & { nothingStaged: boolean })> {
  const { deviceId, run } = at;
  try {
    const push = gpuActivity('pushArtifact', `stage ${short(release.artifact.sha256)} on ${deviceId}`, extra);
    return { ok: true, pushed: await push({ deviceId, artifact: release.artifact, metadataPath: release.metadataPath, ...(release.manifestPath ? { manifestPath: release.manifestPath } : {}), ...run }) };
  } catch (error) {
    const failure = summarizeFailure(error, 'stage', deviceId);
    // A push that refused the device's edge version did so before connecting; any other failed
    // push may have left a partial upload behind.
    return { ok: false, error, failure, nothingStaged: failure.type === ErrorType.DeviceVersionUnsupported };
  }
}

/** Swap: `current` switched to the staged release (journaled on the device), /healthz proves it. */
export async function swapDevice(
  at: DeviceAt,
  target: { sha256: string; ext: 'onnx' | 'hef'; allowDowngrade?: boolean },
  extra: ActivityOptions = {},
): Promise<{ ok: true; swapped: SwapModelResult } | (StepFailed & { mayHaveSwitched: boolean })> {
  const { deviceId, run, edge } = at;
  try {
    const swap = edgeActivity(deviceId, 'swapModel', `swap ${deviceId} → ${short(target.sha256)}`, edge, extra);
    return { ok: true, swapped: await swap({ ...run, sha256: target.sha256, ext: target.ext, healthTimeoutMs: edge.healthTimeoutMs, ...(target.allowDowngrade ? { allowDowngrade: true } : {}) }) };
  } catch (error) {
    const failure = summarizeFailure(error, 'swap', deviceId);
    return { ok: false, error, failure, mayHaveSwitched: swapMayHaveSwitched(failure) };
  }
}

/** Validate: the served model against every device gate; a failed gate still reports its figures. */
export async function validateDevice(
  at: DeviceAt,
  input: Pick<ValidateDeploymentInput, 'sha256' | 'ext' | 'gates'> & { validation: { latencyRequests: number; concurrency: number; throughputDurationMs: number } },
  extra: ActivityOptions = {},
): Promise<{ ok: true; report: ValidationReport } | (StepFailed & { measured?: ValidationReport })> {
  const { deviceId, edge } = at;
  const { sha256, ext, gates, validation } = input;
  try {
    const validate = edgeActivity(deviceId, 'validateDeployment', `validate ${deviceId} serving ${short(sha256)}`, edge, extra);
    return { ok: true, report: await validate({ sha256, ext, gates, ...validation }) };
  } catch (error) {
    const failure = summarizeFailure(error, 'validate', deviceId);
    const measured = measuredValidation(failure);
    return { ok: false, error, failure, ...(measured ? { measured } : {}) };
  }
}

/** Soak: the device watched serving for a while (health, errors, latency against the p95 gate). */
export async function soakDevice(at: DeviceAt, input: { sha256: string; soakMs: number; p95LatencyMs: number }, extra: ActivityOptions = {}): Promise<{ ok: true; soak: SoakReport } | StepFailed> {
  const { deviceId, edge } = at;
  try {
    const watch = edgeActivity(deviceId, 'watchServing', `soak ${deviceId} for ${input.soakMs} ms`, edge, { ...extra, startToCloseTimeout: input.soakMs + 120_000 });
    return { ok: true, soak: await watch({ sha256: input.sha256, durationMs: input.soakMs, p95LatencyMs: input.p95LatencyMs }) };
  } catch (error) {
    return { ok: false, error, failure: summarizeFailure(error, 'rollout', deviceId) };
  }
}

/**
 * How long a restore may wait for the device's worker: `first`, within edge.queueWait (so a
 * device that is gone does not hold back the others' restores); `retry`, the patient second
 * attempt for such a device; `patient`, one attempt with the whole restoreDeadline.
 */
export type RestorePass = 'first' | 'retry' | 'patient';

/** Undo a swap: put back `backup` (null: the one this run's swap journal names), /healthz proves it. */
export async function restoreDevice(
  at: DeviceAt,
  backup: BackupRecord | null,
  pass: RestorePass,
): Promise<{ ok: true; result: RestoreBackupResult; changedDevice: boolean } | (StepFailed & { unreached: boolean })> {
  const { deviceId, run, edge } = at;
  const target = backup ? `backup ${short(backup.sha256)}` : 'the journaled backup';
  try {
    const restore = edgeActivity(deviceId, 'restoreBackup', `restore ${deviceId} → ${target}${pass === 'retry' ? ' (retry)' : ''}`, edge, pass === 'first' ? { scheduleToStartTimeout: edge.queueWait } : {});
    const result = await restore({ ...run, backup, healthTimeoutMs: edge.healthTimeoutMs });
    return { ok: true, result, changedDevice: restoreChangedDevice(result) };
  } catch (error) {
    const failure = summarizeFailure(error, 'compensate', deviceId);
    return { ok: false, error, failure, unreached: failure.type === 'ActivityTimeout:SCHEDULE_TO_START' };
  }
}

/** Undo a stage: the staged copy removed (unless another run still claims it). */
export async function discardStaged(at: DeviceAt, staged: { sha256: string; ext: 'onnx' | 'hef' }): Promise<{ ok: true; removed: string[]; otherClaims?: number } | StepFailed> {
  const { deviceId, run, edge } = at;
  try {
    const discard = edgeActivity(deviceId, 'discardStaged', `discard staged ${short(staged.sha256)} on ${deviceId}`, edge);
    const { removed, otherClaims } = await discard({ ...run, sha256: staged.sha256, ext: staged.ext });
    return { ok: true, removed, ...(otherClaims ? { otherClaims } : {}) };
  } catch (error) {
    return { ok: false, error, failure: summarizeFailure(error, 'compensate', deviceId) };
  }
}
