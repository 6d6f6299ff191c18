// validateDeployment: proves, with measured figures, that a device serves the new model well
// enough — the right sha, latency, throughput and sane outputs that agree with the GPU side.
// A failed gate is final (non-retryable ValidationGateFailed carrying the whole report); only
// "could not reach the device" is retryable.
import { ApplicationFailure } from '@temporalio/common';
import { asyncLocalStorage, type Context } from '@temporalio/activity';
import * as path from 'node:path';
import type { ModelMetadata, ValidateDeploymentInput, ValidationReport } from '../../common/contracts';
import { ErrorType } from '../../common/errors';
import { assertSha256 } from '../../common/ids';
import { summarizeLatencies } from '../../common/percentiles';
import { MetadataError, readModelMetadata } from '../../edge/metadata';
import { isNetworkError, LoadClient, measureConcurrent, measureSequential } from './loadTest';
import { readFile } from 'node:fs/promises';
import type { BindingSet } from '../../common/contracts';
import { evaluateBinding, evaluateOutputs, evaluatePerformance, resolveGates, type BindingOutcome, type ProbeOutcome } from './validationGates';

export interface ValidationDevice {
  id: string;
  modelDir: string;
  healthUrl: string;
  inferenceUrl: string;
}

interface Settings {
  latencyRequests: number;
  warmupRequests: number;
  concurrency: number;
  throughputDurationMs: number;
}

