// Pure statistics for measurements and output checks. No Node built-ins: safe for workflow code.
import type { LatencyFigures } from './contracts';

/**
 * Nearest-rank percentile of an ascending-sorted sample (the sorted-sample method MLPerf LoadGen
 * reports): the smallest value such that at least q of the samples are ≤ it. No interpolation,
 * so every reported figure is a latency that was actually observed.
 */
export function percentile(sortedAscending: readonly number[], q: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`percentile rank must be in [0, 1], got ${q}`);
  const n = sortedAscending.length;
  if (n === 0) throw new RangeError('percentile of an empty sample');
  const index = Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1));
  return sortedAscending[index];
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('mean of an empty sample');
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** Population variance (divides by n): the spread of the values themselves, not an estimate. */
export function variance(values: readonly number[]): number {
  const m = mean(values);
  let sum = 0;
  for (const v of values) sum += (v - m) * (v - m);
  return sum / values.length;
}

export function summarizeLatencies(samplesMs: readonly number[]): LatencyFigures {
  if (samplesMs.length === 0) throw new RangeError('no latency samples');
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    mean: mean(sorted),
    max: sorted[sorted.length - 1],
  };
}

function assertSameLength(a: readonly number[], b: readonly number[]): void {
  if (a.length !== b.length) throw new RangeError(`vectors differ in length: ${a.length} vs ${b.length}`);
}

/**
 * Cosine similarity. A zero vector has no direction, so it agrees with nothing: 0, never NaN,
 * which would silently pass or fail comparisons depending on how they are written.
 */
export function cosineSimilarity(a: readonly number[], b: readonly number[]): number {
  assertSameLength(a, b);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  if (na === 0 || nb === 0) return 0;
  return dot / Math.sqrt(na * nb);
}

export function euclideanDistance(a: readonly number[], b: readonly number[]): number {
  assertSameLength(a, b);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] - b[i]) * (a[i] - b[i]);
  return Math.sqrt(sum);
}
