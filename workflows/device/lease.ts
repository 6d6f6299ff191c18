// The device lease's waiting half, shared by a plain deployment (workflows/deploy/leases.ts: one
// owner at a time, in sorted order) and a fleet rollout (workflows/fleet/fleetRollout.ts: owners
// in sorted batches). How each asks differs in its commands (one activity per device, or one per
// batch) and stays so for replay; what a queued device looks like, how long the run waits for
// its owner's grant signal, and what it says when the holder keeps it, is written here once.
// What the release tells the owner is workflows/device/outcomes.ts (ownerOutcomeOf*).
import { condition } from '@temporalio/workflow';
import type { LeaseAnswer } from '../../common/ownership';
import { nowMs } from '../clock';
import type { Progress } from '../progress';

/** Who holds the device, as the report says it: "<deploymentId> (<modelName>)". */
export function holderOf(answer: Pick<LeaseAnswer, 'holder'>): string | undefined {
  return answer.holder ? `${answer.holder.deploymentId} (${answer.holder.modelName})` : undefined;
}

/**
 * A device whose owner queued this run: shown queued behind its holder (the run's status too),
 * then waited for until the owner's grant arrives (`granted`, filled by deployModel's
 * leaseGranted signal) or `deadlineMs` passes. Undefined when granted; otherwise the DeviceBusy
 * failure's message (saying what the run had not done yet, `untouched`) and details, for the
 * caller to record as the lease stage's failure.
 */
export async function awaitLeaseGrant(
  progress: Progress,
  granted: ReadonlySet<string>,
  answer: LeaseAnswer,
  requestedAt: string,
  wait: { deadlineMs: number; queueTimeout: number; untouched: string },
): Promise<{ message: string; details: { deviceId: string; position: number } } | undefined> {
  const holder = holderOf(answer);
  Object.assign(progress.device(answer.deviceId), { phase: 'queued', lease: { position: answer.position, requestedAt, ...(holder ? { holder } : {}) } });
  progress.setStatus('queued');
  const got = await condition(() => granted.has(answer.deviceId), Math.max(1, wait.deadlineMs - nowMs()));
  if (got) return undefined;
  return {
    message: `device ${answer.deviceId} was still held${holder ? ` by ${holder}` : ''} after waiting ${wait.queueTimeout} ms (queueTimeout); ${wait.untouched}`,
    details: { deviceId: answer.deviceId, position: answer.position },
  };
}
