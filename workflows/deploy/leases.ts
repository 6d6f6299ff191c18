// Device leases of a plain deployment: take every device's lease from its owner before anything is
// staged, and give each back at the end with what this run did to the device (workflows/device/outcomes.ts).
import { getExternalWorkflowHandle, log } from '@temporalio/workflow';
import { deviceOwnerWorkflowId } from '../../common/ownership';
import { ownershipActivity } from '../activities';
import { releaseLeaseSignal } from '../deviceMessages';
import { ErrorType } from '../failures';
import { isoAt, nowMs } from '../clock';
import type { DeploymentStatusName } from '../report';
import { awaitLeaseGrant } from '../device/lease';
import { ownerOutcomeOfDevice } from '../device/outcomes';
import { failStep, runStep, type DeployContext } from './context';

/**
 * Takes every device's lease, one device at a time in sorted order: two runs that want
 * overlapping devices then always queue in the same order, so they cannot deadlock.
 */
export async function acquireLeases(ctx: DeployContext): Promise<void> {
  const { request, progress, run } = ctx;
  const end = progress.begin('lease');
  const deadline = nowMs() + request.queueTimeout;
  for (const deviceId of [...request.devices].sort()) {
    const device = progress.device(deviceId);
    ctx.leasesRequested.push(deviceId);
    const requestedAt = isoAt(nowMs());
    const answer = await runStep(ctx, 'lease', deviceId, () =>
      ownershipActivity('requestDeviceLease', `lease ${deviceId}`)({ deviceId, deploymentId: run.deploymentId, runId: run.runId, modelName: request.modelName, onBusy: request.onBusy }),
    );
    if (!answer.granted) {
      const wait = { deadlineMs: deadline, queueTimeout: request.queueTimeout, untouched: 'nothing was staged' };
      const held = await awaitLeaseGrant(progress, ctx.leasesGranted, { ...answer, deviceId }, requestedAt, wait);
      if (held) await failStep(ctx, 'lease', deviceId, ErrorType.DeviceBusy, held.message, held.details);
    }
    Object.assign(device, { phase: 'leased', lease: { position: 0, requestedAt, grantedAt: isoAt(nowMs()) } });
    progress.publish();
  }
  progress.setStatus('running');
  end('ok', { figures: { devices: [...request.devices].sort() } });
}

/** Gives every lease back (or leaves every queue), with what this run did to the device. */
export async function releaseLeases(ctx: DeployContext, status: DeploymentStatusName): Promise<void> {
  const { progress, run } = ctx;
  await Promise.all(
    ctx.leasesRequested.map(async (deviceId) => {
      const outcome = ownerOutcomeOfDevice(progress.device(deviceId), status, progress.report.artifact?.sha256);
      try {
        await getExternalWorkflowHandle(deviceOwnerWorkflowId(deviceId)).signal(releaseLeaseSignal, { ...run, outcome });
      } catch (err) {
        // The owner workflow is gone (terminated by hand): nobody holds a lease to give back.
        log.warn('could not release a device lease', { deviceId, error: String(err) });
      }
    }),
  );
}
