// What every stage of a deployModel run shares: the checked request, the run's identity, the
// report being built (Progress), the saga of undos and the little state two stages pass each
// other. Stages are functions over this context (workflows/deploy/*.ts); deployModel.ts lists them.
import type { BackupRecord, CompileResult } from '../../common/contracts';
import type { ErrorTypeName } from '../../common/errors';
import type { DeployRequest } from '../../common/request';
import { deploymentFailure, summarizeFailure } from '../failures';
import type { Progress } from '../progress';
import type { StageName } from '../report';
import type { Saga } from '../saga';
import type { DeviceAt, StepFailed } from '../device/lifecycle';

export interface DeployRun {
  deploymentId: string;
  runId: string;
}

export interface DeployContext {
  request: DeployRequest;
  run: DeployRun;
  progress: Progress;
  saga: Saga;
  /** Devices where this run may have switched `current` (the swap was sent). */
  liveDevices: Set<string>;
  /**
   * Restores whose device's worker did not pick them up within edge.queueWait. Compensations run
   * one by one, so a device that is gone must not hold back the restores of the others: it gets
   * a second, patient attempt (edge.restoreDeadline) once they are done.
   */
  unreachedRestores: Array<{ deviceId: string; backup: BackupRecord | null }>;
  /** Devices whose owner signalled this run that the lease is granted. */
  leasesGranted: Set<string>;
  /** Devices whose owner this run has asked (holding or queued): each gets a release at the end. */
  leasesRequested: string[];
}

/**
 * The one way to run a stage's work: a failure is recorded in the report (the first one wins)
 * with the stage and device where it happened, then passed on.
 */
export async function runStep<T>(ctx: Pick<DeployContext, 'progress'>, stage: StageName, deviceId: string | undefined, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    ctx.progress.report.failure ??= summarizeFailure(err, stage, deviceId);
    throw err;
  }
}

/**
 * A device step that failed (workflows/device/lifecycle.ts), recorded like runStep's failures
 * (the first one wins); the caller throws `failed.error`. Recorded before the stage's end is
 * published, as runStep did: the memo's changes are commands in the history.
 */
export function recordFailure(ctx: Pick<DeployContext, 'progress'>, failed: StepFailed): void {
  ctx.progress.report.failure ??= failed.failure;
}

/** A device of this run, for the device steps (workflows/device/lifecycle.ts). */
export const deviceAt = (ctx: Pick<DeployContext, 'request' | 'run'>, deviceId: string): DeviceAt => ({ deviceId, run: ctx.run, edge: ctx.request.edge });

/** A stage that finds its own result unacceptable: recorded like an activity's failure, then thrown. */
export function failStep(ctx: Pick<DeployContext, 'progress'>, stage: StageName, deviceId: string | undefined, type: ErrorTypeName, message: string, details?: unknown): Promise<never> {
  return runStep(ctx, stage, deviceId, () => Promise.reject(deploymentFailure(type, message, details)));
}

export { short } from '../device/lifecycle';
export const restoreLabel = (deviceId: string): string => `restore ${deviceId}`;
export const discardLabel = (deviceId: string): string => `discard ${deviceId}`;
/** pushArtifact's manifestPath when compile signed the release (unsigned: none, as before signing). */
export const manifestOf = (compiled: CompileResult): { manifestPath?: string } => (compiled.release?.signed ? { manifestPath: compiled.release.manifestPath } : {});
