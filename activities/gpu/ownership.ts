// The ownership activities: the deployment's side of the device lease protocol. They talk to
// Temporal itself (a workflow cannot send an update, and update-with-start is what creates the
// device's owner workflow on first use), so they need a Client on the worker's connection.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { WithStartWorkflowOperation, WorkflowIdConflictPolicy, WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ErrorType } from '../../common/errors';
import { DEVICE_OWNER_CODE, DEVICE_OWNER_WORKFLOW_TYPE, deviceOwnerWorkflowId, type DeviceOwnerInput, type LeaseAnswer, type OwnershipActivities } from '../../common/ownership';
import { CONTROL_TASK_QUEUE } from '../../common/queues';
import { SA_DEVICES } from '../../common/searchAttributes';
import { createEdgeVersionGate } from './edgeVersionGate';
import { desiredModelSignal, releaseLeaseSignal, requestLeaseUpdate } from '../../workflows/deviceMessages';

export interface OwnershipActivityOptions {
  /** Task queue of the deviceOwner workflows (the GPU worker bundles every workflow). */
  taskQueue?: string;
  /** Passed to a newly started deviceOwner: how often it checks a holder that may have vanished. */
  holderCheckIntervalMs?: number;
  /**
   * requestDeviceLease refuses (DeviceVersionUnsupported) a device whose live edge worker cannot
   * run this GPU side's edge activities (default true). Tests whose edge workers are plain test
   * workers give them a versioned identity rather than turning this off.
   */
  checkEdgeVersion?: boolean;
}

/** Runs `work` over items with at most `limit` at once (signals to many owners). */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++];
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

const SIGNAL_CONCURRENCY = 16;

export function createOwnershipActivities(client: Client, opts: OwnershipActivityOptions = {}): OwnershipActivities {
  const edgeVersionGate = opts.checkEdgeVersion === false ? undefined : createEdgeVersionGate(client);

  /** Asks the device's owner for the lease (update-with-start creates the owner on first use). */
  async function leaseOne(input: Parameters<OwnershipActivities['requestDeviceLease']>[0]): Promise<LeaseAnswer> {
    const { deviceId, updateIdSuffix, ...request } = input;
    const workflowId = deviceOwnerWorkflowId(deviceId);
    const args: DeviceOwnerInput = { deviceId, code: DEVICE_OWNER_CODE, ...(opts.holderCheckIntervalMs ? { holderCheckIntervalMs: opts.holderCheckIntervalMs } : {}) };
    const start = new WithStartWorkflowOperation(DEVICE_OWNER_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: opts.taskQueue ?? CONTROL_TASK_QUEUE,
      args: [args],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      typedSearchAttributes: [{ key: SA_DEVICES, value: [deviceId] }],
      staticSummary: `owner of device ${deviceId}`,
    });
    try {
      // The update id makes a retried activity ask once: the server dedupes it per run.
      return await client.workflow.executeUpdateWithStart(requestLeaseUpdate, {
        args: [request],
        updateId: `lease/${request.deploymentId}/${request.runId}${updateIdSuffix ? `/${updateIdSuffix}` : ''}`,
        startWorkflowOperation: start,
      });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        const cause = err.cause as { type?: string; message?: string; details?: unknown[] } | undefined;
        if (cause && cause.type === ErrorType.DeviceBusy) {
          throw ApplicationFailure.create({ type: ErrorType.DeviceBusy, message: cause.message ?? `device ${deviceId} is busy`, nonRetryable: true, details: cause.details as unknown[] });
        }
        throw ApplicationFailure.create({ type: ErrorType.InvalidRequest, message: `device ${deviceId} refused the lease request: ${cause?.message ?? err.message}`, nonRetryable: true });
      }
      throw err;
    }
  }

  const activities: OwnershipActivities = {
    async requestDeviceLeases({ deviceIds, tryAll, ...request }): Promise<LeaseAnswer[]> {
      if (tryAll) {
        // Every owner at once, refusing instead of queueing: a run that never waits while it
        // holds leases cannot deadlock, whatever the order. The caller gives them all back if
        // any device was busy (then asks in order).
        const answers: LeaseAnswer[] = new Array(deviceIds.length);
        let done = 0;
        await eachLimited([...deviceIds.keys()], SIGNAL_CONCURRENCY, async (i) => {
          const deviceId = deviceIds[i];
          try {
            answers[i] = await leaseOne({ ...request, deviceId, onBusy: 'fail', updateIdSuffix: 'try' });
          } catch (err) {
            if (!(err instanceof ApplicationFailure) || err.type !== ErrorType.DeviceBusy) throw err;
            const busy = (err.details?.[0] ?? {}) as Partial<LeaseAnswer>;
            answers[i] = { deviceId, granted: false, position: 0, holder: busy.holder ?? null };
          }
          Context.current().heartbeat({ asked: ++done, of: deviceIds.length });
        });
        return answers;
      }
      const answers: LeaseAnswer[] = [];
      for (const deviceId of deviceIds) {
        const answer = await leaseOne({ ...request, deviceId });
        answers.push(answer);
        if (!answer.granted) break;
        // Every owner: a slow server (seconds per owner) must not look like a dead worker.
        Context.current().heartbeat({ leased: answers.length, of: deviceIds.length });
      }
      return answers;
    },

    async releaseDeviceLeases({ deploymentId, runId, releases }) {
      const missing: string[] = [];
      await eachLimited(releases, SIGNAL_CONCURRENCY, async ({ deviceId, outcome }) => {
        try {
          await client.workflow.getHandle(deviceOwnerWorkflowId(deviceId)).signal(releaseLeaseSignal, { deploymentId, runId, ...(outcome ? { outcome } : {}) });
        } catch (err) {
          // The owner was terminated by hand: nobody holds a lease to give back.
          if (err instanceof WorkflowNotFoundError) missing.push(deviceId);
          else throw err;
        }
      });
      return { released: releases.length - missing.length, missing };
    },

    async recordDesiredModels({ deviceIds, ...signal }) {
      const missing: string[] = [];
      await eachLimited(deviceIds, SIGNAL_CONCURRENCY, async (deviceId) => {
        try {
          await client.workflow.getHandle(deviceOwnerWorkflowId(deviceId)).signal(desiredModelSignal, signal);
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) missing.push(deviceId);
          else throw err;
        }
      });
      return { recorded: deviceIds.length - missing.length, missing };
    },

    async requestDeviceLease(input): Promise<LeaseAnswer> {
      // A plain deployment leases its devices one by one before staging anything: the place to
      // refuse a device whose edge worker is too old, before its owner grants anything. (A fleet
      // rollout's devices are checked by the push instead, so one old device fails alone.)
      if (edgeVersionGate) await edgeVersionGate(input.deviceId);
      return leaseOne(input);
    },

    async describeDeploymentRun({ workflowId, runId }) {
      try {
        const d = await client.workflow.getHandle(workflowId, runId).describe();
        return { open: d.status.name === 'RUNNING', status: d.status.name };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return { open: false, status: 'NOT_FOUND' };
        throw err;
      }
    },
  };
  return activities;
}
