// `npm run bench:gpu`: the GPU stages on the demo model, every figure measured on this machine.
// Uses a fresh artifact store each run (nothing reused), so the times are real work.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildCalibrationSet } from '../activities/gpu/buildCalibrationSet';
import { compileModel } from '../activities/gpu/compileModel';
import { ensureDemoCheckpoint } from '../activities/gpu/demoCheckpoint';
import { exportModel } from '../activities/gpu/exportModel';
import { ArtifactStore } from '../activities/gpu/artifactStore';
import { QUANT_FORMATS, type CompileResult, type ExportModelResult, type CalibrationResult } from '../common/contracts';
import { ML_DIR, pythonExecutable, stateDir } from '../lib/paths';
import { ensureQemu, HASWELL, measureOutputs } from '../lib/emulatedCpu';

const fmtMs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const kib = (b: number): string => `${(b / 1024).toFixed(1)} KiB`;

async function main(): Promise<void> {
  const samples = Number(process.env.BENCH_CALIBRATION_SAMPLES ?? 2000);
  const t0 = performance.now();
  const ckpt = await ensureDemoCheckpoint(path.join(stateDir(), 'demo', 'tcn-vae-demo.pt'));
  console.log(`demo checkpoint      ${ckpt.path} (${ckpt.sha256.slice(0, 12)}; ready in ${fmtMs(performance.now() - t0)})`);

  const root = mkdtempSync(path.join(os.tmpdir(), 'edgeship-bench-'));
  const store = new ArtifactStore(root);
  try {
    for (const conv2d of [false, true]) {
      const exp = await exportModel({ modelName: 'tcn-vae-demo', source: { kind: 'checkpoint', checkpointPath: ckpt.path }, conv2d }, store);
      console.log(`export (${conv2d ? 'conv2d' : 'conv1d'})      ${fmtMs(exp.durationMs)}; ONNX ${kib(exp.onnx.sizeBytes)}; parity min cosine ${exp.parity.minCosine.toFixed(9)} (1-cos ${(1 - exp.parity.minCosine).toExponential(1)}), max abs diff ${exp.parity.maxAbsDiff.toExponential(2)} over ${exp.parity.probes.length} probes (gate ${exp.parity.gate})`);
      for (const p of exp.parity.probes) console.log(`    probe ${p.name.padEnd(10)} cosine ${p.cosine.toFixed(9)}  max abs diff ${p.maxAbsDiff.toExponential(2)}`);
      if (conv2d) continue;

      const cal = await buildCalibrationSet({ modelName: 'tcn-vae-demo', metadataPath: exp.metadataPath, samples }, store);
      console.log(`calibration set      ${fmtMs(cal.durationMs)}; ${cal.samples} windows (${cal.source}) ${kib(cal.calibrationSet.sizeBytes)}; mix ${JSON.stringify(cal.classMix)}`);
      console.log(`    z-scored channel mean [${cal.channelMean.map((v) => v.toFixed(2)).join(', ')}]`);
      console.log(`    z-scored channel std  [${cal.channelStd.map((v) => v.toFixed(2)).join(', ')}]`);

      const int8 = await compileModel({ modelName: 'tcn-vae-demo', target: 'cpu-int8', onnx: exp.onnx, metadataPath: exp.metadataPath, calibrationSet: cal.calibrationSet }, store);
      const s = int8.similarity!;
      console.log(`compile cpu-int8     ${fmtMs(int8.durationMs)}; INT8 vs FP32 cosine min ${s.minCosine.toFixed(5)} mean ${s.meanCosine.toFixed(5)} on ${s.windows} held-out windows (gate ${s.gate})`);
      console.log(`    size    FP32 ${kib(int8.sizes.fp32Bytes)}  INT8 ${kib(int8.sizes.artifactBytes)}  (${(int8.sizes.fp32Bytes / int8.sizes.artifactBytes).toFixed(2)}x smaller)`);
      console.log(`    latency FP32 ${int8.latencyMs!.fp32.toFixed(3)} ms  INT8 ${int8.latencyMs!.artifact.toFixed(3)} ms  (median of 200 single-window runs, 1 thread, onnxruntime CPU)`);
      const q = int8.quantization!;
      console.log(`    quantization ${q.settings.format} ${q.settings.calibrationMethod}; excluded ${q.excludedNodes.length ? q.excludedNodes.join(', ') : 'none'}; measured on ${q.cpu.model} [${q.cpu.procFlags.join(' ')}] vnni=${q.cpu.vnni}`);
      for (const w of int8.warnings ?? []) console.log(`    warning: ${w}`);
      await formats(exp, cal, store, root);
    }
    console.log(`total                ${fmtMs(performance.now() - t0)} on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * Per quantization format: INT8 vs FP32 cosine on the host (the compile's 256 held-out windows)
 * and under `qemu-x86_64 -cpu Haswell` (AVX2 without VNNI, BENCH_QEMU_WINDOWS held-out windows,
 * default 128), sizes and speed-up. No mixed precision here: the raw format is what is compared.
 */
async function formats(exp: ExportModelResult, cal: CalibrationResult, store: ArtifactStore, root: string): Promise<void> {
  const n = Number(process.env.BENCH_QEMU_WINDOWS ?? 128);
  const qemu = ensureQemu();
  const windows = path.join(root, 'held-out.npy');
  execFileSync(pythonExecutable(), ['-c', `import sys, numpy as np
from synthetic import generate
from common import NORM_MEAN, NORM_STD
raw, _ = generate(int(sys.argv[2]), 31337)
np.save(sys.argv[1], ((raw - np.array(NORM_MEAN, np.float32)) / np.array(NORM_STD, np.float32)).astype(np.float32))`, windows, String(n)], { cwd: ML_DIR });
  const fp32 = await measureOutputs(exp.onnx.path, windows, path.join(root, 'fp32.npy'));
  console.log(`INT8 formats (per-channel QDQ, MinMax, ${cal.samples} calibration windows; host ${fp32.cpu.model} [${fp32.cpu.procFlags.join(' ')}] vnni=${fp32.cpu.vnni})`);
  console.log('    format  host min / mean (256)   qemu Haswell min / mean (' + n + ')   INT8 size   speed-up (host)');
  for (const format of QUANT_FORMATS) {
    let r: CompileResult;
    try {
      // Gate near 0 and no excluded nodes: the bench reports the format as it is.
      r = await compileModel({ modelName: 'tcn-vae-demo', target: 'cpu-int8', onnx: exp.onnx, metadataPath: exp.metadataPath, calibrationSet: cal.calibrationSet, int8MinCosine: 1e-6, quantization: { format, maxExcludedNodes: 0 } }, store);
    } catch (err) {
      console.log(`    ${format}    failed: ${(err as Error).message}`);
      continue;
    }
    let emu = 'qemu-user not installed';
    if (qemu) {
      const out = await measureOutputs(r.artifact.path, windows, path.join(root, `${format}.npy`), HASWELL);
      const c = execFileSync(pythonExecutable(), ['-c', `import sys, numpy as np
a, b = (np.load(p).astype(np.float64) for p in sys.argv[1:3])
c = np.sum(a * b, 1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
print(f"{c.min():.5f} / {c.mean():.5f}")`, fp32.outPath, out.outPath], { encoding: 'utf8' }).trim();
      emu = `${c} (${out.cpu.cpuidFeatures.join(' ')}, ${(out.secondsPerWindow * 1000).toFixed(0)} ms/window emulated)`;
    }
    const s = r.similarity!;
    console.log(`    ${format}    ${s.minCosine.toFixed(5)} / ${s.meanCosine.toFixed(5)}       ${emu}   ${kib(r.sizes.artifactBytes)}   ${r.quantization!.speedup.toFixed(2)}x (FP32 ${r.latencyMs!.fp32.toFixed(3)} ms, INT8 ${r.latencyMs!.artifact.toFixed(3)} ms)`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
