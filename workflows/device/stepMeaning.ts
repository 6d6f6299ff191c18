// What a device step's result says about the device: did the restore change it, may a failed
// swap have switched it, what a failed validation measured. Pure and tiny: the per-device
// workflow (deviceRollout) and the lifecycle's steps read it, and so does outcomes.ts, which
// turns it into the report's words (a per-device workflow evaluates every module it imports once
// per cached execution: npm run bench:workflow-heap). Tests: test/unit/device-outcomes.test.ts.
import type { RestoreBackupResult, SwapFailureDetails, ValidationReport } from '../../common/contracts';
import type { DeviceFigures, FleetDeviceRow } from '../../common/rollout';
import type { FailureSummary } from '../report';

/** The device's deploy failed (its rollout restored it, or could not). */
export function deployFailed(outcome: FleetDeviceRow['outcome']): boolean {
  return outcome === 'failed' || outcome === 'failed-unrestored';
}

/** The device rollout closes Failed: its deploy failed, or its revert did (workflows/fleet/closeFailed.ts). */
export function deviceRolloutFailed(outcome: FleetDeviceRow['outcome']): boolean {
  return deployFailed(outcome) || outcome === 'revert-failed';
}

/**
 * Did the restore change the device? A restore that found nothing of this run to undo (no swap
 * journal past `prepared`, or `current` already someone else's) left it alone, and says why.
 */
export function restoreChangedDevice(restore: Pick<RestoreBackupResult, 'outcome'>): boolean {
  return restore.outcome !== 'nothing-switched' && restore.outcome !== 'superseded';
}

/**
 * Whether a failed swap may have switched `current`: one that failed its health check has, one
 * that was cancelled or timed out may have (the run's swap journal on the device knows). Only a
 * swap that says it switched nothing needs no restore.
 */
export function swapMayHaveSwitched(failure: Pick<FailureSummary, 'details'>): boolean {
  return (failure.details as Partial<SwapFailureDetails> | undefined)?.switched !== false;
}

/** A failed gate carries the full validation report in its details: the figures measured anyway. */
export function measuredValidation(failure: Pick<FailureSummary, 'details'>): ValidationReport | undefined {
  const d = failure.details as Partial<ValidationReport> | undefined;
  return d && Array.isArray(d.failures) && d.latencyMs && d.throughput && d.outputs ? (d as ValidationReport) : undefined;
}

/** A validation's figures as a fleet row shows them (and the canary comparison judges them). */
export function validationFigures(v: ValidationReport): DeviceFigures {
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
