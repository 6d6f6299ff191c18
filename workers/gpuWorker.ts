// The GPU worker process runs two Worker instances on one connection:
//   control  every workflow (bundled from workflows/index.ts) and the short activities that only
//            talk to Temporal or read the inventory (leases, owners, resolveDevices), with slots
//            of their own;
//   gpu      the model activities (export, calibrate, compile, pre-flight, compare) and the SFTP
//            push, a few at a time: a real Hailo compile holds a slot for an hour.
// So a `gpu` queue full of compiles never holds back a lease, a release or an owner's check.
// The gpu Worker also runs workflow tasks of workflows started on `gpu` before the control plane
// existed (device owners live for months), with the same bundle.
import * as os from 'node:os';
import { Client } from '@temporalio/client';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createGpuModelActivities, type GpuModelActivityOptions } from '../activities/gpu';
import { createEdgeVersionGate, gatePushArtifact } from '../activities/gpu/edgeVersionGate';
import { createFleetActivities } from '../activities/gpu/fleet';
import { createOwnershipActivities, type OwnershipActivityOptions } from '../activities/gpu/ownership';
import type { GpuActivities } from '../common/contracts';
import type { OwnershipActivities } from '../common/ownership';
import type { Inventory } from '../lib/inventory';
import { CONTROL_TASK_QUEUE, GPU_TASK_QUEUE, isControlActivity } from '../common/queues';
import { connectIfNeeded, type WorkerHandle } from './workerHandle';
import { workflowBundleFor } from './workflowBundle';

export interface GpuWorkerOptions {
  inventory: Inventory;
  connection?: NativeConnection;
  address?: string;
  namespace?: string;
  /** The model-work queue (default `gpu`). */
  taskQueue?: string;
  /** The control-plane queue: workflows, leases, owners (default `control`). */
  controlTaskQueue?: string;
  modelActivityOptions?: GpuModelActivityOptions;
  /** Replaces some activities (workflow tests); production passes none. */
  activities?: Partial<GpuActivities & OwnershipActivities>;
  ownership?: OwnershipActivityOptions;
  /** Defaults to this project's workflows/index.ts. */
  workflowsPath?: string;
  /** A prebuilt bundle of the workflows (`npm run build`: dist/workflow-bundle.js) instead of bundling at start. */
  workflowBundlePath?: string;
  identity?: string;
  /** Model activities at once on `gpu` (default 4: CPU-heavy Python subprocesses). */
  maxGpuActivities?: number;
  /** Workflow executions the `control` Worker keeps cached (default CONTROL_MAX_CACHED_WORKFLOWS). */
  maxCachedWorkflows?: number;
}

/**
 * The `control` Worker's workflow cache. Each cached execution keeps ~300 KiB of the process's
 * RSS (measured in debug mode; the V8 heap alone is ~80 KiB, npm run bench:workflow-heap); the
 * SDK's default sizes the cache from the V8 heap limit (~2,300 here), so a fleet's thousands of
 * idle device owners would stay cached for nothing. 600 holds every running device rollout
 * (maxParallel ≤ 500), its wave and its parent; an idle owner that falls out replays its short
 * history (~16 events) when its next message arrives. At 2,000 devices (bench:fleet-scale, this
 * 2-core machine): cache 1,000 → peak RSS 1,114 MiB; cache 500 → 904 MiB and 15.5 devices/s.
 */
export const CONTROL_MAX_CACHED_WORKFLOWS = 600;

/** Both Worker instances of the process; `worker`/`taskQueue` are the `gpu` one's. */
export interface GpuWorkerHandle extends WorkerHandle {
  controlWorker: Worker;
  controlTaskQueue: string;
  /** Runs both until fn settles (tests), then shuts both down. */
  runUntil<T>(fn: () => Promise<T>): Promise<T>;
  /** Stops polling on both queues; run() resolves when both have drained. */
  shutdown(): void;
}

export function defaultWorkflowsPath(): string {
  return require.resolve('../workflows');
}

type AllActivities = Record<string, (...args: never[]) => unknown>;

/** Splits activities by where they are scheduled (common/queues.ts CONTROL_ACTIVITIES). */
export function splitByQueue(activities: AllActivities): { control: AllActivities; gpu: AllActivities } {
  const control: AllActivities = {};
  const gpu: AllActivities = {};
  for (const [name, fn] of Object.entries(activities)) (isControlActivity(name) ? control : gpu)[name] = fn;
  return { control, gpu };
}

