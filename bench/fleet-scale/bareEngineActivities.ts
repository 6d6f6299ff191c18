// The activities of the bare-engine program (bareEngineWorkflows.ts): the lease and release
// messages to the per-device entities, sent the way edgeship's ownership activities send them
// (update-with-start, then signals, 16 at once), and four device steps that do nothing at all.
import { Context } from '@temporalio/activity';
import { WithStartWorkflowOperation, WorkflowIdConflictPolicy, type Client } from '@temporalio/client';
import { bareLeaseUpdate, bareOwnerWorkflowId, bareReleaseSignal, type BareEngineActivities } from './bareEngineMessages';

/** edgeship's ownership activities send 16 messages at once. */
const MESSAGES_AT_ONCE = 16;

async function eachLimited<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(MESSAGES_AT_ONCE, items.length) }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
}

export function createBareEngineActivities(client: Client, controlTaskQueue: string): BareEngineActivities {
  const noOp = async (): Promise<void> => undefined;
  return {
    async bareLeaseDevices({ deviceIds, holder }) {
      let granted = 0;
      await eachLimited(deviceIds, async (deviceId) => {
        const start = new WithStartWorkflowOperation('bareOwner', {
          workflowId: bareOwnerWorkflowId(deviceId),
          taskQueue: controlTaskQueue,
          args: [],
          workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        });
        const ok = await client.workflow.executeUpdateWithStart(bareLeaseUpdate, { args: [holder], updateId: `lease/${holder}`, startWorkflowOperation: start });
        if (!ok) throw new Error(`bare engine: ${deviceId} is held by someone else (a bench on a reused server?)`);
        granted += 1;
        Context.current().heartbeat(granted);
      });
      return granted;
    },
    async bareReleaseDevices({ deviceIds, holder }) {
      await eachLimited(deviceIds, (deviceId) => client.workflow.getHandle(bareOwnerWorkflowId(deviceId)).signal(bareReleaseSignal, holder));
      return deviceIds.length;
    },
    bareProbe: noOp,
    barePush: noOp,
    bareSwap: noOp,
    bareValidate: noOp,
  };
}
