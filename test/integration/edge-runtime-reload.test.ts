// The packaged device's restart method: the REAL runtime (onnxruntime) follows `current` by itself
// (reloadOnChange), and the real edge activities with restartCommand null swap and restore
// through it — no command, no privilege. A model that cannot load is never claimed: /healthz
// keeps naming the model served, the swap fails as "did not load", and the restore brings the
// backup back.
import assert from 'node:assert/strict';
import { copyFile, mkdir, rm, symlink, unlink } from 'node:fs/promises';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createEdgeActivities } from '../../activities/edge';
import type { EdgeDevice } from '../../activities/edge/device';
import { probeHealth, waitForServedSha } from '../../activities/edge/health';
import type { EdgeActivities, SwapFailureDetails } from '../../common/contracts';
import { startRuntime, type RuntimeHandle } from '../../edge/server';
import { buildTestModels, makeModelDir, type TestModel, type TestModels } from '../helpers/edgeModels';

async function stage(modelDir: string, m: TestModel): Promise<void> {
  const staged = path.join(modelDir, 'staging', `${m.sha256}.onnx`);
  await copyFile(m.path, staged);
  await copyFile(m.metadataPath, `${staged}.meta.json`);
}

async function healthBody(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('runtime that reloads when current changes (restart method self-reload)', function () {
  this.timeout(120_000);
  let models: TestModels;
  let modelDir: string;
  let runtime: RuntimeHandle;
  let device: EdgeDevice;
  let acts: EdgeActivities;
  const events: string[] = [];

  before(async () => {
    models = (await buildTestModels('tiny')) as TestModels;
    modelDir = await makeModelDir(models.good);
    for (const d of ['staging', 'backups']) await mkdir(path.join(modelDir, d));
    runtime = await startRuntime({ modelDir, port: 0, deviceId: 'reload-dev', reloadOnChange: true, reloadPollMs: 100, inferenceWorkers: 0, onEvent: (e) => events.push(e) });
    await runtime.ready;
    device = { id: 'reload-dev', target: 'cpu-fp32', modelDir, healthUrl: `${runtime.url}/healthz`, inferenceUrl: `${runtime.url}/infer`, keepBackups: 3, restartCommand: null };
    acts = createEdgeActivities(device, { pollIntervalMs: 100 });
  });

  after(async () => {
    await runtime?.close();
    if (modelDir) await rm(modelDir, { recursive: true, force: true });
  });

  it('swaps and restores with no restart command: /healthz names the new sha, then the backup', async () => {
    await stage(modelDir, models.constant);
    const swap = await acts.swapModel({ deploymentId: 'dep-reload', runId: 'run-1', sha256: models.constant.sha256, ext: 'onnx', healthTimeoutMs: 30_000 });
    assert.equal(swap.servedSha256Prefix, models.constant.sha256.slice(0, 16));
    assert.equal(swap.restartMs, 0, 'no command ran');
    assert.equal(swap.backup?.sha256, models.good.sha256);
    const served = await healthBody(device.healthUrl);
    assert.equal(served.body.sha256, models.constant.sha256);
    assert.equal(served.body.reload_error, undefined);
    const infer = await fetch(device.inferenceUrl, { method: 'POST', body: JSON.stringify({ x: Array.from({ length: 100 }, () => Array(9).fill(0.5)) }) });
    assert.equal(infer.status, 200);

    const restored = await acts.restoreBackup({ deploymentId: 'dep-reload', runId: 'run-1', backup: swap.backup });
    assert.equal(restored.outcome, 'restored');
    assert.equal(restored.servedSha256Prefix, models.good.sha256.slice(0, 16));
    assert.equal((await healthBody(device.healthUrl)).body.sha256, models.good.sha256);
    assert.ok(events.includes('model reloaded'), events.join(','));
  });

  it('never claims a model that fails to load: the swap fails, the old model keeps serving, the restore puts the backup back', async () => {
    await stage(modelDir, models.nan);
    const err = await acts.swapModel({ deploymentId: 'dep-nan', runId: 'run-1', sha256: models.nan.sha256, ext: 'onnx', healthTimeoutMs: 3000 }).then(
      () => assert.fail('a model with NaN outputs must not be served'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, 'HealthCheckFailed', err.message);
    assert.equal((err.details?.[0] as SwapFailureDetails).switched, true);
    const during = await healthBody(device.healthUrl);
    assert.equal(during.status, 200);
    assert.equal(during.body.sha256, models.good.sha256, 'still the model actually loaded');
    assert.match(String(during.body.reload_error), /self-test|finite|NaN/i);

    const restored = await acts.restoreBackup({ deploymentId: 'dep-nan', runId: 'run-1', backup: null });
    assert.equal(restored.outcome, 'restored');
    await waitForServedSha({ healthUrl: device.healthUrl, sha256: models.good.sha256, timeoutMs: 10_000 });
    // The restore moved `current` back: the runtime reloaded the backup, and the error is history.
    const deadline = Date.now() + 10_000;
    while ((await healthBody(device.healthUrl)).body.reload_error !== undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal((await healthBody(device.healthUrl)).body.reload_error, undefined);
  });

  it('serves nothing (503) when current is removed, and loads again when it comes back', async () => {
    const link = path.join(modelDir, 'current');
    await unlink(link);
    let obs = await probeHealth(device.healthUrl);
    const deadline = Date.now() + 10_000;
    while (obs.status !== 503 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      obs = await probeHealth(device.healthUrl);
    }
    assert.equal(obs.status, 503);
    assert.match(obs.reason ?? '', /no model installed/);
    const noModel = await fetch(device.inferenceUrl, { method: 'POST', body: JSON.stringify({ x: Array.from({ length: 100 }, () => Array(9).fill(0.5)) }) });
    assert.equal(noModel.status, 503);
    await symlink(path.join('releases', `${models.good.sha256}.onnx`), link);
    await waitForServedSha({ healthUrl: device.healthUrl, sha256: models.good.sha256, timeoutMs: 10_000 });
  });
});
