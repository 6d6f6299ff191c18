// The edge worker of one device: polls `edge.<deviceId>` with that device's activities. Runs on
// the device itself (it touches the model directory and runs the restart command), so it
// registers activities only; workflow tasks stay on the `gpu` queue.
import * as os from 'node:os';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { createEdgeActivities, type EdgeActivityOptions } from '../activities/edge';
import type { EdgeActivities } from '../common/contracts';
import type { EdgeDevice } from '../activities/edge/device';
import { EDGE_API_VERSION, formatEdgeWorkerIdentity } from '../common/edgeVersion';
import { edgeTaskQueue } from '../common/queues';
import { version as packageVersion } from '../package.json';
import { connectIfNeeded, makeHandle, type WorkerHandle } from './workerHandle';

export type { WorkerHandle } from './workerHandle';

export interface EdgeWorkerOptions {
  device: EdgeDevice;
  /** An existing connection (in-process use); otherwise one is opened to `address`. */
  connection?: NativeConnection;
  address?: string;
  namespace?: string;
  activityOptions?: EdgeActivityOptions;
  /** Replaces some activities (workflow tests); production passes none. */
  activities?: Partial<EdgeActivities>;
  identity?: string;
}

export async function createEdgeWorker(opts: EdgeWorkerOptions): Promise<WorkerHandle> {
  const taskQueue = edgeTaskQueue(opts.device.id);
  const conn = await connectIfNeeded(opts.connection, opts.address);
  return makeHandle(taskQueue, conn, () =>
    Worker.create({
      connection: conn.connection,
      namespace: opts.namespace ?? 'default',
      taskQueue,
      identity: opts.identity ?? formatEdgeWorkerIdentity({ version: packageVersion, api: EDGE_API_VERSION, deviceId: opts.device.id, host: os.hostname(), pid: process.pid }),
      activities: { ...createEdgeActivities(opts.device, opts.activityOptions), ...opts.activities },
      // A device has few cores and one runtime; the activities also serialize on the model dir.
      maxConcurrentActivityTaskExecutions: 4,
      // Heartbeats carry cancellations: a cancelled swap or validation learns of it within 5 s
      // (not up to 80 % of its heartbeat timeout), so a rollout's undo does not wait long for it.
      maxHeartbeatThrottleInterval: '5s',
      shutdownGraceTime: '30s',
    }),
  );
}
