// Runs THE BARE-ENGINE PROGRAM (bareEngineWorkflows.ts, not edgeship) on a dev server that the
// caller started: Workers set up as edgeship's scale run sets up its own (a control Worker with
// the workflows and the lease activities, a `gpu` Worker, one shared edge Worker, the same slots
// and cache), the same waves and maxParallel; returns when the parent closes.
import { Client } from '@temporalio/client';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { workflowBundleFor } from '../../workers/workflowBundle';
import { createBareEngineActivities } from './bareEngineActivities';
import { bareFleet, type BareQueues } from './bareEngineWorkflows';

export interface BareEngineRun {
  connection: NativeConnection;
  client: Client;
  waves: string[][];
  maxParallel: number;
  maxCachedWorkflows: number;
  /** Child starts each wave asks for at a time; none: every free slot at once (the program issue 17 defines). */
  startWindow?: number;
  timeoutMin: number;
  log(line: string): void;
  /** One progress line (memory etc.), appended to the bench's own. */
  extra(): string;
  /** The workflows prebuilt (workers/workflowBundle.ts), as for edgeship; else bundled here. */
  workflowBundlePath?: string;
  /** Called once the Workers run, just before the start call (where the bench's clocks start). */
  beforeStart(): void;
  /** Called as soon as the parent closes, while the Workers still run (where the bench's clocks stop, as for edgeship). */
  afterClose(): void;
}

export interface BareEngineTiming {
  workflowId: string;
  waveWorkflowIds: string[];
  /** Wall time from the start to the parent's result. */
  wallMs: number;
  workersCreatedMs: number;
}

const QUEUES: BareQueues = { control: 'bare.control', gpu: 'bare.gpu', edge: 'bare.edge-shared' };

export async function runBareEngine(r: BareEngineRun): Promise<BareEngineTiming> {
  const tWorkers = Date.now();
  const activities = createBareEngineActivities(r.client, QUEUES.control);
  const workflowBundle = await workflowBundleFor(require.resolve('./bareEngineWorkflows'), r.workflowBundlePath);
  const workers = [
    await Worker.create({
      connection: r.connection,
      taskQueue: QUEUES.control,
      workflowBundle,
      activities: { bareLeaseDevices: activities.bareLeaseDevices, bareReleaseDevices: activities.bareReleaseDevices },
      maxCachedWorkflows: r.maxCachedWorkflows,
      maxConcurrentWorkflowTaskExecutions: 100,
      maxConcurrentActivityTaskExecutions: 1000,
    }),
    await Worker.create({ connection: r.connection, taskQueue: QUEUES.gpu, activities: { barePush: activities.barePush }, maxConcurrentActivityTaskExecutions: 1000 }),
    await Worker.create({
      connection: r.connection,
      taskQueue: QUEUES.edge,
      activities: { bareProbe: activities.bareProbe, bareSwap: activities.bareSwap, bareValidate: activities.bareValidate },
      maxConcurrentActivityTaskExecutions: 1000,
      maxConcurrentActivityTaskPolls: 10,
    }),
  ];
  const workersCreatedMs = Date.now() - tWorkers;
  const running = Promise.all(workers.map((w) => w.run()));
  try {
    const workflowId = `bare-fleet-${r.waves.flat().length}`;
    r.beforeStart();
    const t0 = Date.now();
    const handle = await r.client.workflow.start(bareFleet, {
      taskQueue: QUEUES.control,
      workflowId,
      args: [{ waves: r.waves, maxParallel: r.maxParallel, queues: QUEUES, leaseBatch: 1000, releaseBatch: 250, ...(r.startWindow !== undefined ? { startWindow: r.startWindow } : {}) }],
    });
    r.log(`started ${workflowId} (the bare-engine program)`);
    const waveWorkflowIds = r.waves.map((_, i) => `${workflowId}.wave-${i}`);
    let done = false;
    const result = handle.result().finally(() => (done = true));
    const deadline = t0 + r.timeoutMin * 60_000;
    while (!done) {
      await Promise.race([result.catch(() => undefined), new Promise((res) => setTimeout(res, 5000))]);
      if (done) break;
      if (Date.now() > deadline) throw new Error(`the bare-engine program gave no result after ${r.timeoutMin} min`);
      const closed = await Promise.all(waveWorkflowIds.map((id) => r.client.workflow.getHandle(id).describe().then((d) => d.status.name !== 'RUNNING', () => false)));
      r.log(`[${((Date.now() - t0) / 1000).toFixed(1)} s] bare engine: ${closed.filter(Boolean).length}/${r.waves.length} waves closed; ${r.extra()}`);
    }
    const validated = await result;
    r.afterClose();
    if (validated !== r.waves.flat().length) throw new Error(`the bare-engine program ran ${validated} of ${r.waves.flat().length} devices`);
    return { workflowId, waveWorkflowIds, wallMs: Date.now() - t0, workersCreatedMs };
  } finally {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await running.catch(() => undefined);
  }
}
