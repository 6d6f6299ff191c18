// The GPU worker: polls `gpu` with the model activities (export, calibrate, compile) and the
// fleet activities (resolve devices, push over SFTP), and runs the deployment workflows — the
// workflow code is bundled from workflows/index.ts, so it is the one worker kind that needs it.
import * as os from 'node:os';
import { Client } from '@temporalio/client';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { createGpuModelActivities, type GpuModelActivityOptions } from '../activities/gpu';
import { createEdgeVersionGate, gatePushArtifact } from '../activities/gpu/edgeVersionGate';
import { createFleetActivities } from '../activities/gpu/fleet';
import { createOwnershipActivities, type OwnershipActivityOptions } from '../activities/gpu/ownership';
import type { GpuActivities } from '../common/contracts';
import type { OwnershipActivities } from '../common/ownership';
import type { Inventory } from '../common/inventory';
import { GPU_TASK_QUEUE } from '../common/queues';
import { connectIfNeeded, makeHandle, type WorkerHandle } from './workerHandle';

export interface GpuWorkerOptions {
  inventory: Inventory;
  connection?: NativeConnection;
  address?: string;
  namespace?: string;
  taskQueue?: string;
  modelActivityOptions?: GpuModelActivityOptions;
  /** Replaces some activities (workflow tests); production passes none. */
  activities?: Partial<GpuActivities & OwnershipActivities>;
  ownership?: OwnershipActivityOptions;
  /** Defaults to this project's workflows/index.ts. */
  workflowsPath?: string;
  identity?: string;
}

export function defaultWorkflowsPath(): string {
  return require.resolve('../workflows');
}

export async function createGpuWorker(opts: GpuWorkerOptions): Promise<WorkerHandle> {
  const taskQueue = opts.taskQueue ?? GPU_TASK_QUEUE;
  const conn = await connectIfNeeded(opts.connection, opts.address);
  const namespace = opts.namespace ?? 'default';
  // The ownership activities talk to Temporal (update-with-start on the device's owner workflow).
  const client = new Client({ connection: conn.connection, namespace });
  return makeHandle(taskQueue, conn, () =>
    Worker.create({
      connection: conn.connection,
      namespace,
      taskQueue,
      identity: opts.identity ?? `gpu@${os.hostname()}:${process.pid}`,
      workflowsPath: opts.workflowsPath ?? defaultWorkflowsPath(),
      activities: {
        ...createGpuModelActivities(opts.modelActivityOptions),
        // The push refuses a device whose edge worker is too old before connecting to it.
        ...gatePushArtifact(createFleetActivities(opts.inventory), createEdgeVersionGate(client)),
        ...createOwnershipActivities(client, { taskQueue, ...opts.ownership }),
        ...opts.activities,
      },
      // Export and compile are CPU-heavy Python subprocesses: a few at a time, not dozens.
      maxConcurrentActivityTaskExecutions: 4,
      shutdownGraceTime: '30s',
    }),
  );
}
