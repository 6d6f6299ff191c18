// deployModel: export → calibrate → compile on `gpu`, take every device's lease from its owner
// workflow, stage on every device, wait for a person, then swap and validate device by device on
// `edge.<id>`. Every step that changes a device registers its undo on a saga; any failure after
// the first swap (or a cancellation) runs the undo stack in reverse, outside cancellation, and
// the run ends rolled-back. The leases go back, with what this run did to each device, however
// the run ends; a run that did not deploy closes as Failed with a typed failure.
import {
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  isCancellation,
  log,
  patched,
  setHandler,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import type { ErrorTypeName } from '../common/errors';
import type { DeployRequest } from '../common/request';
import { leaseGrantedSignal } from './deviceMessages';
import { ErrorType, summarizeFailure } from './failures';
import { FleetRollout } from './fleet/fleetRollout';
import { installPauseHandlers } from './fleet/pauseMessages';
import { statusQuery } from './messages';
import { Progress } from './progress';
import type { DeploymentReport, DeploymentStatusName, StageName } from './report';
import { Saga } from './saga';
import { ApprovalStage } from './deploy/approvalStage';
import { compensate } from './deploy/compensations';
import { runStep, type DeployContext } from './deploy/context';
import { gpuStages } from './deploy/gpuStages';
import { acquireLeases, releaseLeases } from './deploy/leases';
import { rollOut } from './deploy/rollOut';
import { compareWithServed, stageEverywhere } from './deploy/staging';

/**
 * Runs started before device ownership existed (their histories are in test/histories/) take no
 * leases, complete whatever their status, and know nothing of run-scoped journals.
 */
export const DEVICE_OWNERSHIP_PATCH = 'edgeship-device-ownership';

/** How a run that did not deploy closes in Temporal: Failed, with this type and the report. */
const CLOSING_FAILURE: Partial<Record<DeploymentStatusName, ErrorTypeName>> = {
  rejected: ErrorType.DeploymentRejected,
  halted: ErrorType.DeploymentHalted,
  failed: ErrorType.DeploymentFailed,
  'rolled-back': ErrorType.DeploymentRolledBack,
  'rollback-failed': ErrorType.RollbackFailed,
};

/** Device rows beyond which the memo keeps only the devices that need a look (the result keeps more). */
const MEMO_DEVICE_ROWS = 200;
/**
 * Beyond this many devices the result and the status query keep only those too: ~420 bytes per
 * device (docs/fleet-scale.md) keeps them below the 512 KiB payload warning, far from the 2 MB limit.
 */
const PAYLOAD_DEVICE_ROWS = 1000;

/**
 * A big fleet's report without the rows of devices that simply validated (their story is their
 * own deviceRollout workflow): the memo above 200 devices, the result and query above 1,000.
 */
function compactReport<T extends DeploymentReport>(report: T, maxRows: number): T {
  if (!report.rollout || report.rollout.devices.length <= maxRows) return report;
  const kept = report.rollout.devices.filter((d) => d.outcome !== 'validated' || d.revert !== undefined).slice(0, maxRows);
  return { ...report, devices: [], rollout: { ...report.rollout, devices: kept, omittedDeviceRows: report.rollout.devices.length - kept.length } };
}

/**
 * The request schema (zod, dozens of modules) is evaluated only when a deployment checks its
 * input: each workflow execution evaluates its own copy of every module it requires, and the
 * per-device children and owners share this bundle (npm run bench:workflow-heap).
 */
function checkRequest(raw: unknown): DeployRequest {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('./requestCheck') as typeof import('./requestCheck')).checkRequest(raw);
}

