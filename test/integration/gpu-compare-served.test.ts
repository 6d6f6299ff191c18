// Champion vs challenger (issue 8): compareWithServed runs the candidate and the model each device
// serves now on the same held-out windows. The demo model against itself, the demo FP32 against
// its INT8 build (figures printed), a served sha that is not in the store and a HEF (missing, with
// the reason, no figures), the drift gate failing with the whole result, and a labelled data
// folder giving nearest-centroid activity accuracy.
import * as assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { CalibrationResult, CompareWithServedInput, CompareWithServedResult, CompileResult, ExportModelResult, ServedComparison } from '../../common/contracts';
import { ArtifactStore } from '../../activities/gpu/artifactStore';
import { buildCalibrationSet } from '../../activities/gpu/buildCalibrationSet';
import { compareWithServed, NOT_IN_STORE } from '../../activities/gpu/compareWithServed';
import { compileModel } from '../../activities/gpu/compileModel';
import { exportModel } from '../../activities/gpu/exportModel';
import { NON_RETRYABLE_ERROR_TYPES } from '../../common/errors';
import { demoCheckpoint, python, rejectsWithType, tempDir } from '../helpers/gpuFixtures';

function figures(c: ServedComparison): string {
  const task = c.task ? `; task on ${c.task.labelledWindows} labelled windows: candidate ${c.task.candidateAccuracy.toFixed(3)}, served ${c.task.servedAccuracy.toFixed(3)}, agreement ${c.task.agreement.toFixed(3)}` : '';
  return `${c.windows} windows: cosine min ${c.cosine?.min.toFixed(6)} p05 ${c.cosine?.p05.toFixed(6)} mean ${c.cosine?.mean.toFixed(6)}; ` +
    `norm ratio min ${c.normRatio?.min.toFixed(4)} median ${c.normRatio?.median.toFixed(4)} max ${c.normRatio?.max.toFixed(4)}; drift ${c.drift?.toExponential(3)}${task}`;
}

