// cpu-int8: onnxruntime static QDQ quantization (S8S8 by default), gated on INT8-vs-FP32 cosine
// over held-out windows; when the gate fails, ml/quantize.py keeps the most sensitive nodes in
// FP32 one at a time (mixed precision). The CPU the figure was measured on is recorded.
import type { CompileResult, QuantizationFigures, QuantizationOptions } from '../../../common/contracts';
import { ErrorType } from '../../../common/errors';
import { GATES } from '../../../common/gates';
import { cancellationSignal } from '../activityContext';
import { failure } from '../failures';
import { checkOnnxAgainstReferences } from '../parity';
import { runPythonTool } from '../python';
import { BINDING_WINDOWS, readBindingFile } from './binding';
import { storedBuild } from './storedBuild';
import type { BuiltArtifact, CompileContext, Similarity, TargetCompiler } from './targetCompiler';

export const DEFAULT_INT8_GATE = GATES.int8MinCosine.default; // common/gates.ts
export const DEFAULT_QUANTIZATION: Required<QuantizationOptions> = { format: 'S8S8', calibrationMethod: 'MinMax', reduceRange: false, maxExcludedNodes: 4 };

interface QuantizeToolAnswer extends QuantizationFigures {
  bindingPath: string | null;
  int8Path: string;
  similarity: { minCosine: number; meanCosine: number; windows: number };
  sizes: { fp32Bytes: number; int8Bytes: number };
  latencyMs: { fp32: number; int8: number; runs: number; threads: number };
  warnings: string[];
}

/** The INT8 gate on a measured similarity: a failure is QuantizationGateFailed with the figures. */
export function gateInt8(s: Omit<Similarity, 'gate'>, gate: number, q?: QuantizationFigures): Similarity {
  if (!(s.minCosine >= gate)) {
    const how = q
      ? ` (${q.settings.format} ${q.settings.calibrationMethod}; ${q.attempts.length - 1} mixed-precision attempt(s), last kept ${q.excludedNodes.length} node(s) in FP32; measured on ${q.cpu.model}, vnni=${q.cpu.vnni})`
      : '';
    throw failure(ErrorType.QuantizationGateFailed, `INT8 vs FP32 min cosine ${s.minCosine.toFixed(5)} < gate ${gate} on ${s.windows} held-out windows (mean ${s.meanCosine.toFixed(5)})${how}`, { ...s, gate, quantization: q });
  }
  return { ...s, gate };
}

async function quantize(ctx: CompileContext, q: Required<QuantizationOptions>, gate: number, work: string, progress: (line: string) => void): Promise<BuiltArtifact> {
  const { input, meta } = ctx;
  const answer = await runPythonTool<QuantizeToolAnswer>('quantize.py', {
    fp32Path: input.onnx.path,
    calibrationPath: input.calibrationSet.path,
    outPath: `${work}/model.int8.onnx`,
    normalization: meta.normalization,
    format: q.format,
    calibrationMethod: q.calibrationMethod,
    reduceRange: q.reduceRange,
    maxExcludedNodes: q.maxExcludedNodes,
    minCosine: gate,
    bindingWindows: BINDING_WINDOWS,
  }, { onProgress: progress, signal: cancellationSignal() });
  const binding = answer.bindingPath ? await readBindingFile(answer.bindingPath, input.onnx.sha256) : undefined;
  const quantization: QuantizationFigures = { settings: answer.settings, cpu: answer.cpu, excludedNodes: answer.excludedNodes, attempts: answer.attempts, speedup: answer.speedup };
  const similarity = gateInt8(answer.similarity, gate, quantization);
  // Same interface and finite outputs as the FP32 model; the probe agreement is for the log,
  // the device's validation gates it against the references.
  const probes = await checkOnnxAgainstReferences(answer.int8Path, meta.probes, meta.normalization);
  progress(`compile cpu-int8: probe cosine vs PyTorch min ${probes.minCosine.toFixed(5)}`);
  return {
    file: answer.int8Path,
    filename: `${input.modelName}.int8.onnx`,
    format: 'onnx',
    versions: { quantizer: `onnxruntime.quantization static QDQ ${q.format} (${answer.settings.activations} activations, ${answer.settings.weights} ${answer.settings.perChannel ? 'per-channel ' : ''}weights, ${q.calibrationMethod}${q.reduceRange ? ', reduce_range' : ''})` },
    similarity,
    latencyMs: { fp32: answer.latencyMs.fp32, artifact: answer.latencyMs.int8 },
    quantization,
    warnings: answer.warnings,
    binding,
  };
}

export const cpuInt8Compiler: TargetCompiler = {
  compile(ctx: CompileContext): Promise<CompileResult> {
    const quantization = { ...DEFAULT_QUANTIZATION, ...ctx.input.quantization };
    const int8Gate = ctx.input.int8MinCosine ?? DEFAULT_INT8_GATE;
    return storedBuild(ctx, {
      // The gate is part of the key: mixed precision excludes nodes until it holds.
      keyOptions: { quantization, int8Gate },
      // A stored result is held to this request's gate again.
      onReuse: (done) => (done.similarity ? { ...done, similarity: gateInt8(done.similarity, int8Gate, done.quantization) } : done),
      build: (work, progress) => quantize(ctx, quantization, int8Gate, work, progress),
    });
  },
};
