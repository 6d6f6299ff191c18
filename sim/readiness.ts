// When a simulated fleet is really up: every edge.<id> queue polled by the device's current
// worker process, every runtime's /healthz answering 200 (a model served).
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { edgeTaskQueue } from '../common/queues';
import type { SimulatedFleet } from './fleet';
import { readPid } from './pidfile';

/** Waits (bounded) until every device's queue has a poller from its current worker process (identity …:<pid>); how many have. */
export async function waitForEdgePollers(client: Client, namespace: string, fleet: SimulatedFleet, timeoutMs: number, ids = fleet.devices.map((d) => d.id)): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const polled = await Promise.all(fleet.devices.filter((d) => ids.includes(d.id)).map(async (d) => {
    for (;;) {
      const pid = readPid(d.layout.workerPid);
      const res = await client.workflowService.describeTaskQueue({ namespace, taskQueue: { name: edgeTaskQueue(d.id) }, taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY });
      if ((res.pollers ?? []).some((p) => pid !== undefined && (p.identity ?? '').endsWith(`:${pid}`))) return true;
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 500));
    }
  }));
  return polled.filter(Boolean).length;
}

/** Waits (bounded) until every runtime's /healthz answers 200; how many do. */
export async function waitForRuntimesServing(fleet: SimulatedFleet, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const ready = await Promise.all(fleet.devices.map(async (d) => {
    while (Date.now() < deadline) {
      try {
        if ((await fetch(d.spec.healthUrl, { signal: AbortSignal.timeout(2000) })).ok) return true;
      } catch {
        // not yet
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    return false;
  }));
  return ready.filter(Boolean).length;
}