describe('gpu: compare the candidate with what devices serve now', function () {
  this.timeout(180_000);
  let root: string;
  let scratch: string;
  let store: ArtifactStore;
  let exp: ExportModelResult;
  let cal: CalibrationResult;
  let int8: CompileResult;

  const int8VsFp32 = (extra: Partial<CompareWithServedInput> = {}): Promise<CompareWithServedResult> => compareWithServed({
    modelName: 'tcn-vae-demo', candidate: int8.artifact, candidateMetadataPath: int8.metadataPath,
    served: [{ sha256: exp.onnx.sha256, deviceIds: ['pi-01', 'pi-02'] }], ...extra,
  }, store);

  before(async () => {
    root = tempDir('gpu-compare-store');
    scratch = tempDir('gpu-compare');
    store = new ArtifactStore(root);
    const ckpt = await demoCheckpoint();
    exp = await exportModel({ modelName: 'tcn-vae-demo', source: { kind: 'checkpoint', checkpointPath: ckpt.path } }, store);
    cal = await buildCalibrationSet({ modelName: 'tcn-vae-demo', metadataPath: exp.metadataPath, samples: 500 }, store);
    int8 = await compileModel({ modelName: 'tcn-vae-demo', target: 'cpu-int8', onnx: exp.onnx, metadataPath: exp.metadataPath, calibrationSet: cal.calibrationSet }, store);
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  });

  it('finds a served model in the store by its sha256, verified, with its metadata', async () => {
    const hit = await store.findBySha256(int8.artifact.sha256);
    assert.deepEqual(hit, { model: int8.artifact, metadataPath: int8.metadataPath });
    assert.equal(await store.findBySha256('0'.repeat(64)), undefined);
  });

  it('the demo model against itself: cosine 1, norm ratio 1, drift 0; a second run is reused', async () => {
    const input: CompareWithServedInput = {
      modelName: 'tcn-vae-demo', candidate: exp.onnx, candidateMetadataPath: exp.metadataPath,
      served: [{ sha256: exp.onnx.sha256, deviceIds: ['pi-01'] }], maxDriftFromServed: 1e-6,
    };
    const r = await compareWithServed(input, store);
    const [c] = r.comparisons;
    console.log(`      demo FP32 vs itself over ${figures(c)}`);
    assert.equal(c.found, 'store');
    assert.equal(c.windows, 512);
    assert.ok(c.cosine && c.cosine.min > 1 - 1e-9, `min cosine ${c.cosine?.min}`);
    assert.ok(c.normRatio && Math.abs(c.normRatio.min - 1) < 1e-9 && Math.abs(c.normRatio.max - 1) < 1e-9);
    assert.ok((c.drift as number) < 1e-9);
    assert.equal(c.task, undefined, 'no data folder: no task figure');
    assert.equal(c.passed, true);
    assert.equal(r.gate, 1e-6);
    assert.equal(r.reused, false);
    const again = await compareWithServed(input, store);
    assert.equal(again.reused, true);
    assert.deepEqual(again.comparisons, r.comparisons);
  });

  it('the demo INT8 build against the FP32 a device serves: figures printed, drift small', async () => {
    const r = await int8VsFp32();
    const [c] = r.comparisons;
    console.log(`      demo INT8 (${int8.quantization?.settings.format}) candidate vs FP32 served over ${figures(c)}`);
    assert.equal(c.found, 'store');
    assert.deepEqual(c.deviceIds, ['pi-01', 'pi-02']);
    assert.ok((c.drift as number) > 1e-6, 'INT8 is not bit-identical to FP32');
    assert.ok((c.drift as number) < 0.05, `drift ${c.drift}`);
    assert.ok(c.normRatio && c.normRatio.min > 0.8 && c.normRatio.max < 1.25, JSON.stringify(c.normRatio));
    assert.ok(c.cosine && c.cosine.min <= c.cosine.p05 && c.cosine.p05 <= c.cosine.mean);
    assert.equal(c.passed, true, 'no gate: report only');
    assert.equal(r.gate, undefined);
  });

  it('a served sha not in the store, and a served HEF, are missing with the reason and no figures', async () => {
    // A HEF in the store (as a hailo8 compile leaves it): it runs only on the NPU.
    const hefFile = path.join(scratch, 'encoder.hef');
    writeFileSync(hefFile, 'HEF bytes of a hailo8 build');
    const hef = await store.commitFile(hefFile, 'tcn-vae-demo-hailo8.hef');
    const meta = JSON.parse(readFileSync(exp.metadataPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(`${hef.path}.meta.json`, JSON.stringify({ ...meta, format: 'hef', target: 'hailo8', sha256: hef.sha256, sizeBytes: hef.sizeBytes, exportedFromOnnxSha256: exp.onnx.sha256 }));
    const elsewhere = 'ab'.repeat(32);
    const r = await int8VsFp32({
      served: [{ sha256: elsewhere, deviceIds: ['cam-07'] }, { sha256: hef.sha256, deviceIds: ['npu-01'] }, { sha256: exp.onnx.sha256, deviceIds: ['pi-01'] }],
      maxDriftFromServed: 0.5,
    });
    const [missing, hefRow, found] = r.comparisons;
    assert.deepEqual(missing, { servedSha256: elsewhere, deviceIds: ['cam-07'], found: 'missing', reason: NOT_IN_STORE, passed: false });
    assert.equal(hefRow.found, 'missing');
    assert.match(hefRow.reason ?? '', /a HEF \(hailo8\) runs only on a Hailo NPU; it cannot run on this server \(it was compiled from ONNX [0-9a-f]{12}\)/);
    assert.equal(hefRow.cosine, undefined);
    assert.equal(hefRow.drift, undefined);
    assert.equal(found.found, 'store');
    assert.equal(found.passed, true, 'within the 0.5 gate; the missing ones do not fail it');
    assert.equal(r.reused, true, 'the INT8 vs FP32 figures come from the earlier job');
  });

  it('a drift beyond maxDriftFromServed is a non-retryable DriftGateFailed carrying the whole result', async () => {
    assert.ok(NON_RETRYABLE_ERROR_TYPES.includes('DriftGateFailed'));
    const err = await rejectsWithType(int8VsFp32({ maxDriftFromServed: 1e-6 }), 'DriftGateFailed', {
      nonRetryable: true, message: /drifts from what 1 served model\(s\) compute, beyond maxDriftFromServed 0\.000001: [0-9a-f]{12} \(devices pi-01, pi-02\): drift /,
    });
    const details = err.details?.[0] as CompareWithServedResult;
    assert.equal(details.gate, 1e-6);
    assert.equal(details.comparisons.length, 1);
    assert.equal(details.comparisons[0].passed, false);
    assert.ok((details.comparisons[0].drift as number) > 1e-6);
    assert.ok(details.comparisons[0].cosine && details.comparisons[0].normRatio);
  });

  it('a labelled data folder adds nearest-centroid activity accuracy of both models, and their agreement', async () => {
    const dataDir = path.join(scratch, 'recorded');
    // One folder per class, raw sensor units, as buildCalibrationSet reads them; a top-level file is unlabeled.
    python(`import os, sys, numpy as np
from synthetic import generate
out = sys.argv[1]
w, labels = generate(300, 4242)
for c in sorted(set(labels)):
    os.makedirs(os.path.join(out, c), exist_ok=True)
    idx = [i for i, l in enumerate(labels) if l == c]
    np.save(os.path.join(out, c, "part1.npy"), w[idx[:30]])
    np.save(os.path.join(out, c, "part2.npy"), w[idx[30:]])
np.save(os.path.join(out, "loose.npy"), w[:5])
`, [dataDir]);
    const r = await int8VsFp32({ dataDir });
    const [c] = r.comparisons;
    console.log(`      demo INT8 vs FP32 with labels over ${figures(c)}`);
    assert.ok(c.task, 'task figures');
    assert.equal(c.task.labelledWindows, 300, 'the unlabeled top-level windows are left out');
    for (const v of [c.task.candidateAccuracy, c.task.servedAccuracy, c.task.agreement]) assert.ok(v >= 0 && v <= 1);
    assert.ok(c.task.servedAccuracy > 0.6, `FP32 accuracy ${c.task.servedAccuracy} (5 classes: chance 0.2)`);
    assert.ok(c.task.agreement > 0.8, `agreement ${c.task.agreement}`);
    assert.equal(r.reused, false, 'a data folder is part of the job key');

    // Only unlabeled windows: no task figure, and the result says why.
    const flat = path.join(scratch, 'flat');
    python('import os, sys, numpy as np\nfrom synthetic import generate\nos.makedirs(sys.argv[1])\nnp.save(os.path.join(sys.argv[1], "w.npy"), generate(20, 1)[0])', [flat]);
    const r2 = await int8VsFp32({ dataDir: flat });
    assert.equal(r2.comparisons[0].task, undefined);
    assert.match(r2.taskSkipped ?? '', /at least 2 classes/);
  });
});
