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

/**
 * Parses an /infer body. Well-formed bodies (the only kind a healthy client sends) take the
 * byte scanner below, which writes z-scored values straight into the Float32Array without
 * building 100 nested JS arrays per request; anything the scanner does not accept goes through
 * JSON.parse + parseInferPayload, so every rejection keeps its exact 400 reason.
 */
export function parseInferBody(body: string | Uint8Array, norm: Normalizer, maxBatch: number): InferRequest {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const fast = scanInferBody(bytes, norm, maxBatch);
  if (fast) return fast;
  let payload: unknown;
  try {
    payload = JSON.parse(typeof body === 'string' ? body : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (err) {
    throw new RequestError(400, `body is not valid JSON: ${(err as Error).message}`);
  }
  return parseInferPayload(payload, norm, maxBatch);
}

// --- the byte scanner -------------------------------------------------------------------------
// Accepts exactly `{"x": window}` or `{"batch": [window, …]}` (1..maxBatch windows) with JSON
// whitespace, where a window is 100 arrays of 9 JSON numbers whose z-scored values are finite
// float32. It returns null on anything else — including valid JSON it does not handle (escaped
// keys, duplicate keys, extra members) — and the JSON.parse path then decides and explains.

const QUOTE = 0x22;
const COMMA = 0x2c;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const COLON = 0x3a;
const ZERO = 0x30;
const NINE = 0x39;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LOWER_E = 0x65;
const UPPER_E = 0x45;

/** Exact powers of ten: 10^0 … 10^22 are all exactly representable doubles. */
const POW10 = Float64Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Position of the first non-whitespace byte at or after `p`. */
function skipWs(b: Uint8Array, p: number): number {
  while (p < b.length && isWs(b[p])) p++;
  return p;
}

/** Position after the literal key `"name"` (no escapes) and its colon, or -1. */
function scanKey(b: Uint8Array, p: number, name: string): number {
  p = skipWs(b, p);
  if (b[p] !== QUOTE) return -1;
  p++;
  for (let i = 0; i < name.length; i++, p++) if (b[p] !== name.charCodeAt(i)) return -1;
  if (b[p] !== QUOTE) return -1;
  p = skipWs(b, p + 1);
  return b[p] === COLON ? p + 1 : -1;
}

/**
 * One window (100 arrays of 9 JSON numbers) into `out` at `offset`; the position after it, or -1
 * when the text is anything else or a z-scored value is not a finite float32.
 *
 * Numbers follow the strict JSON grammar. Up to 15 significant digits with a decimal exponent
 * within ±22 are converted by one correctly rounded multiply or divide of two exact doubles
 * (Clinger's fast path), so the value equals JSON.parse's; longer or wider numbers go to Number()
 * on their text, which is exact by definition. One flat loop with local state, because this runs
 * 900 times per request on the event loop.
 */
function scanWindow(b: Uint8Array, p: number, norm: Normalizer, out: Float32Array, offset: number): number {
  const mean = norm.mean;
  const invStd = norm.invStd;
  const n = b.length;
  p = skipWs(b, p);
  if (b[p++] !== LBRACKET) return -1;
  for (let t = 0; t < WINDOW_STEPS; t++) {
    p = skipWs(b, p);
    if (t > 0) {
      if (b[p++] !== COMMA) return -1;
      p = skipWs(b, p);
    }
    if (b[p++] !== LBRACKET) return -1;
    const base = offset + t * WINDOW_CHANNELS;
    for (let ch = 0; ch < WINDOW_CHANNELS; ch++) {
      p = skipWs(b, p);
      if (ch > 0) {
        if (b[p++] !== COMMA) return -1;
        p = skipWs(b, p);
      }
      const start = p;
      const negative = b[p] === MINUS;
      if (negative) p++;
      let mantissa = 0;
      let digits = 0; // significant digits folded into mantissa
      let exp10 = 0;
      let c = b[p];
      if (c === ZERO) {
        p++;
      } else if (c > ZERO && c <= NINE) {
        while (p < n && (c = b[p]) >= ZERO && c <= NINE) {
          mantissa = mantissa * 10 + (c - ZERO);
          digits++;
          p++;
        }
      } else {
        return -1;
      }
      if (b[p] === DOT) {
        const fracStart = ++p;
        while (p < n && (c = b[p]) >= ZERO && c <= NINE) {
          if (mantissa !== 0 || c !== ZERO) digits++;
          mantissa = mantissa * 10 + (c - ZERO);
          exp10--;
          p++;
        }
        if (p === fracStart) return -1;
      }
      c = b[p];
      if (c === LOWER_E || c === UPPER_E) {
        p++;
        let expNegative = false;
        if (b[p] === MINUS || b[p] === PLUS) expNegative = b[p++] === MINUS;
        const expStart = p;
        let e = 0;
        while (p < n && (c = b[p]) >= ZERO && c <= NINE) {
          if (e < 100_000) e = e * 10 + (c - ZERO);
          p++;
        }
        if (p === expStart) return -1;
        exp10 += expNegative ? -e : e;
      }
      let v: number;
      if (digits <= 15 && exp10 >= -22 && exp10 <= 22) {
        v = exp10 >= 0 ? mantissa * POW10[exp10] : mantissa / POW10[-exp10];
        if (negative) v = -v;
      } else {
        v = Number(Buffer.from(b.buffer, b.byteOffset + start, p - start).toString('latin1'));
      }
      // Same arithmetic as writeWindow, so both paths store bit-identical float32 values.
      const k = base + ch;
      out[k] = (v - mean[ch]) * invStd[ch];
      if (!Number.isFinite(out[k])) return -1;
    }
    p = skipWs(b, p);
    if (b[p++] !== RBRACKET) return -1;
  }
  p = skipWs(b, p);
  return b[p] === RBRACKET ? p + 1 : -1;
}

/** The fast path of parseInferBody; null means "let JSON.parse decide". Exported for tests. */
export function scanInferBody(b: Uint8Array, norm: Normalizer, maxBatch: number): InferRequest | null {
  let p = skipWs(b, 0);
  if (b[p++] !== LBRACE) return null;
  let result: InferRequest;
  p = skipWs(b, p);
  if (b[p + 1] === 0x78 /* x */) {
    if ((p = scanKey(b, p, 'x')) < 0) return null;
    const input = new Float32Array(WINDOW_VALUES);
    if ((p = scanWindow(b, p, norm, input, 0)) < 0) return null;
    result = { kind: 'single', count: 1, input };
  } else {
    if ((p = scanKey(b, p, 'batch')) < 0) return null;
    p = skipWs(b, p);
    if (b[p++] !== LBRACKET) return null;
    const windows: Float32Array[] = [];
    for (;;) {
      if (windows.length === maxBatch) return null;
      const w = new Float32Array(WINDOW_VALUES);
      if ((p = scanWindow(b, p, norm, w, 0)) < 0) return null;
      windows.push(w);
      p = skipWs(b, p);
      if (b[p] !== COMMA) break;
      p++;
    }
    if (b[p++] !== RBRACKET) return null;
    const input = new Float32Array(windows.length * WINDOW_VALUES);
    windows.forEach((w, i) => input.set(w, i * WINDOW_VALUES));
    result = { kind: 'batch', count: windows.length, input };
  }
  p = skipWs(b, p);
  if (b[p++] !== RBRACE) return null;
  return skipWs(b, p) === b.length ? result : null;
}
