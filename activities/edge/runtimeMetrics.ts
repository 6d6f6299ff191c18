// Reading the runtime's GET /metrics (Prometheus text, edge/metrics.ts) for the soak watcher: the
// few series it judges, and their increase between two readings. Pure apart from the fetch.
import { wholeMs } from './health';
import { httpGet, HttpGetError } from './httpGet';

/** The part of one /metrics reading the watcher uses. */
export interface MetricsReading {
  /** edgeship_uptime_seconds: goes down only when the runtime restarted. */
  uptimeSeconds: number | null;
  /** edgeship_http_requests_total{route="/infer"}, every status. */
  inferRequests: number;
  /** edgeship_http_requests_total{route="/infer", status=5xx}: the runtime's error responses. */
  inferErrors: number;
  /** edgeship_inference_duration_seconds_bucket: cumulative count per upper bound (s, +Inf last). */
  inferenceBuckets: Array<{ le: number; count: number }>;
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$/;
const LABEL = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function unescapeLabel(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function parseValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line.trim());
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]] = unescapeLabel(l[2]);
    samples.push({ name: m[1], labels, value: parseValue(m[3]) });
  }
  return samples;
}

export function parseMetrics(text: string): MetricsReading {
  const reading: MetricsReading = { uptimeSeconds: null, inferRequests: 0, inferErrors: 0, inferenceBuckets: [] };
  for (const s of parseSamples(text)) {
    if (!Number.isFinite(s.value)) continue;
    if (s.name === 'edgeship_uptime_seconds') reading.uptimeSeconds = s.value;
    else if (s.name === 'edgeship_http_requests_total' && s.labels.route === '/infer') {
      reading.inferRequests += s.value;
      if (Number(s.labels.status) >= 500) reading.inferErrors += s.value;
    } else if (s.name === 'edgeship_inference_duration_seconds_bucket' && s.labels.le !== undefined) {
      reading.inferenceBuckets.push({ le: parseValue(s.labels.le), count: s.value });
    }
  }
  reading.inferenceBuckets.sort((a, b) => a.le - b.le);
  return reading;
}

/** What the counters grew by over the soak, summed over the intervals between readings. */
export interface MetricsIncrease {
  requests: number;
  errors: number;
  /** Cumulative bucket increases, same bounds as the readings (+Inf last). */
  inferenceBuckets: Array<{ le: number; count: number }>;
  /** Intervals in which the counters went back to zero (the runtime restarted). */
  resets: number;
  /** Readings compared (an interval needs two). */
  intervals: number;
}

export function emptyIncrease(): MetricsIncrease {
  return { requests: 0, errors: 0, inferenceBuckets: [], resets: 0, intervals: 0 };
}

/**
 * Adds the increase from `prev` to `next` to `acc`. A restart resets the counters: the uptime
 * going down (or a counter going down) counts as a reset, and the new values are the increase
 * since it (Prometheus' increase() rule); what the old process counted after `prev` is lost.
 */
export function addIncrease(acc: MetricsIncrease, prev: MetricsReading, next: MetricsReading): void {
  const reset =
    (prev.uptimeSeconds !== null && next.uptimeSeconds !== null && next.uptimeSeconds < prev.uptimeSeconds) ||
    next.inferRequests < prev.inferRequests ||
    next.inferErrors < prev.inferErrors ||
    next.inferenceBuckets.some((b) => b.count < (prev.inferenceBuckets.find((p) => p.le === b.le)?.count ?? 0));
  const base = (v: number): number => (reset ? 0 : v);
  acc.intervals += 1;
  if (reset) acc.resets += 1;
  acc.requests += next.inferRequests - base(prev.inferRequests);
  acc.errors += next.inferErrors - base(prev.inferErrors);
  for (const b of next.inferenceBuckets) {
    const grew = b.count - base(prev.inferenceBuckets.find((p) => p.le === b.le)?.count ?? 0);
    const slot = acc.inferenceBuckets.find((a) => a.le === b.le);
    if (slot) slot.count += grew;
    else acc.inferenceBuckets.push({ le: b.le, count: grew });
  }
  acc.inferenceBuckets.sort((a, b) => a.le - b.le);
}

/**
 * p95 in ms from cumulative bucket counts: the upper bound of the first bucket holding the
 * nearest-rank 95th observation. null without observations. `overflow`: the rank falls in the
 * +Inf bucket; the value is then the largest finite bound (the p95 is above it).
 */
export function histogramP95Ms(buckets: ReadonlyArray<{ le: number; count: number }>): { p95Ms: number; overflow: boolean } | null {
  const total = buckets.length ? buckets[buckets.length - 1].count : 0;
  if (!(total > 0)) return null;
  const rank = Math.ceil(0.95 * total);
  const finite = buckets.filter((b) => Number.isFinite(b.le));
  for (const b of finite) if (b.count >= rank) return { p95Ms: Math.round(b.le * 1000 * 1000) / 1000, overflow: false };
  const largest = finite.length ? finite[finite.length - 1].le : 0;
  return { p95Ms: Math.round(largest * 1000 * 1000) / 1000, overflow: true };
}

/** GET /metrics: the reading, or why there is none (no answer, not 200). Cancellation throws. */
export async function readMetrics(metricsUrl: string, timeoutMs: number, cancel?: AbortSignal): Promise<{ reading: MetricsReading } | { error: string }> {
  try {
    const res = await httpGet(metricsUrl, { timeoutMs: wholeMs(timeoutMs), signal: cancel });
    if (res.status !== 200) return { error: `HTTP ${res.status}` };
    return { reading: parseMetrics(res.body) };
  } catch (err) {
    cancel?.throwIfAborted();
    if (err instanceof HttpGetError && err.kind === 'timeout') return { error: `no answer within ${wholeMs(timeoutMs)} ms` };
    return { error: (err as HttpGetError).code ?? (err as Error).message };
  }
}

/** The runtime's /metrics next to its /healthz (same origin, same path prefix). */
export function metricsUrlOf(healthUrl: string): string {
  const u = new URL(healthUrl);
  u.pathname = /\/healthz\/?$/.test(u.pathname) ? u.pathname.replace(/healthz\/?$/, 'metrics') : '/metrics';
  u.search = '';
  return u.toString();
}
