// Mixed precision: when the INT8 model misses its gate, compileModel keeps the most sensitive
// nodes in FP32 (chosen on selection windows, judged on held-out ones) and says which; when even
// that cannot reach the gate, QuantizationGateFailed carries every attempt. The gates here are
// set above what the fully quantized demo model reaches (S8S8 min cosine 0.998 on this host).
import * as assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { CalibrationResult, ExportModelResult, QuantizationFigures } from '../../common/contracts';
import { buildCalibrationSet } from '../../activities/gpu/buildCalibrationSet';
import { compileModel } from '../../activities/gpu/compileModel';
import { exportModel } from '../../activities/gpu/exportModel';
import { ArtifactStore } from '../../activities/gpu/artifactStore';
import { demoCheckpoint, rejectsWithType, tempDir } from '../helpers/gpuFixtures';

describe('INT8 mixed precision when the gate fails', function () {
  this.timeout(900_000);
  let root: string;
  let store: ArtifactStore;
  let exp: ExportModelResult;
  let cal: CalibrationResult;

  before(async () => {
    root = tempDir('int8-mixed');
    store = new ArtifactStore(root);
    const ckpt = await demoCheckpoint();
    exp = await exportModel({ modelName: 'tcn-vae-demo', source: { kind: 'checkpoint', checkpointPath: ckpt.path } }, store);
    cal = await buildCalibrationSet({ modelName: 'tcn-vae-demo', metadataPath: exp.metadataPath, samples: 2000 }, store);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('keeps sensitive nodes in FP32 until the gate holds, and reports them', async () => {
    const gate = 0.999;
    const r = await compileModel({ modelName: 'tcn-vae-demo', target: 'cpu-int8', onnx: exp.onnx, metadataPath: exp.metadataPath, calibrationSet: cal.calibrationSet, int8MinCosine: gate }, store);
    const q = r.quantization!;
    console.log(`      attempts: ${q.attempts.map((a) => `[${a.excludedNodes.join(', ') || 'all INT8'}] ${a.minCosine.toFixed(5)}`).join(' → ')}`);
    assert.ok(r.similarity!.minCosine >= gate);
    if (q.attempts[0].minCosine < gate) {
      assert.ok(q.excludedNodes.length > 0);
      assert.deepEqual(q.excludedNodes, q.attempts.at(-1)!.excludedNodes);
      assert.ok((r.warnings ?? []).some((w) => w.includes('kept in FP32 to hold the gate') && w.includes(q.excludedNodes[0])));
    } else {
      assert.deepEqual(q.excludedNodes, [], 'this CPU reached the gate fully quantized');
    }
  });

  it('a gate out of reach fails with every attempt in the details', async () => {
    const err = await rejectsWithType(compileModel({ modelName: 'tcn-vae-demo', target: 'cpu-int8', onnx: exp.onnx, metadataPath: exp.metadataPath, calibrationSet: cal.calibrationSet, int8MinCosine: 0.99999, quantization: { maxExcludedNodes: 2 } }, store),
      'QuantizationGateFailed', { nonRetryable: true, message: /mixed-precision attempt/ });
    const q = (err.details?.[0] as { quantization: QuantizationFigures }).quantization;
    assert.ok(q.attempts.length >= 2 && q.attempts.length <= 3, `${q.attempts.length} attempts`);
    assert.ok(q.excludedNodes.length <= 2);
  });
});
