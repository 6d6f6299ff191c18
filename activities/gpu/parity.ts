// Parity of an ONNX model with the PyTorch reference embeddings, checked here in TypeScript with
// onnxruntime-node: the runtime family that serves the model on the devices, not the exporter
// that produced it. Also proves the graph's interface: `imu_window` [1,100,9] -> `latent_embeddings` [1,64].
import * as ort from 'onnxruntime-node';
import { MODEL_INPUT, MODEL_OUTPUT, type Normalization, type ParityFigures, type ProbeReference } from '../../common/contracts';
import { ErrorType } from '../../common/errors';
import { GATES } from '../../common/gates';
import { cosineSimilarity } from '../../common/percentiles';
import { failure } from './failures';

/** Defaults from the one gate table (common/gates.ts). */
export const DEFAULT_PARITY_GATE = GATES.parityMinCosine.default;
/**
 * Export parity in scale: an exact export differs from PyTorch by float rounding (≈1e-6 relative
 * on the demo model); a model whose references are 2× its outputs is 0.5 off yet has cosine 1.
 */
export const DEFAULT_PARITY_MAX_RELATIVE_ERROR = GATES.parityMaxRelativeError.default;

function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/** |a − b| / |b|; 0 when both are zero, Infinity when only the reference is. */
export function relativeError(output: ArrayLike<number>, reference: ArrayLike<number>): number {
  const diff = Array.from(output, (v, i) => v - reference[i]);
  const d = norm(diff);
  const r = norm(reference);
  if (d === 0) return 0;
  return r === 0 ? Number.POSITIVE_INFINITY : d / r;
}

/** |output| / |reference|: 1 when the scale agrees (1 also when both are zero). */
export function normRatio(output: ArrayLike<number>, reference: ArrayLike<number>): number {
  const o = norm(output);
  const r = norm(reference);
  if (r === 0) return o === 0 ? 1 : Number.POSITIVE_INFINITY;
  return o / r;
}

