// npm run bench:workflow-heap — the heap each cached workflow execution keeps in the worker, per
// workflow type that runs once per device (deviceOwner, deviceRollout, rolloutWave), next to a
// bare workflow. The SDK gives every execution its own copy of every module its bundle's entry
// requires, so a per-device workflow that drags in the request schema (zod) pays for it once per
// device in every worker's cache.
//
// How: a real dev server; one worker in debug mode (workflows on the main thread, so this
// process's heap is theirs) with a cache large enough for every execution; N executions of a type
// started and parked (an owner holding a lease, a device rollout waiting for an edge queue nobody
// polls, a paused wave, a bare workflow waiting on a condition); once each has finished its first
// workflow task and sits in the cache, a full GC and the heap difference / N.
//   node --expose-gc --require tsx/cjs bench/workflow-heap.ts [--count 200]
import { parseArgs } from 'node:util';
import { WithStartWorkflowOperation, WorkflowIdConflictPolicy } from '@temporalio/client';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { createOwnershipActivities } from '../activities/gpu/ownership';
import { defaultGatesAt } from '../common/gates';
import { DEVICE_OWNER_CODE, deviceOwnerWorkflowId } from '../common/ownership';
import { CONTROL_TASK_QUEUE } from '../common/queues';
import type { DeviceRolloutInput, WaveInput } from '../common/rollout';
import { startTestTemporal } from '../test/helpers/temporalEnv';
import { requestLeaseUpdate } from '../workflows/deviceMessages';

const gc = (globalThis as { gc?: () => void }).gc;

async function settledHeap(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 50));
  }
  return process.memoryUsage().heapUsed;
}

const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { count: { type: 'string', default: '200' } } });
  const count = Number(values.count);
  if (!gc) throw new Error('run with node --expose-gc (npm run bench:workflow-heap does)');
  if (!Number.isInteger(count) || count < 10) throw new Error('--count must be an integer ≥ 10');
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const env = await startTestTemporal();
  const { client } = env;
  const workers = [
    await Worker.create({
      connection: env.nativeConnection,
      taskQueue: CONTROL_TASK_QUEUE,
      workflowsPath: require.resolve('../workflows'),
      activities: createOwnershipActivities(client),
      debugMode: true,
      maxCachedWorkflows: count * 4 + 100,
    }),
    await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'bench-bare',
      workflowsPath: require.resolve('./workflow-heap/bareWorkflow'),
      debugMode: true,
      maxCachedWorkflows: count + 10,
    }),
  ];
  const running = workers.map((w) => w.run());
  const cached = (): number => workers.reduce((n, w) => n + w.getStatus().numCachedWorkflows, 0);

  async function measure(name: string, startOne: (i: number) => Promise<unknown>): Promise<number> {
    const before = await settledHeap();
    const cachedBefore = cached();
    const t0 = performance.now();
    for (let i = 0; i < count; i += 20) await Promise.all(Array.from({ length: Math.min(20, count - i) }, (_, k) => startOne(i + k)));
    for (const deadline = Date.now() + 120_000; cached() < cachedBefore + count; ) {
      if (Date.now() > deadline) throw new Error(`${name}: only ${cached() - cachedBefore} of ${count} executions reached the cache`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 1000)); // let the last workflow tasks complete
    const after = await settledHeap();
    const per = (after - before) / count;
    console.log(`${name.padEnd(14)} ${count} cached executions: heap +${kib(after - before)} → ${kib(per)} per execution (${((performance.now() - t0) / 1000).toFixed(1)} s to start and park)`);
    return per;
  }

  const runId = '00000000-0000-4000-8000-000000000000';
  const settings = {
    deploymentId: 'deploy-heap-cpu-int8-000000000000',
    runId,
    modelName: 'heap',
    artifact: { path: '/nowhere/model.onnx', sha256: 'a'.repeat(64), sizeBytes: 1 },
    metadataPath: '/nowhere/model.onnx.meta.json',
    ext: 'onnx' as const,
    gates: defaultGatesAt('device'),
    validation: { latencyRequests: 200, concurrency: 8, throughputDurationMs: 3000 },
    edge: { healthTimeoutMs: 60_000, deviceDeadline: 1_800_000, restoreDeadline: 3_600_000, queueWait: 120_000 },
    soakMs: 0,
    offlineAfterMs: 3_600_000, // nobody polls the edge queues: each device rollout parks on its probe
  };
  try {
    console.log(`workflow heap per cached execution (node ${process.version}, ${count} executions each, worker in debug mode)`);
    await measure('bare workflow', (i) => client.workflow.start('bareParked', { taskQueue: 'bench-bare', workflowId: `bare-${i}` }));
    await measure('deviceOwner', (i) =>
      client.workflow.executeUpdateWithStart(requestLeaseUpdate, {
        args: [{ deploymentId: `holder-${i}`, runId, modelName: 'heap', onBusy: 'queue' }],
        startWorkflowOperation: new WithStartWorkflowOperation('deviceOwner', { workflowId: deviceOwnerWorkflowId(`heap-${i}`), taskQueue: CONTROL_TASK_QUEUE, args: [{ deviceId: `heap-${i}`, code: DEVICE_OWNER_CODE }], workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING }),
      }),
    );
    await measure('deviceRollout', (i) => {
      const input: DeviceRolloutInput = { ...settings, deviceId: `heap-${i}`, mode: 'deploy', wave: 'wave-1' };
      return client.workflow.start('deviceRollout', { taskQueue: CONTROL_TASK_QUEUE, workflowId: `${settings.deploymentId}.heap-${i}`, args: [input] });
    });
    await measure('rolloutWave', (i) => {
      // A paused wave starts no device: it parks with its devices pending.
      const input: WaveInput = { name: `wave-${i}`, index: 1, mode: 'deploy', devices: [`heap-${i}`], maxParallel: 1, settings, paused: true };
      return client.workflow.start('rolloutWave', { taskQueue: CONTROL_TASK_QUEUE, workflowId: `${settings.deploymentId}.wave-${i}`, args: [input] });
    });
  } finally {
    for (const w of workers) w.shutdown();
    await Promise.allSettled(running);
    await env.teardown();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
