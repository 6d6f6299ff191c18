// A device that failed and a wave that halted close as Failed in Temporal, so the workflows list,
// the UI's status column and `EdgeshipStatus` filters point at the culprit instead of showing
// every child green. The failure carries the child's whole result in its details: the parent reads
// what happened exactly as from a completed child. Histories recorded before this closed such
// children as Completed; the patch keeps them replaying.
import { ApplicationFailure, ChildWorkflowFailure, patched } from '@temporalio/workflow';
import type { DeviceRolloutResult, WaveResult } from '../../common/rollout';
import { deviceRolloutFailed } from '../device/stepMeaning';

export const CLOSE_FAILED_CHILDREN_PATCH = 'edgeship-fleet-failed-children-close-failed';

/** Failure type of a halted wave. */
export const WAVE_HALTED = 'WaveHalted';
/** Failure type of a failed device rollout whose own failure has no type (never expected). */
export const DEVICE_ROLLOUT_FAILED = 'DeviceRolloutFailed';

/**
 * The device rollout's result, or (for a failed device, on new histories) a Failed close carrying
 * it. `closesFailed`: the child's input says so (DEVICE_ROLLOUT_CODE ≥ 1); else the patch decides.
 */
export function closeDeviceRollout(result: DeviceRolloutResult, closesFailed: boolean): DeviceRolloutResult {
  if (!deviceRolloutFailed(result.outcome) || !(closesFailed || patched(CLOSE_FAILED_CHILDREN_PATCH))) return result;
  const what = `${result.deviceId}: ${result.outcome}${result.failedStep ? ` at ${result.failedStep}` : ''}`;
  throw ApplicationFailure.create({
    type: result.error?.type ?? DEVICE_ROLLOUT_FAILED,
    message: result.error ? `${what}: ${result.error.message}` : what,
    nonRetryable: true,
    details: [result],
  });
}

/** The wave's result, or (for a halted wave, on new histories) a Failed close carrying it. */
export function closeWave(result: WaveResult): WaveResult {
  if (!result.halted || !patched(CLOSE_FAILED_CHILDREN_PATCH)) return result;
  throw ApplicationFailure.create({ type: WAVE_HALTED, message: `${result.name} halted: ${result.halted.reason}`, nonRetryable: true, details: [result] });
}

/** What a child that closed Failed by `closeDeviceRollout`/`closeWave` returned; rethrows anything else. */
export function resultOfFailedChild<T>(err: unknown, isResult: (value: unknown) => value is T): T {
  if (err instanceof ChildWorkflowFailure && err.cause instanceof ApplicationFailure) {
    const carried = err.cause.details?.[0];
    if (isResult(carried)) return carried;
  }
  throw err;
}

export function isDeviceRolloutResult(value: unknown): value is DeviceRolloutResult {
  return typeof value === 'object' && value !== null && typeof (value as DeviceRolloutResult).deviceId === 'string' && typeof (value as DeviceRolloutResult).outcome === 'string';
}

export function isWaveResult(value: unknown): value is WaveResult {
  return typeof value === 'object' && value !== null && typeof (value as WaveResult).name === 'string' && Array.isArray((value as WaveResult).devices) && typeof (value as WaveResult).tally === 'object';
}
