// The measurement shared by validateDeployment (gated, of the model under validation) and
// measureServing (no gates, of whatever the device serves now): the settings, the /healthz read,
// the request mix, warm-up, single-stream latency, closed-loop throughput, and the agreement runs
// (reference probes and binding windows from a release's metadata sidecar).
import { ApplicationFailure } from '@temporalio/common';
import { readFile } from 'node:fs/promises';
import type { BindingSet, LatencyFigures, ModelMetadata, ValidationReport } from '../../common/contracts';
import { ErrorType } from '../../common/errors';
import { summarizeLatencies } from '../../common/percentiles';
import { WINDOW_CHANNELS, WINDOW_STEPS } from '../../edge/requestParsing';
import { cancellationSignal, heartbeat } from './activityContext';
import { isNetworkError, LoadClient, measureConcurrent, measureSequential } from './loadTest';
import type { BindingOutcome, ProbeOutcome } from './validationGates';

/** The device's runtime as the edge activities see it (a DeviceSpec has these and more). */
export interface ServingDevice {
  id: string;
  modelDir: string;
  healthUrl: string;
  inferenceUrl: string;
}

export interface MeasureSettings {
  latencyRequests: number;
  warmupRequests: number;
  concurrency: number;
  throughputDurationMs: number;
}

export type MeasureSettingsInput = Partial<Record<keyof MeasureSettings, number>>;

