// The worker processes' Prometheus endpoint against a real Temporal dev server: the edge worker
// started with --metrics-port and the GPU worker with EDGESHIP_METRICS_PORT each serve the SDK's
// `temporal_` series on GET /metrics, labelled with their own task queue.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { parseInventory } from '../../lib/inventory';
import { PROJECT_ROOT } from '../../lib/paths';
import { CONTROL_TASK_QUEUE, edgeTaskQueue, GPU_TASK_QUEUE } from '../../common/queues';
import { ensureKeyPair } from '../../sim/keys';
import { startTestTemporal } from '../helpers/temporalEnv';

/** A port that was free a moment ago (the worker binds it right after). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

interface Started {
  child: ChildProcessWithoutNullStreams;
  log: () => string;
  exited: Promise<number | null>;
}

function startWorker(args: string[], env: NodeJS.ProcessEnv): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: PROJECT_ROOT, env: { ...process.env, ...env } });
  let log = '';
  child.stdout.resume();
  child.stderr.on('data', (c: Buffer) => (log += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, log: () => log, exited };
}

async function waitFor(w: Started, pattern: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(w.log()) && w.child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  assert.match(w.log(), pattern, w.log().slice(-2000));
}

/** The slot gauge of one worker type on one task queue (the SDK registers it once that poller runs). */
const slotGauge = (taskQueue: string, workerType: 'ActivityWorker' | 'WorkflowWorker'): RegExp =>
  new RegExp(`^temporal_worker_task_slots_available\\{[^}]*task_queue="${taskQueue.replace('.', '\\.')}"[^}]*worker_type="${workerType}"[^}]*\\} \\d+$`, 'm');

/** Scrapes until every one of `wanted` shows up (the SDK registers series as its pollers start). */
async function scrape(port: number, wanted: RegExp[], timeoutMs: number): Promise<{ contentType: string; text: string }> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`).catch((err: unknown) => err as Error);
    if (!(res instanceof Error)) {
      last = await res.text();
      if (res.status === 200 && wanted.every((w) => w.test(last))) {
        return { contentType: res.headers.get('content-type') ?? '', text: last };
      }
    } else {
      last = res.message;
    }
    if (Date.now() > deadline) throw new Error(`not every series of ${wanted.join(', ')} on :${port} within ${timeoutMs} ms; last answer:\n${last.slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('worker metrics for Prometheus (--metrics-port / EDGESHIP_METRICS_PORT)', function () {
  this.timeout(180_000);
  let env: TestWorkflowEnvironment;
  let work: string;
  let inventoryPath: string;
  const started: Started[] = [];

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'edgeship-worker-metrics-'));
    env = await startTestTemporal();
    const hostKey = ensureKeyPair(path.join(work, 'host'), 'test-host');
    const clientKey = ensureKeyPair(path.join(work, 'client'), 'test-client');
    const inventory = parseInventory({
      devices: [{
        id: 'metrics-01', target: 'cpu-fp32',
        ssh: { host: '127.0.0.1', port: 2222, user: 'edge', privateKeyPath: clientKey.privateKeyPath, knownHosts: `[127.0.0.1]:2222 ${hostKey.publicKey}` },
        modelDir: path.join(work, 'device'), restartCommand: ['/bin/true'],
        healthUrl: 'http://127.0.0.1:9/healthz', inferenceUrl: 'http://127.0.0.1:9/infer',
      }],
    });
    inventoryPath = path.join(work, 'inventory.json');
    await writeFile(inventoryPath, JSON.stringify(inventory));
  });

  after(async () => {
    for (const w of started) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    await env?.teardown();
    await rm(work, { recursive: true, force: true });
  });

  it('the edge and GPU worker processes serve temporal_ metrics for their task queues', async () => {
    const [edgePort, gpuPort] = [await freePort(), await freePort()];
    const connection = ['--inventory', inventoryPath, '--address', env.address, '--namespace', 'default'];
    const edge = startWorker(['workers/edge.ts', ...connection, '--device', 'metrics-01', '--metrics-port', String(edgePort), '--metrics-host', '127.0.0.1'], {});
    const gpu = startWorker(['workers/gpu.ts', ...connection], { EDGESHIP_METRICS_PORT: String(gpuPort), EDGESHIP_METRICS_HOST: '127.0.0.1', EDGESHIP_ARTIFACT_STORE: path.join(work, 'store') });
    started.push(edge, gpu);
    await Promise.all([waitFor(edge, /edge worker polling/, 90_000), waitFor(gpu, /gpu worker polling/, 120_000)]);
    assert.match(edge.log(), new RegExp(`"metrics":"http://127\\.0\\.0\\.1:${edgePort}/metrics"`));

    // Slot gauges per worker type: the activity worker on edge.<id>; on the GPU server the workflow
    // worker of the control plane and both worker types on gpu (which also serves older runs' workflows).
    const edgeWanted = [slotGauge(edgeTaskQueue('metrics-01'), 'ActivityWorker')];
    const gpuWanted = [slotGauge(CONTROL_TASK_QUEUE, 'WorkflowWorker'), slotGauge(GPU_TASK_QUEUE, 'WorkflowWorker'), slotGauge(GPU_TASK_QUEUE, 'ActivityWorker')];
    const [edgeMetrics, gpuMetrics] = await Promise.all([scrape(edgePort, edgeWanted, 30_000), scrape(gpuPort, gpuWanted, 30_000)]);
    for (const m of [edgeMetrics, gpuMetrics]) {
      assert.match(m.contentType, /text\/plain/);
      assert.match(m.text, /^# TYPE temporal_\w+ (counter|gauge|histogram)$/m);
      assert.match(m.text, /service_name="temporal-core-sdk"/);
    }
    for (const w of edgeWanted) assert.match(edgeMetrics.text, w);
    for (const w of gpuWanted) assert.match(gpuMetrics.text, w);
    assert.doesNotMatch(edgeMetrics.text, /task_queue="gpu"/);

    for (const w of [edge, gpu]) w.child.kill('SIGTERM');
    assert.deepEqual(await Promise.all([edge.exited, gpu.exited]), [0, 0]);
  });

  it('refuses a metrics port that is not 1-65535', async () => {
    const w = startWorker(['workers/edge.ts', '--inventory', inventoryPath, '--device', 'metrics-01', '--metrics-port', '0'], {});
    started.push(w);
    assert.equal(await w.exited, 1);
    assert.match(w.log(), /--metrics-port <port>' argument '0' is invalid\. expected a port 1-65535/);
  });
});