function intInRange(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw ApplicationFailure.nonRetryable(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`, ErrorType.InvalidRequest);
  }
  return v;
}

function settingsOf(input: ValidateDeploymentInput): Settings {
  return {
    latencyRequests: intInRange('latencyRequests', input.latencyRequests, 200, 100, 100_000),
    warmupRequests: intInRange('warmupRequests', input.warmupRequests, 20, 0, 10_000),
    concurrency: intInRange('concurrency', input.concurrency, 8, 1, 256),
    throughputDurationMs: intInRange('throughputDurationMs', input.throughputDurationMs, 3000, 100, 600_000),
  };
}

/** Heartbeats when running as an activity; a no-op when called directly (tests, scripts). */
function activityContext(): Context | undefined {
  return asyncLocalStorage.getStore() as Context | undefined;
}

function progress(deviceId: string, stage: string, extra: Record<string, unknown> = {}): void {
  activityContext()?.heartbeat({ deviceId, stage, ...extra });
}

async function loadProbes(device: ValidationDevice, sha256: string, ext: string): Promise<ModelMetadata> {
  const file = path.join(device.modelDir, 'releases', `${sha256}.${ext}.meta.json`);
  let meta: ModelMetadata;
  try {
    meta = await readModelMetadata(file);
  } catch (err) {
    const missing = err instanceof MetadataError && /ENOENT/.test(err.message);
    throw ApplicationFailure.nonRetryable((err as Error).message, missing ? ErrorType.ArtifactNotStaged : ErrorType.InvalidRequest);
  }
  if (meta.sha256 !== sha256) {
    throw ApplicationFailure.nonRetryable(`${file} describes sha256 ${meta.sha256}, not ${sha256}`, ErrorType.InvalidRequest);
  }
  return meta;
}

/** The sha prefix the device serves; throws the typed failure a caller can act on. */
async function servedShaPrefix(client: LoadClient, device: ValidationDevice, sha256: string): Promise<string> {
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
  let health: { ok?: unknown; hef_sha256?: unknown; sha256?: unknown; reason?: unknown };
  try {
    health = JSON.parse(body) as typeof health;
  } catch {
    throw ApplicationFailure.retryable(`device ${device.id} /healthz answered HTTP ${status} with non-JSON: ${body.slice(0, 200)}`, ErrorType.HealthCheckFailed);
  }
  if (status !== 200 || health.ok !== true) {
    throw ApplicationFailure.retryable(`device ${device.id} is not healthy (HTTP ${status}): ${String(health.reason ?? body.slice(0, 200))}`, ErrorType.HealthCheckFailed);
  }
  const prefix = typeof health.hef_sha256 === 'string' ? health.hef_sha256 : '';
  const fullMatches = typeof health.sha256 !== 'string' || health.sha256 === sha256;
  if (prefix.length < 16 || !sha256.startsWith(prefix) || !fullMatches) {
    throw ApplicationFailure.nonRetryable(
      `device ${device.id} serves ${prefix || '(no hef_sha256)'}, not the model under validation ${sha256.slice(0, 16)}`,
      ErrorType.HealthCheckFailed,
    );
  }
  return prefix;
}

/** One window through the device's /infer: its latent, or why there is none. */
async function inferLatent(client: LoadClient, url: string, window: number[][]): Promise<{ latent?: number[]; error?: string }> {
  try {
    const res = await client.send('POST', url, Buffer.from(JSON.stringify({ x: window })));
    if (res.status !== 200) return { error: `HTTP ${res.status}: ${res.body.slice(0, 200)}` };
    const latent = (JSON.parse(res.body) as { latent?: unknown }).latent;
    return Array.isArray(latent) ? { latent: latent as number[] } : { error: 'response has no "latent" array' };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

async function runProbes(client: LoadClient, url: string, meta: ModelMetadata): Promise<ProbeOutcome[]> {
  const outcomes: ProbeOutcome[] = [];
  for (const p of meta.probes) outcomes.push({ probe: p.name, window: p.window, reference: p.reference, ...(await inferLatent(client, url, p.window)) });
  return outcomes;
}

/**
 * The metadata's binding windows, if it ships them. Read from the raw file: the runtime's
 * metadata schema (edge/metadata.ts) keeps only what the runtime needs. A malformed set is the
 * artifact's fault, not a reason to retry.
 */
async function loadBinding(device: ValidationDevice, sha256: string, ext: string): Promise<BindingSet | undefined> {
  const file = path.join(device.modelDir, 'releases', `${sha256}.${ext}.meta.json`);
  const raw = (JSON.parse(await readFile(file, 'utf8')) as { binding?: BindingSet }).binding;
  if (raw === undefined) return undefined;
  const ok = Array.isArray(raw.windows) && Array.isArray(raw.reference) && raw.windows.length === raw.reference.length && raw.windows.length > 0 &&
    raw.windows.every((w) => Array.isArray(w) && w.length === 100 && w.every((r) => Array.isArray(r) && r.length === 9));
  if (!ok) throw ApplicationFailure.nonRetryable(`${file}: binding is not {windows [N][100][9], reference [N][64]}`, ErrorType.InvalidRequest);
  return raw;
}

async function runBinding(client: LoadClient, url: string, binding: BindingSet): Promise<BindingOutcome[]> {
  const outcomes: BindingOutcome[] = [];
  for (let i = 0; i < binding.windows.length; i++) outcomes.push({ reference: binding.reference[i], ...(await inferLatent(client, url, binding.windows[i])) });
  return outcomes;
}

const round3 = (v: number): number => Math.round(v * 1000) / 1000;

export function createValidateDeployment(device: ValidationDevice): (input: ValidateDeploymentInput) => Promise<ValidationReport> {
  return async function validateDeployment(input: ValidateDeploymentInput): Promise<ValidationReport> {
    const started = performance.now();
    try {
      assertSha256(input.sha256);
    } catch (err) {
      throw ApplicationFailure.nonRetryable((err as Error).message, ErrorType.InvalidRequest);
    }
    if (input.ext !== 'onnx' && input.ext !== 'hef') throw ApplicationFailure.nonRetryable(`ext must be onnx or hef, got ${String(input.ext)}`, ErrorType.InvalidRequest);
    const settings = settingsOf(input);
    let gates;
    try {
      gates = resolveGates(input.gates);
    } catch (err) {
      throw ApplicationFailure.nonRetryable((err as Error).message, ErrorType.InvalidRequest);
    }
    const meta = await loadProbes(device, input.sha256, input.ext);
    const binding = await loadBinding(device, input.sha256, input.ext);
    const signal = activityContext()?.cancellationSignal;
    const client = new LoadClient(settings.concurrency);
    try {
      progress(device.id, 'health');
      const servedSha256Prefix = await servedShaPrefix(client, device, input.sha256);

      // Probe windows double as the request mix: real activity patterns, not one repeated body.
      const bodies = meta.probes.length
        ? meta.probes.map((p) => Buffer.from(JSON.stringify({ x: p.window })))
        : [Buffer.from(JSON.stringify({ x: Array.from({ length: 100 }, () => meta.normalization.mean) }))];

      progress(device.id, 'warmup');
      await measureSequential(client, device.inferenceUrl, bodies, settings.warmupRequests, { signal });

      progress(device.id, 'outputs');
      const { outputs, failures: outputFailures } = evaluateOutputs(await runProbes(client, device.inferenceUrl, meta), gates);
      if (binding) {
        progress(device.id, 'binding', { windows: binding.windows.length });
        const checked = evaluateBinding(await runBinding(client, device.inferenceUrl, binding), gates);
        outputs.binding = checked.binding;
        outputFailures.push(...checked.failures);
      }

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
      const throughput = { concurrency: tp.concurrency, durationMs: round3(tp.durationMs), completed: tp.completed, errors: tp.errors, rps: round3(tp.rps) };

      const failures = [...outputFailures, ...evaluatePerformance(latencyMs, seq.errors, throughput, gates)];
      if (seq.firstError) failures.push(`latency: first error: ${seq.firstError}`);
      if (tp.firstError) failures.push(`throughput: first error: ${tp.firstError}`);

      // A restart in the middle would mean the figures describe some other model.
      progress(device.id, 'health-after');
      try {
        await servedShaPrefix(client, device, input.sha256);
      } catch (err) {
        failures.push(`health after load: ${(err as Error).message}`);
      }

      const report: ValidationReport = {
        deviceId: device.id,
        sha256: input.sha256,
        servedSha256Prefix,
        latencyMs: {
          count: latencyMs.count,
          p50: round3(latencyMs.p50),
          p90: round3(latencyMs.p90),
          p95: round3(latencyMs.p95),
          p99: round3(latencyMs.p99),
          mean: round3(latencyMs.mean),
          max: round3(latencyMs.max),
        },
        throughput,
        outputs,
        gates,
        failures,
        passed: failures.length === 0,
        durationMs: Math.round(performance.now() - started),
      };
      if (!report.passed) {
        throw ApplicationFailure.create({
          message: `validation failed on ${device.id}: ${failures.join('; ')}`,
          type: ErrorType.ValidationGateFailed,
          nonRetryable: true,
          details: [report],
        });
      }
      return report;
    } finally {
      client.close();
    }
  };
}
