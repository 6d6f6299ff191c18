// onnxruntime-node called directly on the same model with the runtime's session options: the
// ceiling the HTTP runtime is compared against (same z-scored inputs, no HTTP, no JSON).
import * as ort from 'onnxruntime-node';
import { readFile } from 'node:fs/promises';
import type { LatencyFigures, ModelMetadata } from '../../common/contracts';
import { summarizeLatencies } from '../../common/percentiles';
import { createNormalizer, parseInferPayload } from '../../edge/requestParsing';
import { runtimeSessionOptions } from '../../edge/session';

export interface InProcessFigures {
  runs: number;
  rps: number;
  latencyMs: LatencyFigures;
  /** CPU time of this process per inference (the loop is all it does meanwhile). */
  cpuMsPerRun: number;
}

export async function measureInProcess(modelPath: string, meta: ModelMetadata, durationMs: number): Promise<InProcessFigures> {
  const session = await ort.InferenceSession.create(await readFile(modelPath), runtimeSessionOptions(1));
  try {
    const norm = createNormalizer(meta.normalization);
    const windows = meta.probes.length ? meta.probes.map((p) => p.window) : [Array.from({ length: 100 }, () => meta.normalization.mean)];
    const inputs = windows.map((w) => new ort.Tensor('float32', parseInferPayload({ x: w }, norm, 1).input, [1, 100, 9]));
    const feed = (i: number) => ({ [meta.input.name]: inputs[i % inputs.length] });
    for (let i = 0; i < 50; i++) await session.run(feed(i));
    const samples: number[] = [];
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    while (performance.now() - start < durationMs) {
      const t0 = performance.now();
      await session.run(feed(samples.length));
      samples.push(performance.now() - t0);
    }
    const elapsed = performance.now() - start;
    const cpu = process.cpuUsage(cpu0);
    return { runs: samples.length, rps: samples.length / (elapsed / 1000), latencyMs: summarizeLatencies(samples), cpuMsPerRun: (cpu.user + cpu.system) / 1000 / samples.length };
  } finally {
    await session.release();
  }
}
