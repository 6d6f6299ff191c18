// The edge worker PROCESS (workers/edge.ts) against a real Temporal dev server and a simulated
// device with its real runtime: it polls edge.<deviceId>, runs the swap end to end, returns
// typed failures, and drains and exits 0 on SIGTERM.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { waitForServedSha } from '../../activities/edge/health';
import { PROJECT_ROOT } from '../../lib/paths';
import { startSimulatedFleet, type SimulatedFleet } from '../../sim/fleet';
import { buildTestModels, type TestModels } from '../helpers/edgeModels';
import { startTestTemporal } from '../helpers/temporalEnv';
import type { EdgeProbeResult } from '../fixtures/workflows/probes';

function waitForLine(child: ChildProcessWithoutNullStreams, pattern: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms; stderr:\n${seen.slice(-2000)}`)), timeoutMs);
    child.stderr.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited (${code}) before ${pattern}; stderr:\n${seen.slice(-2000)}`));
    });
  });
}

describe('edge worker process', function () {
  this.timeout(120_000);
  let env: TestWorkflowEnvironment;
  let fleet: SimulatedFleet;
  let models: TestModels;
  let work: string;
  let child: ChildProcessWithoutNullStreams | undefined;

  before(async () => {
    models = (await buildTestModels('tiny')) as TestModels;
    work = await mkdtemp(path.join(tmpdir(), 'edgeship-edge-worker-'));
    [env, fleet] = await Promise.all([
      startTestTemporal(),
      startSimulatedFleet({ count: 1, ids: ['worker-dev'], baseDir: work, sshServer: 'embedded', baseline: { modelPath: models.good.path, metadataPath: models.good.metadataPath } }),
    ]);
  });

  after(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await fleet?.stop();
    await env?.teardown();
    await rm(work, { recursive: true, force: true });
  });

  it('serves edge.<deviceId>: swap end to end, typed failures, graceful SIGTERM', async () => {
    const device = fleet.devices[0].spec;
    child = spawn(process.execPath, ['--import', 'tsx', 'workers/edge.ts', '--inventory', fleet.inventoryPath, '--device', device.id, '--address', env.address, '--namespace', 'default'], { cwd: PROJECT_ROOT });
    child.stdout.resume();
    await waitForLine(child, /edge worker polling/, 60_000);
    await waitForServedSha({ healthUrl: device.healthUrl, sha256: models.good.sha256, timeoutMs: 30_000 });

    const staged = path.join(device.modelDir, 'staging', `${models.constant.sha256}.onnx`);
    await copyFile(models.constant.path, staged);
    await copyFile(models.constant.metadataPath, `${staged}.meta.json`);

    const probe = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'edge-worker-test',
      workflowsPath: require.resolve('../fixtures/workflows/probes'),
    });
    const [swapped, missing] = await probe.runUntil(async () => {
      const run = (id: string, sha256: string) =>
        env.client.workflow.execute('edgeSwapProbe', { taskQueue: 'edge-worker-test', workflowId: id, args: [device.id, { deploymentId: id, runId: 'run-1', sha256, ext: 'onnx', healthTimeoutMs: 30_000 }] }) as Promise<EdgeProbeResult>;
      return [await run('deploy-worker-test', models.constant.sha256), await run('deploy-missing', 'f'.repeat(64))];
    });

    assert.ok(swapped.ok, JSON.stringify(swapped));
    assert.equal(swapped.swap.servedSha256Prefix, models.constant.sha256.slice(0, 16));
    assert.equal(swapped.swap.backup?.sha256, models.good.sha256);
    assert.deepEqual(swapped.discard.removed, []);
    assert.ok(!missing.ok);
    assert.equal(missing.errorType, 'ArtifactNotStaged');
    assert.equal(missing.nonRetryable, true);

    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
    const stopped = waitForLine(child, /edge worker stopped/, 20_000);
    child.kill('SIGTERM');
    await stopped;
    assert.equal(await exited, 0);
  });
});
