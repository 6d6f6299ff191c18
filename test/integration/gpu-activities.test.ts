// The GPU activities on the real demo checkpoint: real PyTorch export, ORT parity, calibration
// and onnxruntime INT8 quantization, in a scratch artifact store.
import * as assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import type { CalibrationResult, ExportModelResult, ModelMetadata } from '../../common/contracts';
import { buildCalibrationSet } from '../../activities/gpu/buildCalibrationSet';
import { compileModel } from '../../activities/gpu/compileModel';
import { exportModel } from '../../activities/gpu/exportModel';
import { ArtifactStore, sha256File } from '../../activities/gpu/artifactStore';
import { parseModelMetadata } from '../../edge/metadata';
import { degenerateCheckpoint, demoCheckpoint, EXPORT_COMMAND_FIXTURE, rejectsWithType, tempDir } from '../helpers/gpuFixtures';
import { pythonExecutable } from '../../lib/paths';

function readMeta(file: string): ModelMetadata {
  return parseModelMetadata(JSON.parse(readFileSync(file, 'utf8')), file);
}

describe('gpu activities on the demo model (real Python)', function () {
  this.timeout(300_000);
  let root: string;
  let store: ArtifactStore;
  let ckpt: { path: string; sha256: string };
  let exp: ExportModelResult;
  let cal: CalibrationResult;

  before(async () => {
    ckpt = await demoCheckpoint();
    root = tempDir('gpu-store');
    store = new ArtifactStore(root);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('exports the encoder to ONNX that matches PyTorch on every probe, with a complete sidecar', async () => {
    exp = await exportModel({ modelName: 'tcn-vae-demo', source: { kind: 'checkpoint', checkpointPath: ckpt.path } }, store);
    assert.equal(exp.reused, false);
    assert.equal(exp.sourceSha256, ckpt.sha256);
    assert.ok(exp.parity.minCosine >= 0.9999, `min cosine ${exp.parity.minCosine}`);
    assert.ok(exp.parity.maxAbsDiff < 1e-4, `max abs diff ${exp.parity.maxAbsDiff}`);
    assert.deepEqual(exp.parity.probes.map((p) => p.name), ['zeros', 'stationary', 'walking', 'running', 'random']);
    assert.equal(await sha256File(exp.onnx.path), exp.onnx.sha256);
    assert.ok(exp.onnx.path.startsWith(`${root}/${exp.onnx.sha256}/`));

    const meta = readMeta(exp.metadataPath);
    assert.equal(exp.metadataPath, `${exp.onnx.path}.meta.json`);
    assert.equal(meta.sha256, exp.onnx.sha256);
    assert.equal(meta.sizeBytes, exp.onnx.sizeBytes);
    assert.equal(meta.target, 'cpu-fp32');
    assert.deepEqual(meta.input, { name: 'imu_window', shape: [1, 100, 9] });
    assert.deepEqual(meta.output, { name: 'latent_embeddings', shape: [1, 64] });
    assert.deepEqual(meta.normalization.mean, [0.12, -0.08, 9.78, 0.002, -0.001, 0.003, 22.4, -8.7, 43.2]);
    assert.equal(meta.sourceCheckpointSha256, ckpt.sha256);
    assert.equal(meta.opset, 17);
    assert.ok(meta.versions.torch && meta.versions.onnx && meta.versions['onnxruntime-node']);
    // A trained encoder maps different activities to different embeddings.
    const walking = meta.probes.find((p) => p.name === 'walking')!.reference;
    const stationary = meta.probes.find((p) => p.name === 'stationary')!.reference;
    assert.ok(walking.some((v, i) => Math.abs(v - stationary[i]) > 1e-2));
  });

  it('reuses the finished export for the same checkpoint and options', async () => {
    const again = await exportModel({ modelName: 'tcn-vae-demo', source: { kind: 'checkpoint', checkpointPath: ckpt.path } }, store);
    assert.equal(again.reused, true);
    assert.deepEqual(again.onnx, exp.onnx);
    assert.ok(again.durationMs < exp.durationMs);
  });

  it('re-applies a stricter parity gate to a reused export', async () => {
    await rejectsWithType(exportModel({ modelName: 'tcn-vae-demo', source: { kind: 'checkpoint', checkpointPath: ckpt.path }, parityMinCosine: 1 }, store), 'ParityGateFailed', { nonRetryable: true });
  });

  it('exports the Conv2d form, proven equal by the same parity check', async () => {
    const c2 = await exportModel({ modelName: 'tcn-vae-demo', source: { kind: 'checkpoint', checkpointPath: ckpt.path }, conv2d: true }, store);
    assert.notEqual(c2.onnx.sha256, exp.onnx.sha256);
    assert.ok(c2.parity.minCosine >= 0.9999);
    assert.equal(readMeta(c2.metadataPath).conv2d, true);
  });

  it('accepts a user export command and applies the same checks', async () => {
    const r = await exportModel({ modelName: 'user-cmd', source: { kind: 'command', argv: [pythonExecutable(), EXPORT_COMMAND_FIXTURE, 'ok', ckpt.path] } }, store);
    assert.ok(r.parity.minCosine >= 0.9999);
    assert.equal(r.onnx.sha256, exp.onnx.sha256, 'the same export through a command gives the same bytes');
  });

  it('builds a z-scored calibration set with its class mix, and reuses it', async () => {
    cal = await buildCalibrationSet({ modelName: 'tcn-vae-demo', metadataPath: exp.metadataPath, samples: 256 }, store);
    assert.equal(cal.samples, 256);
    assert.equal(cal.source, 'synthetic');
    assert.equal(Object.values(cal.classMix).reduce((a, b) => a + b, 0), 256);
    assert.ok(Object.keys(cal.classMix).length >= 4);
    assert.equal(cal.channelMean.length, 9);
    assert.ok(cal.channelMean.every((m) => Math.abs(m) < 1), `means ${cal.channelMean}`);
    assert.ok(cal.channelStd.every((s) => s > 0.3 && s < 3), `stds ${cal.channelStd}`);
    const npyHeader = readFileSync(cal.calibrationSet.path).subarray(0, 128).toString('latin1');
    assert.match(npyHeader, /'descr': '<f4'.*'shape': \(256, 100, 9\)/);
    const again = await buildCalibrationSet({ modelName: 'tcn-vae-demo', metadataPath: exp.metadataPath, samples: 256 }, store);
    assert.equal(again.reused, true);
    assert.equal(again.calibrationSet.sha256, cal.calibrationSet.sha256);
  });

  it('quantizes to INT8 within the similarity gate, smaller, with its own sidecar', async () => {
    const r = await compileModel({ modelName: 'tcn-vae-demo', target: 'cpu-int8', onnx: exp.onnx, metadataPath: exp.metadataPath, calibrationSet: cal.calibrationSet }, store);
    assert.equal(r.format, 'onnx');
    assert.ok(r.similarity!.minCosine >= 0.99, `min cosine ${r.similarity!.minCosine}`);
    assert.ok(r.similarity!.meanCosine >= r.similarity!.minCosine);
    assert.ok(r.sizes.artifactBytes < r.sizes.fp32Bytes / 2);
    assert.ok(r.latencyMs!.fp32 > 0 && r.latencyMs!.artifact > 0);
    const meta = readMeta(r.metadataPath);
    assert.equal(meta.target, 'cpu-int8');
    assert.equal(meta.sha256, r.artifact.sha256);
    assert.equal(meta.exportedFromOnnxSha256, exp.onnx.sha256);
    assert.deepEqual(meta.probes, readMeta(exp.metadataPath).probes);

    const again = await compileModel({ modelName: 'tcn-vae-demo', target: 'cpu-int8', onnx: exp.onnx, metadataPath: exp.metadataPath, calibrationSet: cal.calibrationSet }, store);
    assert.equal(again.reused, true);
    assert.equal(again.artifact.sha256, r.artifact.sha256);
    await rejectsWithType(compileModel({ modelName: 'tcn-vae-demo', target: 'cpu-int8', onnx: exp.onnx, metadataPath: exp.metadataPath, calibrationSet: cal.calibrationSet, int8MinCosine: 0.99999 }, store), 'QuantizationGateFailed', { nonRetryable: true });
  });

  it('cpu-fp32 ships the exported model itself after re-checking it', async () => {
    const r = await compileModel({ modelName: 'tcn-vae-demo', target: 'cpu-fp32', onnx: exp.onnx, metadataPath: exp.metadataPath, calibrationSet: cal.calibrationSet }, store);
    assert.deepEqual(r.artifact, exp.onnx);
    assert.equal(r.metadataPath, exp.metadataPath);
  });

  it('exports the degenerate candidate: GPU parity passes although every input gives the same embedding', async () => {
    const bad = await degenerateCheckpoint();
    const r = await exportModel({ modelName: 'tcn-vae-degenerate', source: { kind: 'checkpoint', checkpointPath: bad.path } }, store);
    assert.ok(r.parity.minCosine >= 0.9999);
    const refs = readMeta(r.metadataPath).probes.map((p) => p.reference);
    for (const ref of refs) assert.deepEqual(ref, refs[0]);
  });
});