export async function deployModel(rawRequest: DeployRequest): Promise<DeploymentReport> {
  // The same schema as the client: defaults filled, unknown keys refused, before anything runs.
  const request = checkRequest(rawRequest);
  const ownership = patched(DEVICE_OWNERSHIP_PATCH);
  const run = { deploymentId: workflowInfo().workflowId, runId: workflowInfo().runId };
  const progress = new Progress(request);
  const report = progress.report;
  const ctx: DeployContext = { request, run, progress, saga: new Saga(), liveDevices: new Set(), unreachedRestores: [], leasesGranted: new Set(), leasesRequested: [] };

  // ---- messages -------------------------------------------------------------------------------
  const approval = new ApprovalStage(ctx);
  approval.installHandlers();
  setHandler(statusQuery, () => compactReport(progress.snapshot(), PAYLOAD_DEVICE_ROWS));
  setHandler(leaseGrantedSignal, (grant) => {
    if (grant && typeof grant.deviceId === 'string') ctx.leasesGranted.add(grant.deviceId);
  });
  let fleet: FleetRollout | undefined;
  const pauses = installPauseHandlers(ctx, () => fleet);
  const step = <T>(stage: StageName, deviceId: string | undefined, work: () => Promise<T>): Promise<T> => runStep(ctx, stage, deviceId, work);
  const awaitApproval = (gate?: string): Promise<boolean> => approval.awaitDecision(gate);

  // ---- the run: its stages, in order (workflows/deploy/) ---------------------------------------
  let status: DeploymentStatusName;
  let cancellation: unknown;
  try {
    const { exported, compiled } = await gpuStages(ctx, ownership);
    const ext = compiled.format;
    const plan = request.rollout;
    if (ownership && plan) {
      // Fleet rollouts (request.rollout): waves of per-device child workflows (workflows/fleet/).
      fleet = new FleetRollout({ request: { ...request, rollout: plan }, run, progress, compiled, awaitApproval, step, leasesGranted: ctx.leasesGranted, leasesRequested: ctx.leasesRequested, pauses });
      await fleet.acquireLeases();
      const end = await fleet.run();
      if (end.cancellation !== undefined) cancellation = end.cancellation;
      status = end.status;
    } else {
      if (ownership) await acquireLeases(ctx);
      await stageEverywhere(ctx, compiled, ext);
      if (ownership) await compareWithServed(ctx, exported, compiled);
      if (await awaitApproval()) {
        await rollOut(ctx, compiled, ext);
        status = 'completed';
      } else {
        await compensate(ctx);
        status = 'rejected';
      }
    }
  } catch (err) {
    if (isCancellation(err)) cancellation = err;
    report.failure ??= summarizeFailure(err, report.stage);
    log.warn('deployment failed, compensating', { stage: report.failure.stage, deviceId: report.failure.deviceId, type: report.failure.type, message: report.failure.message });
    const restoresOk = await compensate(ctx);
    status = ctx.liveDevices.size > 0 ? (restoresOk ? 'rolled-back' : 'rollback-failed') : cancellation ? 'cancelled' : 'failed';
  }

  // ---- the ending: leases back, report in the memo, closed as what happened ---------------------
  progress.setStatus(status);
  if (fleet) await CancellationScope.nonCancellable(() => (fleet as FleetRollout).releaseLeases(status));
  else if (ownership) await CancellationScope.nonCancellable(() => releaseLeases(ctx, status));
  const final = compactReport(progress.finish(), PAYLOAD_DEVICE_ROWS);
  // Let a signal or update that arrived with the last activation complete before the run closes.
  await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  if (ownership) {
    // Readable without any worker, whatever the run's end: the status query needs one.
    upsertMemo({ edgeshipReport: compactReport(final, MEMO_DEVICE_ROWS) });
  }
  // Rethrowing the cancellation closes the run as Cancelled in Temporal (what the operator asked
  // for); the report stays readable through the memo and the status query.
  if (cancellation) throw cancellation;
  const closing = CLOSING_FAILURE[status];
  if (ownership && closing) {
    const why = final.failure ? `${final.failure.stage}${final.failure.deviceId ? ` on ${final.failure.deviceId}` : ''}: ${final.failure.type}: ${final.failure.message}` : status;
    throw ApplicationFailure.create({ type: closing, message: `deployment ${status}: ${why}`, nonRetryable: true, details: [final] });
  }
  return final;
}