/**
 * Cosine similarity for parity: two all-zero vectors are the same output (1); otherwise the
 * shared definition, where a zero vector agrees with nothing.
 */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const x = Array.from(a);
  const y = Array.from(b);
  if (x.length === y.length && x.every((v) => v === 0) && y.every((v) => v === 0)) return 1;
  return cosineSimilarity(x, y);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`diff of vectors of length ${a.length} and ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function computeParity(outputs: Array<{ name: string; output: ArrayLike<number>; reference: ArrayLike<number> }>, gate: number): ParityFigures {
  if (outputs.length === 0) throw new Error('parity needs at least one probe');
  const probes = outputs.map((o) => ({
    name: o.name,
    cosine: cosine(o.output, o.reference),
    maxAbsDiff: maxAbsDiff(o.output, o.reference),
    relativeError: relativeError(o.output, o.reference),
    normRatio: normRatio(o.output, o.reference),
  }));
  return {
    minCosine: Math.min(...probes.map((p) => p.cosine)),
    maxAbsDiff: Math.max(...probes.map((p) => p.maxAbsDiff)),
    maxRelativeError: Math.max(...probes.map((p) => p.relativeError)),
    probes,
    gate,
  };
}

/** z-score a raw [100][9] window into the model's input layout, float32 [1*100*9]. */
export function normalizeWindow(window: number[][], norm: Normalization): Float32Array {
  const [, steps, channels] = MODEL_INPUT.shape;
  const out = new Float32Array(steps * channels);
  for (let t = 0; t < steps; t++) {
    for (let c = 0; c < channels; c++) out[t * channels + c] = (window[t][c] - norm.mean[c]) / norm.std[c];
  }
  return out;
}

function sameShape(actual: ReadonlyArray<number | string>, expected: readonly number[]): boolean {
  return actual.length === expected.length && actual.every((d, i) => d === expected[i]);
}

function describeIo(meta: readonly ort.InferenceSession.ValueMetadata[]): string {
  return meta.map((m) => (m.isTensor ? `${m.name} [${m.shape.join(',')}]` : `${m.name} (non-tensor)`)).join(', ');
}

/** Rejects a graph whose input/output names or static shapes are not the deployed contract. */
export function checkInterface(session: ort.InferenceSession, file: string): void {
  const inputs = session.inputMetadata;
  const outputs = session.outputMetadata;
  const input = inputs.length === 1 ? inputs[0] : undefined;
  const output = outputs.length === 1 ? outputs[0] : undefined;
  const okIn = input?.isTensor && input.name === MODEL_INPUT.name && input.type === 'float32' && sameShape(input.shape, MODEL_INPUT.shape);
  const okOut = output?.isTensor && output.name === MODEL_OUTPUT.name && output.type === 'float32' && sameShape(output.shape, MODEL_OUTPUT.shape);
  if (!okIn || !okOut) {
    throw failure(ErrorType.OnnxShapeMismatch,
      `${file}: expected input ${MODEL_INPUT.name} float32 [${MODEL_INPUT.shape.join(',')}] and output ${MODEL_OUTPUT.name} float32 [${MODEL_OUTPUT.shape.join(',')}]; ` +
      `the graph has inputs ${describeIo(inputs)} and outputs ${describeIo(outputs)}`);
  }
}

export interface OnnxCheckOptions {
  /** Fail with ParityGateFailed below this min cosine; omit to only measure. */
  gate?: number;
  /** Fail with ParityGateFailed above this relative error (scale); omit to only measure. */
  maxRelativeError?: number;
}

/**
 * Loads the ONNX, checks its interface, runs every probe and compares with the references.
 * Non-finite outputs fail with ModelOutputNotFinite, a wrong output size with OnnxShapeMismatch.
 */
export async function checkOnnxAgainstReferences(file: string, probes: ProbeReference[], norm: Normalization, opts: OnnxCheckOptions = {}): Promise<ParityFigures> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  } catch (err) {
    throw failure(ErrorType.OnnxShapeMismatch, `${file} is not a loadable ONNX model: ${(err as Error).message}`);
  }
  try {
    checkInterface(session, file);
    const outputs: Array<{ name: string; output: Float32Array; reference: number[] }> = [];
    for (const probe of probes) {
      const x = new ort.Tensor('float32', normalizeWindow(probe.window, norm), [...MODEL_INPUT.shape]);
      const result = await session.run({ [MODEL_INPUT.name]: x });
      const y = result[MODEL_OUTPUT.name];
      if (!y || !sameShape(y.dims, MODEL_OUTPUT.shape)) {
        throw failure(ErrorType.OnnxShapeMismatch, `${file}: probe ${probe.name} produced ${MODEL_OUTPUT.name} of shape [${y?.dims.join(',')}], expected [${MODEL_OUTPUT.shape.join(',')}]`);
      }
      const data = y.data as Float32Array;
      const bad = data.filter((v) => !Number.isFinite(v)).length;
      if (bad > 0) throw failure(ErrorType.ModelOutputNotFinite, `${file}: probe ${probe.name} produced ${bad} non-finite values of ${data.length}`);
      if (probe.reference.length !== data.length) {
        throw failure(ErrorType.OnnxShapeMismatch, `probe ${probe.name}: reference has ${probe.reference.length} values, the model ${data.length}`);
      }
      outputs.push({ name: probe.name, output: data, reference: probe.reference });
    }
    const parity = computeParity(outputs, opts.gate ?? 0);
    if (opts.gate !== undefined && !(parity.minCosine >= opts.gate)) {
      const worst = parity.probes.reduce((a, b) => (b.cosine < a.cosine ? b : a));
      throw failure(ErrorType.ParityGateFailed,
        `${file}: ONNX vs PyTorch min cosine ${parity.minCosine.toFixed(6)} < gate ${opts.gate} (worst probe ${worst.name}; max abs diff ${parity.maxAbsDiff.toExponential(3)})`, parity);
    }
    if (opts.maxRelativeError !== undefined) {
      parity.maxRelativeErrorGate = opts.maxRelativeError;
      if (!(parity.maxRelativeError <= opts.maxRelativeError)) {
        const worst = parity.probes.reduce((a, b) => (b.relativeError > a.relativeError ? b : a));
        throw failure(ErrorType.ParityGateFailed,
          `${file}: ONNX vs PyTorch differ in scale: relative error ${parity.maxRelativeError.toExponential(3)} > gate ${opts.maxRelativeError} on probe ${worst.name} ` +
          `(|ONNX| / |reference| = ${worst.normRatio.toFixed(4)}, cosine ${worst.cosine.toFixed(6)}, max abs diff ${parity.maxAbsDiff.toExponential(3)})`, parity);
      }
    }
    return parity;
  } finally {
    await session.release();
  }
}
