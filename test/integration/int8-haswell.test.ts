// INT8 that holds across CPUs: the demo model quantized with the default (S8S8 QDQ) keeps its
// INT8-vs-FP32 agreement on an AVX2 CPU without VNNI, measured under `qemu-x86_64 -cpu Haswell`
// on held-out windows the quantizer never saw. (U8S8 fell to min cosine 0.983 on such a CPU:
// VPMADDUBSW saturates its 16-bit sums.) FP32 outputs are computed on the host: FP32 kernels
// agree across x86 CPUs to rounding; the INT8 kernels are what differ.
import * as assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { buildCalibrationSet } from '../../activities/gpu/buildCalibrationSet';
import { compileModel, DEFAULT_INT8_GATE } from '../../activities/gpu/compileModel';
import { exportModel } from '../../activities/gpu/exportModel';
import { ArtifactStore } from '../../activities/gpu/artifactStore';
import { ensureQemu, HASWELL, measureOutputs } from '../../lib/emulatedCpu';
import { demoCheckpoint, python, tempDir } from '../helpers/gpuFixtures';

const WINDOWS = 120; // ~0.4 s per window for both models under emulation: a minute of the suite
const MARGIN = 0.005; // the gate must hold with room to spare, not by a hair

describe('INT8 across CPUs: S8S8 under qemu Haswell (AVX2, no VNNI)', function () {
  this.timeout(1_200_000);
  let root: string;

  before(function () {
    if (!ensureQemu()) {
      console.log('      qemu-user is not installed and cannot be installed here (not root or not x86-64): skipped');
      this.skip();
    }
    root = tempDir('int8-haswell');
  });
  after(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it(`min cosine ≥ gate + ${MARGIN} on ${WINDOWS} held-out windows`, async () => {
    const store = new ArtifactStore(path.join(root, 'store'));
    const ckpt = await demoCheckpoint();
    const exp = await exportModel({ modelName: 'tcn-vae-demo', source: { kind: 'checkpoint', checkpointPath: ckpt.path } }, store);
    const cal = await buildCalibrationSet({ modelName: 'tcn-vae-demo', metadataPath: exp.metadataPath, samples: 2000 }, store);
    const int8 = await compileModel({ modelName: 'tcn-vae-demo', target: 'cpu-int8', onnx: exp.onnx, metadataPath: exp.metadataPath, calibrationSet: cal.calibrationSet }, store);
    assert.equal(int8.quantization?.settings.format, 'S8S8');

    // Seed 31337: neither the calibration set (seed 0) nor the quantizer's held-out set (99173).
    const windows = path.join(root, 'held-out.npy');
    python(`import sys, json, numpy as np
from synthetic import generate
from common import NORM_MEAN, NORM_STD
raw, _ = generate(int(sys.argv[2]), 31337)
np.save(sys.argv[1], ((raw - np.array(NORM_MEAN, np.float32)) / np.array(NORM_STD, np.float32)).astype(np.float32))`, [windows, String(WINDOWS)]);
    const fp32 = await measureOutputs(exp.onnx.path, windows, path.join(root, 'fp32.npy'));
    const emulated = await measureOutputs(int8.artifact.path, windows, path.join(root, 'int8-haswell.npy'), HASWELL);
    const host = await measureOutputs(int8.artifact.path, windows, path.join(root, 'int8-host.npy'));

    // Under qemu CPUID is the emulated Haswell's: AVX2 and no VNNI, whatever the host has.
    assert.ok(emulated.cpu.cpuidFeatures.includes('AVX2'), JSON.stringify(emulated.cpu));
    assert.ok(!emulated.cpu.cpuidFeatures.includes('AVX512VNNI') && !emulated.cpu.cpuidFeatures.includes('AVX512F'), JSON.stringify(emulated.cpu));

    const stats = JSON.parse(python(`import sys, json, numpy as np
a, b, c = (np.load(p).astype(np.float64) for p in sys.argv[1:4])
def cos(x, y):
    return np.sum(x * y, 1) / np.maximum(np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1), 1e-12)
def rel(x, y):
    return np.linalg.norm(y - x, axis=1) / np.linalg.norm(x, axis=1)
ch, cq = cos(a, b), cos(a, c)
print(json.dumps({"haswell": {"min": ch.min(), "mean": ch.mean(), "maxRel": rel(a, b).max()},
                  "host": {"min": cq.min(), "mean": cq.mean(), "maxRel": rel(a, c).max()}}))`, [fp32.outPath, emulated.outPath, host.outPath])) as Record<'haswell' | 'host', { min: number; mean: number; maxRel: number }>;
    console.log(`      S8S8 INT8 vs FP32 on ${WINDOWS} held-out windows:` +
      `\n        qemu Haswell (${emulated.cpu.cpuidFeatures.join(' ')}; vnni=${emulated.cpu.vnni}): min ${stats.haswell.min.toFixed(5)} mean ${stats.haswell.mean.toFixed(5)} max relative error ${stats.haswell.maxRel.toFixed(4)}` +
      `\n        host ${host.cpu.model} (${host.cpu.procFlags.join(' ')}; vnni=${host.cpu.vnni}): min ${stats.host.min.toFixed(5)} mean ${stats.host.mean.toFixed(5)}` +
      `\n        gate ${DEFAULT_INT8_GATE}; margin under Haswell ${(stats.haswell.min - DEFAULT_INT8_GATE).toFixed(5)}`);
    assert.ok(stats.haswell.min >= DEFAULT_INT8_GATE + MARGIN, `min cosine ${stats.haswell.min} under qemu Haswell`);
    assert.ok(stats.host.min >= DEFAULT_INT8_GATE + MARGIN, `min cosine ${stats.host.min} on the host`);
  });
});
