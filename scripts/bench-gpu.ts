// `npm run bench:gpu`: the GPU stages on the demo model, every figure measured on this machine.
// Uses a fresh artifact store each run (nothing reused), so the times are real work.
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildCalibrationSet } from '../activities/gpu/buildCalibrationSet';
import { compileModel } from '../activities/gpu/compileModel';
import { ensureDemoCheckpoint } from '../activities/gpu/demoCheckpoint';
import { exportModel } from '../activities/gpu/exportModel';
import { ArtifactStore } from '../activities/gpu/artifactStore';
import { stateDir } from '../common/paths';

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
    }
    console.log(`total                ${fmtMs(performance.now() - t0)} on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
