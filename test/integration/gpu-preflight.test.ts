// Model gates on the GPU server, before anything is staged: preflightModel on the demo model
// (FP32 and INT8 clear every gate; margins printed) and on foreign models that each fail one
// gate; plus the small gates of issue 8 item 5 (request parity gate reaches compileFp32, a text
// checkpoint, a NaN token in reference.json, fewer than 4 probes, a 2× scale in the references).
import * as assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { CalibrationResult, ExportModelResult, PreflightResult } from '../../common/contracts';
import { buildCalibrationSet } from '../../activities/gpu/buildCalibrationSet';
import { compileModel } from '../../activities/gpu/compileModel';
import { exportModel } from '../../activities/gpu/exportModel';
import { ArtifactStore } from '../../activities/gpu/artifactStore';
import { DEFAULT_PREFLIGHT_GATES, preflightModel } from '../../activities/gpu/preflightModel';
import { PROJECT_ROOT, pythonExecutable } from '../../lib/paths';
import { demoCheckpoint, rejectsWithType, tempDir } from '../helpers/gpuFixtures';

const FOREIGN = path.join(PROJECT_ROOT, 'test', 'fixtures', 'preflight_models.py');

function margins(r: PreflightResult): string {
  return r.checks.map((c) => {
    if (typeof c.value === 'boolean') return `  ${c.name}: ${c.value}`;
    const g = c.gate as number;
    const upper = ['maxAbsValue', 'maxAbsValueFullScale', 'maxRelativeError', 'parityMaxAbsDiff'].includes(c.name);
    const margin = upper ? `${(g / Math.max(c.value, 1e-300)).toPrecision(3)}x under` : `${(c.value / Math.max(g, 1e-300)).toPrecision(3)}x over`;
    return `  ${c.name}: ${c.value.toPrecision(5)} (gate ${g}; ${margin})`;
  }).join('\n');
}

