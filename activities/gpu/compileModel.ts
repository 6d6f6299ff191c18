// compileModel: the exported FP32 ONNX -> the artifact a target runs.
//   cpu-fp32  the export itself, re-checked against the references and hashed
//   cpu-int8  onnxruntime static QDQ quantization (S8S8 by default), gated on INT8-vs-FP32 cosine
//             (held-out windows); mixed precision when the gate fails; the CPU it was measured on is recorded
//   hailo8/8l the Hailo DFC (parse -> optimize -> compile); absent DFC is a typed failure, no file
import { statSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { ApplicationFailure } from '@temporalio/common';
import { COMPILE_TARGETS, type ArtifactRef, type CompileInput, type CompileResult, type BindingSet, type CompileTarget, type ModelMetadata, type QuantizationFigures, type QuantizationOptions } from '../../common/contracts';
import { ErrorType } from '../../common/errors';
import { cancellationSignal, withHeartbeat } from './activityContext';
import { ArtifactStore, jobKey, sha256File } from './artifactStore';
import { failure } from './failures';
import { buildHailoCompileRequest, formatCommandLines, hailoCliSteps, hefFileName, type HailoPreflight, type HailoTarget } from './hailo';
import { buildMetadata, readMetadata, writeMetadata } from './modelMetadata';
import { checkOnnxAgainstReferences, DEFAULT_PARITY_GATE } from './parity';
import { GATES } from '../../common/gates';
import { runPythonTool } from './python';
import { parseCompileInput } from './requests';

export const DEFAULT_INT8_GATE = GATES.int8MinCosine.default; // common/gates.ts
/** 2: S8S8 default, quantization options and mixed precision; records from /1 are not reused. */
const COMPILER_VERSION = 'edgeship-compile/2';

export const DEFAULT_QUANTIZATION: Required<QuantizationOptions> = { format: 'S8S8', calibrationMethod: 'MinMax', reduceRange: false, maxExcludedNodes: 4 };

/** Fixed windows with FP32 outputs shipped in the INT8 artifact's metadata for the device-side check. */
export const BINDING_WINDOWS = 64;

interface QuantizeToolAnswer extends QuantizationFigures {
  bindingPath: string | null;
  int8Path: string;
  similarity: { minCosine: number; meanCosine: number; windows: number };
  sizes: { fp32Bytes: number; int8Bytes: number };
  latencyMs: { fp32: number; int8: number; runs: number; threads: number };
  warnings: string[];
}

interface HailoToolAnswer {
  preflight: HailoPreflight;
  hefPath: string;
  hefBytes: number;
  steps: Record<string, number>;
  dfcVersion: string;
}

async function refOf(file: string): Promise<ArtifactRef> {
  return { path: file, sha256: await sha256File(file), sizeBytes: statSync(file).size };
}

async function verifyInputs(input: CompileInput, meta: ModelMetadata, store: ArtifactStore): Promise<void> {
  if (meta.sha256 !== input.onnx.sha256) {
    throw failure(ErrorType.InvalidRequest, `metadata ${input.metadataPath} describes ${meta.sha256.slice(0, 12)}, not the ONNX ${input.onnx.sha256.slice(0, 12)}`);
  }
  if (meta.format !== 'onnx' || meta.target !== 'cpu-fp32') {
    throw failure(ErrorType.InvalidRequest, `compile from the exported FP32 ONNX; ${input.metadataPath} describes a ${meta.target} ${meta.format}`);
  }
  for (const ref of [input.onnx, input.calibrationSet]) {
    if (!(await store.holds(ref))) {
      throw failure(ErrorType.ArtifactShaMismatch, `${ref.path} is missing or no longer has sha256 ${ref.sha256.slice(0, 12)} / ${ref.sizeBytes} bytes`, undefined, { nonRetryable: true });
    }
  }
}

export async function compileModel(rawInput: CompileInput, store = new ArtifactStore()): Promise<CompileResult> {
  const started = performance.now();
  const input = parseCompileInput(rawInput);
  if (!(COMPILE_TARGETS as readonly string[]).includes(input.target)) {
    throw failure(ErrorType.UnknownTarget, `unknown compile target ${JSON.stringify(input.target)}; known: ${COMPILE_TARGETS.join(', ')}`);
  }
  const target = input.target as CompileTarget;
  const meta = await readMetadata(input.metadataPath);
  await verifyInputs(input, meta, store);

  if (target === 'cpu-fp32') return compileFp32(input, meta, started);

  const quantization = { ...DEFAULT_QUANTIZATION, ...input.quantization };
  const int8Gate = input.int8MinCosine ?? DEFAULT_INT8_GATE;
  // The gate is part of the key for cpu-int8: mixed precision excludes nodes until it holds.
  const options = target === 'cpu-int8' ? { quantization, int8Gate } : {};
  const key = jobKey('compile', { onnx: input.onnx.sha256, calibration: input.calibrationSet.sha256 }, { target, modelName: input.modelName, tool: COMPILER_VERSION, ...options });
  const done = await store.lookupJob<CompileResult>(key);
  if (done) {
    if (done.similarity) done.similarity = gateInt8(done.similarity, int8Gate, done.quantization);
    return { ...done, reused: true, durationMs: performance.now() - started };
  }

  const work = await store.workDir(`compile-${target}`);
  try {
    return await withHeartbeat(`compile ${target}`, async (progress) => {
      const out = target === 'cpu-int8'
        ? await quantizeInt8(input, quantization, meta, work, progress)
        : await compileHailo(input, meta, target as HailoTarget, work, progress);
      const artifact = await store.commitFile(out.file, out.filename);
      const metadataPath = await writeMetadata(artifact, buildMetadata({
        modelName: input.modelName,
        format: out.format,
        target,
        artifact,
        reference: { normalization: meta.normalization, probes: meta.probes },
        versions: { ...meta.versions, compiler: COMPILER_VERSION, ...out.versions },
        opset: meta.opset,
        conv2d: meta.conv2d,
        sourceCheckpointSha256: meta.sourceCheckpointSha256,
        exportedFromOnnxSha256: input.onnx.sha256,
        quantization: out.quantization,
        binding: out.binding,
      }));
      const result: CompileResult = {
        target,
        artifact,
        metadataPath,
        format: out.format,
        similarity: out.similarity,
        sizes: { fp32Bytes: input.onnx.sizeBytes, artifactBytes: artifact.sizeBytes },
        latencyMs: out.latencyMs,
        preflight: out.preflight,
        quantization: out.quantization,
        warnings: out.warnings ?? [],
        durationMs: performance.now() - started,
        reused: false,
      };
      await store.recordJob(key, 'compile', [artifact, await refOf(metadataPath)], result);
      return result;
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function compileFp32(input: CompileInput, meta: ModelMetadata, started: number): Promise<CompileResult> {
  // The store copy is what ships: prove it again rather than trusting the export's record.
  await checkOnnxAgainstReferences(input.onnx.path, meta.probes, meta.normalization, { gate: input.parityMinCosine ?? DEFAULT_PARITY_GATE });
  return {
    target: 'cpu-fp32',
    artifact: input.onnx,
    metadataPath: input.metadataPath,
    format: 'onnx',
    sizes: { fp32Bytes: input.onnx.sizeBytes, artifactBytes: input.onnx.sizeBytes },
    durationMs: performance.now() - started,
    reused: false,
  };
}

type Similarity = NonNullable<CompileResult['similarity']>;

function gateInt8(s: Omit<Similarity, 'gate'>, gate: number, q?: QuantizationFigures): Similarity {
  if (!(s.minCosine >= gate)) {
    const how = q
      ? ` (${q.settings.format} ${q.settings.calibrationMethod}; ${q.attempts.length - 1} mixed-precision attempt(s), last kept ${q.excludedNodes.length} node(s) in FP32; measured on ${q.cpu.model}, vnni=${q.cpu.vnni})`
      : '';
    throw failure(ErrorType.QuantizationGateFailed, `INT8 vs FP32 min cosine ${s.minCosine.toFixed(5)} < gate ${gate} on ${s.windows} held-out windows (mean ${s.meanCosine.toFixed(5)})${how}`, { ...s, gate, quantization: q });
  }
  return { ...s, gate };
}

interface CompiledOutput {
  file: string;
  filename: string;
  format: 'onnx' | 'hef';
  versions: Record<string, string>;
  similarity?: Similarity;
  latencyMs?: { fp32: number; artifact: number };
  preflight?: { ops: Record<string, number>; warnings: string[] };
  quantization?: QuantizationFigures;
  warnings?: string[];
  binding?: BindingSet;
}

async function quantizeInt8(input: CompileInput, q: Required<QuantizationOptions>, meta: ModelMetadata, work: string, progress: (line: string) => void): Promise<CompiledOutput> {
  const gate = input.int8MinCosine ?? DEFAULT_INT8_GATE;
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
  let binding: BindingSet | undefined;
  if (answer.bindingPath) {
    const b = JSON.parse(await readFile(answer.bindingPath, 'utf8')) as { seed: number; windows: number[][][]; reference: number[][] };
    binding = { source: 'fp32-onnx', fp32Sha256: input.onnx.sha256, seed: b.seed, windows: b.windows, reference: b.reference };
  }
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

/**
 * The binding set (fixed windows with the FP32 ONNX's outputs) for an artifact no quantizer here
 * produced: a HEF runs only on the NPU, so the device is where its agreement is measured.
 */
export async function fp32Binding(onnx: CompileInput['onnx'], meta: ModelMetadata, work: string): Promise<BindingSet> {
  const out = await runPythonTool<{ bindingPath: string }>('binding.py', { fp32Path: onnx.path, normalization: meta.normalization, windows: BINDING_WINDOWS, outPath: `${work}/binding.json` }, { signal: cancellationSignal() });
  const b = JSON.parse(await readFile(out.bindingPath, 'utf8')) as { seed: number; windows: number[][][]; reference: number[][] };
  return { source: 'fp32-onnx', fp32Sha256: onnx.sha256, seed: b.seed, windows: b.windows, reference: b.reference };
}

async function compileHailo(input: CompileInput, meta: ModelMetadata, target: HailoTarget, work: string, progress: (line: string) => void): Promise<CompiledOutput> {
  const req = buildHailoCompileRequest({ onnxPath: input.onnx.path, calibrationPath: input.calibrationSet.path, target, modelName: input.modelName, workDir: work });
  let answer: HailoToolAnswer;
  try {
    answer = await runPythonTool<HailoToolAnswer>('hailo_compile.py', req, { onProgress: progress, signal: cancellationSignal() });
  } catch (err) {
    if (err instanceof ApplicationFailure && (err.type === ErrorType.HailoCompilerUnavailable || err.type === ErrorType.HailoCompileFailed)) {
      const pf = (err.details?.[0] as { preflight?: HailoPreflight } | undefined)?.preflight;
      // The work dir is deleted on failure: show the steps against a folder the reader creates.
      const shown = { ...req, ...buildHailoCompileRequest({ onnxPath: req.onnxPath, calibrationPath: req.calibrationPath, target, modelName: input.modelName, workDir: `./${req.netName}-hailo-build` }) };
      const cliSteps = hailoCliSteps(shown, pf);
      const steps = formatCommandLines(cliSteps);
      const warnings = pf?.warnings.length ? `\nPreflight warnings:\n- ${pf.warnings.join('\n- ')}` : '';
      throw ApplicationFailure.create({ type: err.type, nonRetryable: true, message: `${err.message}${warnings}\nThe same steps with the DFC CLI:\n${steps}`, details: [{ preflight: pf, cliSteps }] });
    }
    throw err;
  }
  if (!(answer.hefBytes > 0)) throw failure(ErrorType.HailoCompileFailed, 'the DFC produced an empty HEF');
  return {
    file: answer.hefPath,
    filename: hefFileName(input.modelName, target),
    format: 'hef',
    versions: { dfc: answer.dfcVersion },
    preflight: { ops: answer.preflight.ops, warnings: answer.preflight.warnings },
    binding: await fp32Binding(input.onnx, meta, work),
  };
}