export interface ControlAndGpuWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  workflowsPath: string;
  /** A prebuilt bundle of workflowsPath (workers/workflowBundle.ts); else bundled here. */
  workflowBundlePath?: string;
  /** Every GPU-server activity; each is registered on the queue it is scheduled on. */
  activities: AllActivities;
  controlTaskQueue?: string;
  taskQueue?: string;
  /** Further options of each Worker (identity, slots, caches). */
  control?: Partial<WorkerOptions>;
  gpu?: Partial<WorkerOptions>;
}

/**
 * The two Workers of a GPU server: `control` (workflows and control activities) and `gpu` (model
 * activities, and workflow tasks of runs started on `gpu` before `control` existed), from one
 * workflow bundle. createGpuWorker uses it; so do the workflow tests and the scale benchmark,
 * which replace the activities.
 */
export async function createControlAndGpuWorkers(o: ControlAndGpuWorkerOptions): Promise<[control: Worker, gpu: Worker]> {
  const { control, gpu } = splitByQueue(o.activities);
  // One bundle for both Workers: bundling takes seconds and the code is the same.
  const workflowBundle = await workflowBundleFor(o.workflowsPath, o.workflowBundlePath);
  const base = { connection: o.connection, namespace: o.namespace ?? 'default', workflowBundle, shutdownGraceTime: '30s' } as const;
  return [
    await Worker.create({ ...base, taskQueue: o.controlTaskQueue ?? CONTROL_TASK_QUEUE, activities: control, ...o.control }),
    await Worker.create({ ...base, taskQueue: o.taskQueue ?? GPU_TASK_QUEUE, activities: gpu, ...o.gpu }),
  ];
}

export async function createGpuWorker(opts: GpuWorkerOptions): Promise<GpuWorkerHandle> {
  const taskQueue = opts.taskQueue ?? GPU_TASK_QUEUE;
  const controlTaskQueue = opts.controlTaskQueue ?? CONTROL_TASK_QUEUE;
  const conn = await connectIfNeeded(opts.connection, opts.address);
  const namespace = opts.namespace ?? 'default';
  const identity = opts.identity ?? `gpu@${os.hostname()}:${process.pid}`;
  let control: Worker;
  let gpu: Worker;
  try {
    // The ownership activities talk to Temporal (update-with-start on the device's owner workflow).
    const client = new Client({ connection: conn.connection, namespace });
    const all = {
      ...createGpuModelActivities(opts.modelActivityOptions),
      // The push refuses a device whose edge worker is too old before connecting to it.
      ...gatePushArtifact(createFleetActivities(opts.inventory), createEdgeVersionGate(client)),
      ...createOwnershipActivities(client, { taskQueue: controlTaskQueue, ...opts.ownership }),
      ...opts.activities,
    } as AllActivities;
    [control, gpu] = await createControlAndGpuWorkers({
      connection: conn.connection,
      namespace,
      workflowsPath: opts.workflowsPath ?? defaultWorkflowsPath(),
      ...(opts.workflowBundlePath ? { workflowBundlePath: opts.workflowBundlePath } : {}),
      activities: all,
      control: { identity: `${identity}/control`, maxCachedWorkflows: opts.maxCachedWorkflows ?? CONTROL_MAX_CACHED_WORKFLOWS },
      gpu: { identity, maxConcurrentActivityTaskExecutions: opts.maxGpuActivities ?? 4 },
      controlTaskQueue,
      taskQueue,
    });
  } catch (err) {
    if (conn.owned) await conn.connection.close();
    throw err;
  }
  const shutdown = (): void => {
    for (const w of [control, gpu]) if (w.getState() === 'RUNNING') w.shutdown();
  };
  /** Both run; when one stops (shutdown, or a fatal error), the other is stopped too. */
  const runBoth = async (): Promise<void> => {
    const runs = [control, gpu].map((w) => w.run().finally(shutdown));
    const settled = await Promise.allSettled(runs);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
  };
  return {
    worker: gpu,
    taskQueue,
    controlWorker: control,
    controlTaskQueue,
    shutdown,
    async run() {
      try {
        await runBoth();
      } finally {
        if (conn.owned) await conn.connection.close();
      }
    },
    runUntil<T>(fn: () => Promise<T>): Promise<T> {
      // The SDK's own runUntil on each: gpu stops when fn settles, control when gpu has stopped.
      return control.runUntil(gpu.runUntil(fn()));
    },
  };
}
