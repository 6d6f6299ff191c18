// The device-side binding check: an INT8 artifact ships fixed windows with their FP32 outputs in
// its metadata; validateDeployment runs them on the device's own runtime and CPU and gates
// direction (deviceMinCosine) and scale (deviceMaxRelativeError).
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { ApplicationFailure } from '@temporalio/common';
import type { ModelMetadata, ValidationReport } from '../../common/contracts';
import { buildCalibrationSet } from '../../activities/gpu/buildCalibrationSet';
import { BINDING_WINDOWS, compileModel, fp32Binding } from '../../activities/gpu/compileModel';
import { exportModel } from '../../activities/gpu/exportModel';
import { ArtifactStore } from '../../activities/gpu/artifactStore';
import { createValidateDeployment, type ValidationDevice } from '../../activities/edge/validateDeployment';
import { startRuntime, type RuntimeHandle } from '../../edge/server';
import { makeModelDir } from '../helpers/edgeModels';
import { demoCheckpoint, tempDir } from '../helpers/gpuFixtures';

const SHORT = { latencyRequests: 100, warmupRequests: 5, concurrency: 2, throughputDurationMs: 300, gates: { p95LatencyMs: 10_000, minThroughputRps: 0 } };

describe('validateDeployment: binding windows on the device', function () {
  this.timeout(600_000);
  let root: string;
  let int8: { path: string; metadataPath: string; sha256: string };
  let fp32: Awaited<ReturnType<typeof exportModel>>;
  const dirs: string[] = [];
  const runtimes: RuntimeHandle[] = [];

  async function device(metadata?: string): Promise<ValidationDevice> {
    const dir = await makeModelDir(int8, metadata ? { metadata } : {});
    dirs.push(dir);
    const rt = await startRuntime({ modelDir: dir, port: 0, deviceId: 'dev-int8' });
    runtimes.push(rt);
    await rt.ready;
    return { id: 'dev-int8', modelDir: dir, healthUrl: `${rt.url}/healthz`, inferenceUrl: `${rt.url}/infer` };
  }

  before(async () => {
    root = tempDir('validate-binding');
    const store = new ArtifactStore(root);
    const ckpt = await demoCheckpoint();
    const exp = await exportModel({ modelName: 'tcn-vae-demo', source: { kind: 'checkpoint', checkpointPath: ckpt.path } }, store);
    fp32 = exp;
    const cal = await buildCalibrationSet({ modelName: 'tcn-vae-demo', metadataPath: exp.metadataPath, samples: 2000 }, store);
    const r = await compileModel({ modelName: 'tcn-vae-demo', target: 'cpu-int8', onnx: exp.onnx, metadataPath: exp.metadataPath, calibrationSet: cal.calibrationSet }, store);
    int8 = { path: r.artifact.path, metadataPath: r.metadataPath, sha256: r.artifact.sha256 };
  });
  after(async () => {
    await Promise.all(runtimes.map((r) => r.close()));
    for (const d of [...dirs, root]) rmSync(d, { recursive: true, force: true });
  });

  it('the INT8 metadata ships the windows; the device agrees with FP32 in direction and scale', async () => {
    const meta = JSON.parse(readFileSync(int8.metadataPath, 'utf8')) as ModelMetadata;
    assert.equal(meta.binding?.windows.length, BINDING_WINDOWS);
    assert.equal(meta.binding?.reference[0].length, 64);
    const report = await createValidateDeployment(await device())({ sha256: int8.sha256, ext: 'onnx', ...SHORT });
    const b = report.outputs.binding!;
    console.log(`      device binding: ${b.answered}/${b.windows} windows, cosine min ${b.minCosine.toFixed(5)} mean ${b.meanCosine.toFixed(5)} (gate ${report.gates.deviceMinCosine}), relative error max ${b.maxRelativeError.toFixed(4)} (gate ${report.gates.deviceMaxRelativeError})`);
    assert.equal(report.passed, true, report.failures.join('\n'));
    assert.equal(b.answered, BINDING_WINDOWS);
    assert.ok(b.minCosine >= 0.99);
  });

  it('a HEF gets the same binding set from the FP32 ONNX (ml/binding.py), since only its device can run it', async () => {
    const meta = JSON.parse(readFileSync(int8.metadataPath, 'utf8')) as ModelMetadata;
    const work = tempDir('hef-binding');
    dirs.push(work);
    const binding = await fp32Binding(fp32.onnx, JSON.parse(readFileSync(fp32.metadataPath, 'utf8')) as ModelMetadata, work);
    assert.equal(binding.fp32Sha256, fp32.onnx.sha256);
    assert.equal(binding.windows.length, BINDING_WINDOWS);
    // The quantizer's set and this one: same windows, same FP32 model, same references.
    // (=== on the numbers: the metadata file went through JSON.stringify, which writes -0 as 0.)
    const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
    assert.ok(same(binding.windows, meta.binding?.windows), 'the same windows');
    assert.ok(same(binding.reference, meta.binding?.reference), 'the same FP32 references');
  });

  it('FP32 outputs that disagree in scale on the device fail ValidationGateFailed', async () => {
    const meta = JSON.parse(readFileSync(int8.metadataPath, 'utf8')) as ModelMetadata;
    meta.binding!.reference = meta.binding!.reference.map((r) => r.map((v) => 2 * v));
    const dev = await device(JSON.stringify(meta));
    try {
      await createValidateDeployment(dev)({ sha256: int8.sha256, ext: 'onnx', ...SHORT });
      assert.fail('validation passed');
    } catch (err) {
      assert.ok(err instanceof ApplicationFailure && err.type === 'ValidationGateFailed', String(err));
      const report = err.details?.[0] as ValidationReport;
      assert.ok(report.failures.some((f) => /binding: relative error .* > gate 0\.2/.test(f)), report.failures.join('\n'));
      assert.ok(report.outputs.binding!.minCosine >= 0.99, 'direction alone agrees');
    }
  });
});