describe('gpu: pre-flight model gates (before staging)', function () {
  this.timeout(600_000);
  let root: string;
  let scratch: string;
  let store: ArtifactStore;
  let exp: ExportModelResult;
  let cal: CalibrationResult;

  const fromCommand = (mode: string) => exportModel({ modelName: `foreign-${mode}`, source: { kind: 'command', argv: [pythonExecutable(), FOREIGN, mode] } }, store);
  const preflight = (e: ExportModelResult) => preflightModel({ modelName: 'candidate', artifact: e.onnx, metadataPath: e.metadataPath }, store);

  before(async () => {
    root = tempDir('gpu-preflight-store');
    scratch = tempDir('gpu-preflight');
    store = new ArtifactStore(root);
    const ckpt = await demoCheckpoint();
    exp = await exportModel({ modelName: 'tcn-vae-demo', source: { kind: 'checkpoint', checkpointPath: ckpt.path } }, store);
    cal = await buildCalibrationSet({ modelName: 'tcn-vae-demo', metadataPath: exp.metadataPath, samples: 2000 }, store);
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  });

  it('the demo FP32 model clears every gate (figures and margins printed)', async () => {
    const r = await preflight(exp);
    assert.equal(r.passed, true);
    assert.ok(r.figures.windows >= 1000);
    for (const c of ['activity', 'upside-down', 'on-side', 'free-fall', 'saturated', 'constant', 'noise']) assert.ok((r.figures.categories[c] ?? 0) > 0, c);
    assert.equal(r.checked.role, 'artifact');
    console.log(`      demo FP32 pre-flight over ${r.figures.windows} windows:\n${margins(r)}`);
  });

  it('the demo INT8 model (S8S8 default) clears every gate', async () => {
    const int8 = await compileModel({ modelName: 'tcn-vae-demo', target: 'cpu-int8', onnx: exp.onnx, metadataPath: exp.metadataPath, calibrationSet: cal.calibrationSet }, store);
    assert.equal(int8.quantization?.settings.format, 'S8S8');
    const meta = JSON.parse(readFileSync(int8.metadataPath, 'utf8')) as { quantization?: { cpu: { procFlags: string[] } } };
    assert.ok(meta.quantization?.cpu.procFlags, 'metadata records the CPU features of the INT8 figure');
    const r = await preflightModel({ modelName: 'tcn-vae-demo', artifact: int8.artifact, metadataPath: int8.metadataPath }, store);
    assert.equal(r.passed, true);
    console.log(`      demo INT8 (${int8.quantization?.settings.format}, INT8 vs FP32 min cosine ${int8.similarity?.minCosine.toFixed(5)}, speed-up ${int8.quantization?.speedup}x on ${int8.quantization?.cpu.model} vnni=${int8.quantization?.cpu.vnni}) pre-flight:\n${margins(r)}`);
  });

  it('a model that outputs NaN when upside down fails allFinite (export parity could not see it)', async () => {
    const e = await fromCommand('nan-upside-down');
    const err = await rejectsWithType(preflight(e), 'PreflightGateFailed', { nonRetryable: true, message: /allFinite: non-finite embeddings on \d+ upside-down/ });
    const details = err.details?.[0] as PreflightResult;
    assert.equal(details.passed, false);
    assert.equal(details.checks.find((c) => c.name === 'allFinite')?.passed, false);
    assert.ok(!details.figures.nonFinite.some((n) => n.category === 'activity'), 'finite on ordinary activity windows');
  });

  it('a constant-output model fails variance and distinctness', async () => {
    const e = await fromCommand('constant');
    const err = await rejectsWithType(preflight(e), 'PreflightGateFailed', { message: /minOutputVariance/ });
    const failed = (err.details?.[0] as PreflightResult).checks.filter((c) => !c.passed).map((c) => c.name);
    assert.deepEqual(failed.sort(), ['minOutputVariance', 'minPairwiseDistance']);
  });

  it('a model whose embeddings reach |190| fails maxAbsValue', async () => {
    const e = await fromCommand('big');
    const err = await rejectsWithType(preflight(e), 'PreflightGateFailed', { message: /maxAbsValue: an embedding value reaches/ });
    const f = (err.details?.[0] as PreflightResult).figures;
    assert.ok(f.maxAbsValue > DEFAULT_PREFLIGHT_GATES.maxAbsValue);
  });

  it('references 2× the outputs fail the export parity scale gate, and the pre-flight scale gate', async () => {
    const err = await rejectsWithType(fromCommand('scaled-reference'), 'ParityGateFailed', { nonRetryable: true, message: /differ in scale.*relative error 5\.000e-1/ });
    assert.ok(((err.details?.[0] as { minCosine: number }).minCosine) > 0.9999, 'direction alone agrees');
    // The same mistake reaching the pre-flight (e.g. metadata edited after export): a copy of the
    // good model's metadata with every reference doubled.
    const good = await fromCommand('good');
    const meta = JSON.parse(readFileSync(good.metadataPath, 'utf8')) as { probes: Array<{ reference: number[] }> };
    for (const p of meta.probes) p.reference = p.reference.map((v) => 2 * v);
    const doubled = path.join(scratch, 'doubled.meta.json');
    writeFileSync(doubled, JSON.stringify(meta));
    assert.equal((await preflight(good)).passed, true);
    const pf = await rejectsWithType(preflightModel({ modelName: 'candidate', artifact: good.onnx, metadataPath: doubled }, store), 'PreflightGateFailed', { message: /maxRelativeError: scale differs/ });
    const f = (pf.details?.[0] as PreflightResult).figures;
    assert.ok(Math.abs(f.normRatio.max - 0.5) < 1e-3 && f.minReferenceCosine > 0.9999, `norm ratio ${f.normRatio.max}`);
  });

  it('a reference.json with fewer than 4 probes is refused', async () => {
    await rejectsWithType(fromCommand('few-probes'), 'ExportCommandFailed', { nonRetryable: true, message: /at least 4 probes/ });
  });

  it('a NaN token in reference.json is reported as a NaN, not as a JSON parse error', async () => {
    const script = path.join(scratch, 'nan_token.py');
    writeFileSync(script, `import json, os, shutil, subprocess, sys
out = os.environ["EDGESHIP_EXPORT_DIR"]
subprocess.run([sys.executable, ${JSON.stringify(FOREIGN)}, "good"], check=True)
ref = json.load(open(os.path.join(out, "reference.json")))
ref["probes"][2]["reference"][5] = float("nan")
json.dump(ref, open(os.path.join(out, "reference.json"), "w"))  # Python writes a bare NaN token
`);
    await rejectsWithType(exportModel({ modelName: 'nan-token', source: { kind: 'command', argv: [pythonExecutable(), script] } }, store),
      'ModelOutputNotFinite', { nonRetryable: true, message: /holds a NaN value \(line 1, column \d+\)/ });
  });

  it('a text file as checkpoint is a non-retryable CheckpointCorrupt', async () => {
    const file = path.join(scratch, 'notes.pt');
    writeFileSync(file, 'these are my training notes, not a checkpoint\n');
    await rejectsWithType(exportModel({ modelName: 'text', source: { kind: 'checkpoint', checkpointPath: file } }, store), 'CheckpointCorrupt', { nonRetryable: true, message: /not a PyTorch checkpoint.*text file/ });
  });

  it('gates.parityMinCosine reaches compileFp32', async () => {
    // The demo export agrees to 1 - 2e-14: a gate of exactly 1 cannot be met by float rounding,
    // a default-gated compile passes, so a failure proves the request's gate was used.
    const ok = await compileModel({ modelName: 'tcn-vae-demo', target: 'cpu-fp32', onnx: exp.onnx, metadataPath: exp.metadataPath, calibrationSet: cal.calibrationSet }, store);
    assert.equal(ok.target, 'cpu-fp32');
    await rejectsWithType(compileModel({ modelName: 'tcn-vae-demo', target: 'cpu-fp32', onnx: exp.onnx, metadataPath: exp.metadataPath, calibrationSet: cal.calibrationSet, parityMinCosine: 1 }, store),
      'ParityGateFailed', { nonRetryable: true, message: /< gate 1 / });
  });
});
