// validateDeployment against the real runtime serving real ONNX models, with short load windows.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { copyFile, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import type { ValidateDeploymentInput, ValidationReport } from '../../common/contracts';
import { ErrorType } from '../../common/errors';
import { createValidateDeployment, type ValidationDevice } from '../../activities/edge/validateDeployment';
import { startRuntime, type RuntimeHandle } from '../../edge/server';
import { buildTestModels, makeModelDir, type TestModels } from '../helpers/edgeModels';

const SHORT = { latencyRequests: 100, warmupRequests: 5, concurrency: 4, throughputDurationMs: 400 } satisfies Partial<ValidateDeploymentInput>;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function expectFailure(p: Promise<unknown>, type: string): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `expected ApplicationFailure, got ${String(err)}`);
    assert.equal(err.type, type, err.message);
    return err;
  }
  assert.fail(`expected ${type}, but it resolved`);
}

describe('validateDeployment (real runtime, real models)', function () {
  this.timeout(60_000);
  let models: TestModels;
  const dirs: string[] = [];
  const runtimes: RuntimeHandle[] = [];

  async function device(model: keyof TestModels): Promise<ValidationDevice> {
    const dir = await makeModelDir(models[model]);
    dirs.push(dir);
    const rt = await startRuntime({ modelDir: dir, port: 0, deviceId: `dev-${model}` });
    runtimes.push(rt);
    await rt.ready;
    return { id: `dev-${model}`, modelDir: dir, healthUrl: `${rt.url}/healthz`, inferenceUrl: `${rt.url}/infer` };
  }

  before(async () => {
    models = (await buildTestModels('tiny')) as TestModels;
  });

  after(async () => {
    await Promise.all(runtimes.map((r) => r.close()));
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('passes a good model and returns measured figures', async () => {
    const dev = await device('good');
    const report = await createValidateDeployment(dev)({ sha256: models.good.sha256, ext: 'onnx', ...SHORT });
    assert.equal(report.passed, true, report.failures.join('\n'));
    assert.deepEqual(report.failures, []);
    assert.equal(report.deviceId, 'dev-good');
    assert.equal(report.servedSha256Prefix, models.good.sha256.slice(0, 16));
    const l = report.latencyMs;
    assert.equal(l.count, 100);
    assert.ok(l.p50 > 0 && l.p50 <= l.p90 && l.p90 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max, JSON.stringify(l));
    assert.equal(report.throughput.concurrency, 4);
    assert.ok(report.throughput.completed > 0 && report.throughput.errors === 0);
    assert.ok(Math.abs(report.throughput.durationMs - 400) < 50, `window ${report.throughput.durationMs} ms`);
    assert.ok(Math.abs(report.throughput.rps - report.throughput.completed / (report.throughput.durationMs / 1000)) < 0.01);
    assert.equal(report.outputs.allFinite, true);
    assert.equal(report.outputs.distinctInputsDistinctOutputs, true);
    assert.equal(report.outputs.referenceCosine.length, 5);
    assert.ok(report.outputs.minReferenceCosine > 0.9999, String(report.outputs.minReferenceCosine));
    assert.equal(report.gates.p95LatencyMs, 50);
  });

  it('fails ValidationGateFailed with the report when the outputs are constant', async () => {
    const dev = await device('constant');
    const err = await expectFailure(createValidateDeployment(dev)({ sha256: models.constant.sha256, ext: 'onnx', ...SHORT }), ErrorType.ValidationGateFailed);
    assert.equal(err.nonRetryable, true);
    const report = err.details?.[0] as ValidationReport;
    assert.equal(report.passed, false);
    assert.equal(report.outputs.distinctInputsDistinctOutputs, false);
    assert.equal(report.outputs.minPairwiseDistance, 0);
    assert.ok(report.failures.some((f) => /same embedding/.test(f)), report.failures.join('\n'));
    assert.equal(report.latencyMs.count, 100);
  });

  it('fails impossibly strict gates with the measured figures in the report', async () => {
    const dev = await device('good');
    const gates = { p95LatencyMs: 0.001, minThroughputRps: 1e9, minReferenceCosine: 1 };
    const err = await expectFailure(createValidateDeployment(dev)({ sha256: models.good.sha256, ext: 'onnx', ...SHORT, gates }), ErrorType.ValidationGateFailed);
    const report = err.details?.[0] as ValidationReport;
    assert.equal(report.gates.p95LatencyMs, 0.001);
    assert.ok(report.latencyMs.p95 > 0.001);
    assert.ok(report.throughput.rps > 0 && report.throughput.rps < 1e9);
    assert.ok(report.failures.some((f) => f.startsWith(`latency: p95 ${report.latencyMs.p95.toFixed(3)} ms > gate 0.001 ms`)), report.failures.join('\n'));
    assert.ok(report.failures.some((f) => /^throughput: .* req\/s < gate 1000000000/.test(f)), report.failures.join('\n'));
    assert.match(err.message, /validation failed on dev-good/);
  });

  it('is retryable DeviceUnreachable when nothing listens', async () => {
    const port = await freePort();
    const dir = await makeModelDir(models.good);
    dirs.push(dir);
    const dev = { id: 'dev-gone', modelDir: dir, healthUrl: `http://127.0.0.1:${port}/healthz`, inferenceUrl: `http://127.0.0.1:${port}/infer` };
    const err = await expectFailure(createValidateDeployment(dev)({ sha256: models.good.sha256, ext: 'onnx', ...SHORT }), ErrorType.DeviceUnreachable);
    assert.equal(err.nonRetryable, false);
  });

  it('refuses to measure when the device serves another model', async () => {
    const dev = await device('good');
    // The constant model is staged in releases/ but `current` still serves the good one.
    const release = path.join(dev.modelDir, 'releases', `${models.constant.sha256}.onnx`);
    await copyFile(models.constant.path, release);
    await copyFile(models.constant.metadataPath, `${release}.meta.json`);
    const err = await expectFailure(createValidateDeployment(dev)({ sha256: models.constant.sha256, ext: 'onnx', ...SHORT }), ErrorType.HealthCheckFailed);
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, new RegExp(`serves ${models.good.sha256.slice(0, 16)}`));
  });

  it('rejects a release without metadata and bad inputs without touching the device', async () => {
    const dev = { id: 'dev-x', modelDir: '/nonexistent', healthUrl: 'http://127.0.0.1:1/healthz', inferenceUrl: 'http://127.0.0.1:1/infer' };
    const v = createValidateDeployment(dev);
    await expectFailure(v({ sha256: models.good.sha256, ext: 'onnx' }), ErrorType.ArtifactNotStaged);
    await expectFailure(v({ sha256: '../etc', ext: 'onnx' }), ErrorType.InvalidRequest);
    await expectFailure(v({ sha256: models.good.sha256, ext: 'onnx', latencyRequests: 10 }), ErrorType.InvalidRequest);
    await expectFailure(v({ sha256: models.good.sha256, ext: 'onnx', gates: { p95LatencyMs: -5 } }), ErrorType.InvalidRequest);
  });
});