export function intInRange(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw ApplicationFailure.nonRetryable(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`, ErrorType.InvalidRequest);
  }
  return v;
}

/** Defaults and bounds of the load settings; a bad value is InvalidRequest (non-retryable). */
export function measureSettingsOf(input: MeasureSettingsInput): MeasureSettings {
  return {
    latencyRequests: intInRange('latencyRequests', input.latencyRequests, 200, 100, 100_000),
    warmupRequests: intInRange('warmupRequests', input.warmupRequests, 20, 0, 10_000),
    concurrency: intInRange('concurrency', input.concurrency, 8, 1, 256),
    throughputDurationMs: intInRange('throughputDurationMs', input.throughputDurationMs, 3000, 100, 600_000),
  };
}

/** Heartbeats when running as an activity; a no-op when called directly (tests, scripts). */
export function progress(deviceId: string, stage: string, extra: Record<string, unknown> = {}): void {
  heartbeat({ deviceId, stage, ...extra });
}

export interface HealthBody {
  ok?: unknown;
  hef_sha256?: unknown;
  sha256?: unknown;
  reason?: unknown;
}

/**
 * One GET /healthz through the load client: its status and parsed body. No answer is the
 * retryable DeviceUnreachable; an answer that is not JSON is the retryable HealthCheckFailed.
 */
export async function readHealth(client: LoadClient, device: ServingDevice): Promise<{ status: number; health: HealthBody; body: string }> {
  let status: number;
  let body: string;
  try {
    ({ status, body } = await client.send('GET', device.healthUrl));
  } catch (err) {
    if (isNetworkError(err)) {
      throw ApplicationFailure.retryable(`device ${device.id} unreachable at ${device.healthUrl}: ${(err as Error).message}`, ErrorType.DeviceUnreachable);
    }
    throw err;
  }
  let health: HealthBody;
  try {
    health = JSON.parse(body) as HealthBody;
  } catch {
    throw ApplicationFailure.retryable(`device ${device.id} /healthz answered HTTP ${status} with non-JSON: ${body.slice(0, 200)}`, ErrorType.HealthCheckFailed);
  }
  if (health === null || typeof health !== 'object') health = {};
  return { status, health, body };
}

/** One window through the device's /infer: its latent, or why there is none. */
export async function inferLatent(client: LoadClient, url: string, window: number[][]): Promise<{ latent?: number[]; error?: string }> {
  try {
    const res = await client.send('POST', url, Buffer.from(JSON.stringify({ x: window })));
    if (res.status !== 200) return { error: `HTTP ${res.status}: ${res.body.slice(0, 200)}` };
    const latent = (JSON.parse(res.body) as { latent?: unknown }).latent;
    return Array.isArray(latent) ? { latent: latent as number[] } : { error: 'response has no "latent" array' };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

export async function runProbes(client: LoadClient, url: string, meta: ModelMetadata): Promise<ProbeOutcome[]> {
  const outcomes: ProbeOutcome[] = [];
  for (const p of meta.probes) outcomes.push({ probe: p.name, window: p.window, reference: p.reference, ...(await inferLatent(client, url, p.window)) });
  return outcomes;
}

/**
 * The binding windows of a metadata file, if it ships them. Read from the raw file: the
 * runtime's metadata schema (edge/metadata.ts) keeps only what the runtime needs. A malformed set
 * is the artifact's fault, not a reason to retry: non-retryable InvalidRequest.
 */
export async function loadBinding(metadataFile: string): Promise<BindingSet | undefined> {
  const raw = (JSON.parse(await readFile(metadataFile, 'utf8')) as { binding?: BindingSet }).binding;
  if (raw === undefined) return undefined;
  const ok = Array.isArray(raw.windows) && Array.isArray(raw.reference) && raw.windows.length === raw.reference.length && raw.windows.length > 0 &&
    raw.windows.every((w) => Array.isArray(w) && w.length === WINDOW_STEPS && w.every((r) => Array.isArray(r) && r.length === WINDOW_CHANNELS));
  if (!ok) throw ApplicationFailure.nonRetryable(`${metadataFile}: binding is not {windows [N][100][9], reference [N][64]}`, ErrorType.InvalidRequest);
  return raw;
}

export async function runBinding(client: LoadClient, url: string, binding: BindingSet): Promise<BindingOutcome[]> {
  const outcomes: BindingOutcome[] = [];
  for (let i = 0; i < binding.windows.length; i++) outcomes.push({ reference: binding.reference[i], ...(await inferLatent(client, url, binding.windows[i])) });
  return outcomes;
}

/** A fixed, varied [100][9] window: traffic for a runtime whose metadata is not at hand. */
export function syntheticWindow(): number[][] {
  return Array.from({ length: WINDOW_STEPS }, (_, t) => Array.from({ length: WINDOW_CHANNELS }, (_, c) => Math.round(Math.sin((t + 1) * (c + 1) / 10) * 1e6) / 1e6));
}

/**
 * The /infer request mix. The metadata's probe windows double as the request mix: real activity
 * patterns, not one repeated body. Without probes, one window of the normalization means; without
 * metadata, a synthetic window.
 */
export function requestBodies(meta: ModelMetadata | undefined): Buffer[] {
  if (meta?.probes.length) return meta.probes.map((p) => Buffer.from(JSON.stringify({ x: p.window })));
  const window = meta ? Array.from({ length: WINDOW_STEPS }, () => meta.normalization.mean) : syntheticWindow();
  return [Buffer.from(JSON.stringify({ x: window }))];
}

export async function warmUp(client: LoadClient, device: ServingDevice, bodies: Buffer[], settings: MeasureSettings): Promise<void> {
  progress(device.id, 'warmup');
  await measureSequential(client, device.inferenceUrl, bodies, settings.warmupRequests, { signal: cancellationSignal() });
}

export const round3 = (v: number): number => Math.round(v * 1000) / 1000;

export function roundLatency(l: LatencyFigures): LatencyFigures {
  return { count: l.count, p50: round3(l.p50), p90: round3(l.p90), p95: round3(l.p95), p99: round3(l.p99), mean: round3(l.mean), max: round3(l.max) };
}

export interface LoadFigures {
  /** Single-stream latency of the successful requests, unrounded (zeros when none succeeded). */
  latencyMs: LatencyFigures;
  latencyErrors: number;
  latencyFirstError?: string;
  throughput: ValidationReport['throughput'];
  throughputFirstError?: string;
}

/**
 * Single-stream latency (`latencyRequests` one after another), then closed-loop throughput
 * (`concurrency` in flight for `throughputDurationMs`), heartbeating as it goes and stopping on
 * cancellation.
 */
export async function measureLoad(client: LoadClient, device: ServingDevice, bodies: Buffer[], settings: MeasureSettings): Promise<LoadFigures> {
  const signal = cancellationSignal();
  progress(device.id, 'latency', { requests: settings.latencyRequests });
  const seq = await measureSequential(client, device.inferenceUrl, bodies, settings.latencyRequests, {
    signal,
    onProgress: (done) => progress(device.id, 'latency', { done, of: settings.latencyRequests }),
  });
  const latencyMs = seq.samplesMs.length
    ? summarizeLatencies(seq.samplesMs)
    : { count: 0, p50: 0, p90: 0, p95: 0, p99: 0, mean: 0, max: 0 };

  progress(device.id, 'throughput', { concurrency: settings.concurrency, durationMs: settings.throughputDurationMs });
  const beat = setInterval(() => progress(device.id, 'throughput', { concurrency: settings.concurrency }), 1000);
  let tp;
  try {
    tp = await measureConcurrent(client, device.inferenceUrl, bodies, settings.concurrency, settings.throughputDurationMs, { signal });
  } finally {
    clearInterval(beat);
  }
  return {
    latencyMs,
    latencyErrors: seq.errors,
    latencyFirstError: seq.firstError,
    throughput: { concurrency: tp.concurrency, durationMs: round3(tp.durationMs), completed: tp.completed, errors: tp.errors, rps: round3(tp.rps) },
    throughputFirstError: tp.firstError,
  };
}
