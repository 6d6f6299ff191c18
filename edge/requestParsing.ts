// Turns an /infer request body into z-scored float32 model input, or a precise 400 reason.
// Pure (no I/O) so every malformed shape is unit-tested without a server.
import type { Normalization } from '../common/contracts';

export const WINDOW_STEPS = 100;
export const WINDOW_CHANNELS = 9;
export const WINDOW_VALUES = WINDOW_STEPS * WINDOW_CHANNELS;

export class RequestError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'RequestError';
  }
}

export interface InferRequest {
  kind: 'single' | 'batch';
  count: number;
  /** count × 100 × 9 z-scored values, contiguous so a dynamic-batch model can take them at once. */
  input: Float32Array;
}

/** Precomputed 1/std so the hot loop multiplies instead of divides. */
export interface Normalizer {
  mean: Float64Array;
  invStd: Float64Array;
}

export function createNormalizer(n: Normalization): Normalizer {
  if (n.mean.length !== WINDOW_CHANNELS || n.std.length !== WINDOW_CHANNELS) {
    throw new RangeError(`normalization needs ${WINDOW_CHANNELS} mean and std values`);
  }
  return { mean: Float64Array.from(n.mean), invStd: Float64Array.from(n.std, (s) => 1 / s) };
}

function writeWindow(value: unknown, where: string, norm: Normalizer, out: Float32Array, offset: number): void {
  if (!Array.isArray(value) || value.length !== WINDOW_STEPS) {
    throw new RequestError(400, `${where} must be an array of ${WINDOW_STEPS} rows of ${WINDOW_CHANNELS} numbers (got ${describe(value)})`);
  }
  for (let t = 0; t < WINDOW_STEPS; t++) {
    const row: unknown = value[t];
    if (!Array.isArray(row) || row.length !== WINDOW_CHANNELS) {
      throw new RequestError(400, `${where}[${t}] must be an array of ${WINDOW_CHANNELS} numbers (got ${describe(row)})`);
    }
    const base = offset + t * WINDOW_CHANNELS;
    for (let c = 0; c < WINDOW_CHANNELS; c++) {
      const v: unknown = row[c];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new RequestError(400, `${where}[${t}][${c}] must be a finite number (got ${describe(v)})`);
      }
      const z = (v - norm.mean[c]) * norm.invStd[c];
      out[base + c] = z;
      // A finite JSON number can still overflow float32 once stored; the model must never see Inf.
      if (!Number.isFinite(out[base + c])) {
        throw new RequestError(400, `${where}[${t}][${c}] = ${v} is out of float32 range after normalization`);
      }
    }
  }
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (v === null) return 'null';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return 'a string';
  return typeof v;
}

/** Validates the parsed JSON value of an /infer body: `{"x": window}` or `{"batch": [window, …]}`. */
export function parseInferPayload(payload: unknown, norm: Normalizer, maxBatch: number): InferRequest {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new RequestError(400, 'body must be a JSON object {"x": [[9 numbers] × 100]} or {"batch": [window, …]}');
  }
  const body = payload as Record<string, unknown>;
  const hasX = 'x' in body;
  const hasBatch = 'batch' in body;
  if (hasX === hasBatch) {
    throw new RequestError(400, 'body must have exactly one of "x" (one window) or "batch" (a list of windows)');
  }
  if (hasX) {
    const input = new Float32Array(WINDOW_VALUES);
    writeWindow(body.x, 'x', norm, input, 0);
    return { kind: 'single', count: 1, input };
  }
  const batch = body.batch;
  if (!Array.isArray(batch) || batch.length === 0) {
    throw new RequestError(400, `"batch" must be a non-empty array of windows (got ${describe(batch)})`);
  }
  if (batch.length > maxBatch) {
    throw new RequestError(400, `"batch" has ${batch.length} windows; the limit is ${maxBatch}`);
  }
  const input = new Float32Array(batch.length * WINDOW_VALUES);
  for (let i = 0; i < batch.length; i++) writeWindow(batch[i], `batch[${i}]`, norm, input, i * WINDOW_VALUES);
  return { kind: 'batch', count: batch.length, input };
}

export function parseInferBody(text: string, norm: Normalizer, maxBatch: number): InferRequest {
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (err) {
    throw new RequestError(400, `body is not valid JSON: ${(err as Error).message}`);
  }
  return parseInferPayload(payload, norm, maxBatch);
}
