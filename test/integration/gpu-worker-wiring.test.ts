// The GPU worker against a real Temporal dev server: its `control` Worker runs workflow tasks and
// resolveDevices (createGpuWorker, in-process, with a probe workflow standing in for the
// deployment workflow); typed failures of those activities reach the workflow. And the worker
// process (workers/gpu.ts) starts with the project's workflows, polls, and drains on SIGTERM.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { DeviceInfo } from '../../common/contracts';
import { parseInventory, type Inventory } from '../../lib/inventory';
import { PROJECT_ROOT } from '../../lib/paths';
import { CONTROL_TASK_QUEUE, GPU_TASK_QUEUE } from '../../common/queues';
import { ensureKeyPair } from '../../sim/keys';
import { createGpuWorker } from '../../workers/gpuWorker';
import { prebuiltWorkflowBundle, writeWorkflowBundle } from '../../workers/workflowBundle';
import { startTestTemporal } from '../helpers/temporalEnv';

describe('GPU worker wiring (createGpuWorker)', function () {
  this.timeout(120_000);
  let env: TestWorkflowEnvironment;
  let work: string;
  let inventory: Inventory;
  let inventoryPath: string;

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'edgeship-gpu-worker-'));
    env = await startTestTemporal();
    const hostKey = ensureKeyPair(path.join(work, 'host'), 'test-host');
    const clientKey = ensureKeyPair(path.join(work, 'client'), 'test-client');
    inventory = parseInventory({
      devices: [{
        id: 'cam-01', target: 'cpu-int8',
        ssh: { host: '127.0.0.1', port: 2222, user: 'edge', privateKeyPath: clientKey.privateKeyPath, knownHosts: `[127.0.0.1]:2222 ${hostKey.publicKey}` },
        modelDir: '/srv/edgeship/models', restartCommand: ['/usr/bin/systemctl', 'restart', 'edge-runtime'],
        healthUrl: 'http://127.0.0.1:9000/healthz', inferenceUrl: 'http://127.0.0.1:9000/infer',
      }],
    });
    inventoryPath = path.join(work, 'inventory.json');
    await writeFile(inventoryPath, JSON.stringify(inventory));
  });
  after(async () => {
    await env?.teardown();
    await rm(work, { recursive: true, force: true });
  });

  it('runs workflow tasks and resolveDevices on "control", the model work on "gpu"', async () => {
    const handle = await createGpuWorker({
      inventory,
      connection: env.nativeConnection,
      workflowsPath: require.resolve('../fixtures/workflows/probes'),
      modelActivityOptions: { storeDir: path.join(work, 'store') },
    });
    assert.equal(handle.taskQueue, GPU_TASK_QUEUE);
    assert.equal(handle.controlTaskQueue, CONTROL_TASK_QUEUE);
    const [devices, unknown] = await handle.runUntil(async () => {
      const run = (id: string, ids: string[]) => env.client.workflow.execute('resolveDevicesProbe', { taskQueue: CONTROL_TASK_QUEUE, workflowId: id, args: [ids] }) as Promise<DeviceInfo[]>;
      return [await run('probe-known', ['cam-01']), await run('probe-unknown', ['cam-99']).catch((err: unknown) => err)];
    });
    assert.deepEqual(devices.map((d) => [d.id, d.modelDir, d.healthUrl]), [['cam-01', '/srv/edgeship/models', 'http://127.0.0.1:9000/healthz']]);
    assert.ok(unknown instanceof WorkflowFailedError, String(unknown));
    const cause = unknown.cause?.cause;
    assert.ok(cause instanceof ApplicationFailure);
    assert.equal(cause.type, 'DeviceNotFound');
  });

  it('runs the workflows from a prebuilt bundle without bundling them, and refuses a missing or foreign bundle with the fix', async () => {
    const { file } = await writeWorkflowBundle(require.resolve('../fixtures/workflows/probes'), path.join(work, 'bundle', 'workflow-bundle.js'));
    const handle = await createGpuWorker({ inventory, connection: env.nativeConnection, workflowBundlePath: file, modelActivityOptions: { storeDir: path.join(work, 'store') } });
    const devices = await handle.runUntil(() => env.client.workflow.execute('resolveDevicesProbe', { taskQueue: CONTROL_TASK_QUEUE, workflowId: 'probe-prebuilt', args: [['cam-01']] }) as Promise<DeviceInfo[]>);
    assert.deepEqual(devices.map((d) => d.id), ['cam-01']);
    assert.throws(() => prebuiltWorkflowBundle(path.join(work, 'no-such-bundle.js')), /does not exist: build it with `npm run build`/);
    assert.throws(() => prebuiltWorkflowBundle(inventoryPath), /is not a workflow bundle made by `npm run build`/);
  });

  it('the worker process bundles the project workflows, polls "gpu" and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'workers/gpu.ts', '--inventory', inventoryPath, '--address', env.address, '--namespace', 'default'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, EDGESHIP_ARTIFACT_STORE: path.join(work, 'store') },
    });
    let log = '';
    child.stdout.resume();
    child.stderr.on('data', (c: Buffer) => (log += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 90_000;
    while (!/gpu worker polling/.test(log) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    try {
      assert.match(log, /gpu worker polling/, log.slice(-2000));
      assert.match(log, /"devices":\["cam-01"\]/);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, log.slice(-2000));
    assert.match(log, /gpu worker stopped/);
  });
});
