// One edge worker PROCESS serving two devices (workers/edge.ts --device a --device b), against a
// real Temporal dev server and two simulated devices with their runtimes: both edge.<id> queues
// are polled (one Worker each, the process's pid in both identities), each queue runs its own
// device's activities (a model staged on one device swaps there and is not staged on the other),
// and SIGTERM drains both and exits 0.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import * as path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { waitForServedSha } from '../../activities/edge/health';
import { PROJECT_ROOT } from '../../lib/paths';
import { edgeTaskQueue } from '../../common/queues';
import { startSimulatedFleet, type SimulatedFleet } from '../../sim/fleet';
import { buildTestModels, type TestModels } from '../helpers/edgeModels';
import { startTestTemporal } from '../helpers/temporalEnv';
import type { EdgeProbeResult } from '../fixtures/workflows/probes';
import { parseEdgeWorkerIdentity } from '../../common/edgeVersion';

const ACTIVITY_QUEUE = temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY;

function collectStderr(child: ChildProcessWithoutNullStreams): () => string {
  let seen = '';
  child.stderr.on('data', (chunk: Buffer) => (seen += chunk.toString()));
  return () => seen;
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number, detail: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms\n${detail().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('edge worker process serving several devices', function () {
  this.timeout(120_000);
  let env: TestWorkflowEnvironment;
  let fleet: SimulatedFleet;
  let models: TestModels;
  let work: string;
  let child: ChildProcessWithoutNullStreams | undefined;

  before(async () => {
    models = (await buildTestModels('tiny')) as TestModels;
    work = await mkdtemp(path.join(tmpdir(), 'edgeship-edge-worker-multi-'));
    [env, fleet] = await Promise.all([
      startTestTemporal(),
      startSimulatedFleet({ count: 2, ids: ['multi-a', 'multi-b'], baseDir: work, sshServer: 'embedded', baseline: { modelPath: models.good.path, metadataPath: models.good.metadataPath } }),
    ]);
  });

  after(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await fleet?.stop();
    await env?.teardown();
    await rm(work, { recursive: true, force: true });
  });

  it('polls edge.<a> and edge.<b> from one process, each bound to its own device; SIGTERM drains both', async () => {
    const [a, b] = fleet.devices.map((d) => d.spec);
    child = spawn(process.execPath, ['--import', 'tsx', 'workers/edge.ts', '--inventory', fleet.inventoryPath, '--device', a.id, '--device', b.id, '--address', env.address, '--namespace', 'default'], { cwd: PROJECT_ROOT });
    child.stdout.resume();
    const stderr = collectStderr(child);
    const pid = child.pid!;
    await waitFor('"edge worker polling" for both devices', () => (stderr().match(/edge worker polling/g) ?? []).length >= 2, 60_000, stderr);
    for (const d of [a, b]) {
      await waitFor(`poller on ${edgeTaskQueue(d.id)} from pid ${pid}`, async () => {
        const res = await env.client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: edgeTaskQueue(d.id) }, taskQueueType: ACTIVITY_QUEUE });
        return (res.pollers ?? []).some((p) => parseEdgeWorkerIdentity(p.identity ?? '')?.deviceId === d.id && parseEdgeWorkerIdentity(p.identity ?? '')?.pid === pid && parseEdgeWorkerIdentity(p.identity ?? '')?.host === hostname());
      }, 30_000, stderr);
      await waitForServedSha({ healthUrl: d.healthUrl, sha256: models.good.sha256, timeoutMs: 30_000 });
    }

    // Staged on device a only: a's queue swaps it in; b's queue (b's model directory) has no such artifact.
    const staged = path.join(a.modelDir, 'staging', `${models.constant.sha256}.onnx`);
    await copyFile(models.constant.path, staged);
    await copyFile(models.constant.metadataPath, `${staged}.meta.json`);
    const probe = await Worker.create({ connection: env.nativeConnection, taskQueue: 'edge-worker-multi-test', workflowsPath: require.resolve('../fixtures/workflows/probes') });
    const [onA, onB] = await probe.runUntil(async () => {
      const run = (deviceId: string, id: string) =>
        env.client.workflow.execute('edgeSwapProbe', { taskQueue: 'edge-worker-multi-test', workflowId: id, args: [deviceId, { deploymentId: id, runId: 'run-1', sha256: models.constant.sha256, ext: 'onnx', healthTimeoutMs: 30_000 }] }) as Promise<EdgeProbeResult>;
      return Promise.all([run(a.id, 'deploy-multi-a'), run(b.id, 'deploy-multi-b')]);
    });
    assert.ok(onA.ok, JSON.stringify(onA));
    assert.equal(onA.swap.servedSha256Prefix, models.constant.sha256.slice(0, 16));
    assert.ok(!onB.ok, JSON.stringify(onB));
    assert.equal(onB.errorType, 'ArtifactNotStaged');
    await waitForServedSha({ healthUrl: b.healthUrl, sha256: models.good.sha256, timeoutMs: 10_000 });

    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr().slice(-2000));
    assert.match(stderr(), /edge worker stopped/);
  });

  it('refuses a device that is not in the inventory before connecting (exit 2)', async () => {
    const bad = spawn(process.execPath, ['--import', 'tsx', 'workers/edge.ts', '--inventory', fleet.inventoryPath, '--devices', `${fleet.devices[0].id},no-such-device`, '--address', env.address], { cwd: PROJECT_ROOT });
    bad.stdout.resume();
    const stderr = collectStderr(bad);
    const code = await new Promise<number | null>((resolve) => bad.once('exit', (c) => resolve(c)));
    assert.equal(code, 2, stderr());
    assert.match(stderr(), /no-such-device/);
  });
});
