// measureServing: the figures validateDeployment measures (single-stream latency after warm-up,
// closed-loop throughput), of whatever the device serves now, with no gates and no expected sha:
// the "old model" side of a canary comparison. Output agreement comes from the served release's
// own metadata sidecar (its reference probes and binding windows) when the device has it; the
// `note` says why a figure is absent.
//
// Failures: the runtime not answering is the retryable DeviceUnreachable; a runtime that answers
// but serves no model is the non-retryable NothingServed (except while it is still loading or
// shutting down: retryable HealthCheckFailed); a model that changes during the measurement, or
// that fails every request, is the retryable HealthCheckFailed (the figures would describe
// nothing or a mix).
import { ApplicationFailure } from '@temporalio/common';
import * as path from 'node:path';
import type { BindingSet, MeasureServingInput, ModelMetadata, ServingFigures } from '../../common/contracts';
import { ErrorType } from '../../common/errors';
import { SHA256_PATTERN } from '../../common/ids';
import { readModelMetadata } from '../../edge/metadata';
import { SHA_PREFIX_LENGTH } from './health';
import { LoadClient } from './loadTest';
import {
  loadBinding, measureLoad, measureSettingsOf, progress, readHealth, requestBodies, roundLatency, runBinding, runProbes, warmUp, type ServingDevice,
} from './measurement';
import { exists, metaPathOf, releasesDir, MODEL_EXTS } from './modelDir';
import { currentRelease, type CurrentRelease } from './probeServing';
import { DEFAULT_GATES, evaluateBinding, evaluateOutputs } from './validationGates';

/** /healthz reasons of a runtime on its way to serving (or out of it): retrying can help. */
const TRANSIENT_REASONS = ['model loading', 'shutting down'];

interface Served {
  prefix: string;
  /** Full sha: from /healthz, or from `current` when its release matches the prefix; null otherwise. */
  sha256: string | null;
}

async function servedModel(client: LoadClient, device: ServingDevice, current: CurrentRelease | null): Promise<Served> {
  const { status, health, body } = await readHealth(client, device);
  if (status !== 200 || health.ok !== true) {
    const reason = typeof health.reason === 'string' ? health.reason : body.slice(0, 200);
    const details = { deviceId: device.id, status, reason, currentSha256: current?.sha256 ?? null };
    if (TRANSIENT_REASONS.includes(reason)) {
      throw ApplicationFailure.create({ type: ErrorType.HealthCheckFailed, message: `device ${device.id} is not serving yet (HTTP ${status}: ${reason})`, details: [details] });
    }
    throw ApplicationFailure.create({
      type: ErrorType.NothingServed,
      nonRetryable: true,
      message: `device ${device.id} serves no model (HTTP ${status}: ${reason})`,
      details: [details],
    });
  }
  const prefix = typeof health.hef_sha256 === 'string' ? health.hef_sha256 : '';
  if (prefix.length < SHA_PREFIX_LENGTH) {
    throw ApplicationFailure.retryable(`device ${device.id} /healthz is ok but names no model (hef_sha256 ${JSON.stringify(health.hef_sha256)})`, ErrorType.HealthCheckFailed);
  }
  const full = typeof health.sha256 === 'string' && SHA256_PATTERN.test(health.sha256) && health.sha256.startsWith(prefix) ? health.sha256 : null;
  return { prefix, sha256: full ?? (current?.sha256.startsWith(prefix) ? current.sha256 : null) };
}

interface Sidecar {
  meta?: ModelMetadata;
  binding?: BindingSet;
  notes: string[];
}

/** The served release's metadata and binding windows, or notes saying why they are not used. */
async function servedSidecar(device: ServingDevice, served: Served, current: CurrentRelease | null): Promise<Sidecar> {
  if (served.sha256 === null) {
    return { notes: [`the runtime reports only the sha prefix ${served.prefix} and \`current\` names another release, so the served release's metadata cannot be found`] };
  }
  const sha = served.sha256;
  const exts = current?.sha256 === sha ? [current.ext] : [...MODEL_EXTS];
  let file: string | undefined;
  for (const ext of exts) {
    const candidate = metaPathOf(path.join(releasesDir(device.modelDir), `${sha}.${ext}`));
    if (await exists(candidate)) {
      file = candidate;
      break;
    }
  }
  if (!file) return { notes: [`no metadata sidecar for the served release ${sha} in ${releasesDir(device.modelDir)}`] };
  let meta: ModelMetadata;
  try {
    meta = await readModelMetadata(file);
  } catch (err) {
    return { notes: [`the served release's metadata is unusable: ${(err as Error).message}`] };
  }
  if (meta.sha256 !== sha) return { notes: [`${file} describes sha256 ${meta.sha256}, not the served ${sha}`] };
  try {
    return { meta, binding: await loadBinding(file), notes: [] };
  } catch (err) {
    return { meta, notes: [`binding windows not used: ${(err as Error).message}`] };
  }
}

function firstError(outcomes: Array<{ error?: string }>): string {
  return outcomes.find((o) => o.error !== undefined)?.error ?? 'latent of the wrong size or non-finite';
}

async function measureAgreement(client: LoadClient, device: ServingDevice, sidecar: Sidecar): Promise<NonNullable<ServingFigures['agreement']>> {
  const agreement: NonNullable<ServingFigures['agreement']> = {};
  const notes = [...sidecar.notes];
  const { meta, binding } = sidecar;
  if (meta) {
    if (meta.probes.length === 0) notes.push('the metadata carries no reference probes');
    else {
      progress(device.id, 'outputs');
      const outcomes = await runProbes(client, device.inferenceUrl, meta);
      const { outputs } = evaluateOutputs(outcomes, DEFAULT_GATES);
      const answered = outputs.referenceCosine.length;
      if (answered > 0) agreement.minReferenceCosine = outputs.minReferenceCosine;
      if (answered < outcomes.length) notes.push(`${outcomes.length - answered} of ${outcomes.length} reference probes gave no usable latent (first: ${firstError(outcomes)})`);
    }
    if (!binding) notes.push('the metadata ships no binding windows');
    else {
      progress(device.id, 'binding', { windows: binding.windows.length });
      const outcomes = await runBinding(client, device.inferenceUrl, binding);
      const b = evaluateBinding(outcomes, DEFAULT_GATES).binding;
      if (b.answered > 0) {
        agreement.bindingMinCosine = b.minCosine;
        agreement.bindingMaxRelativeError = b.maxRelativeError;
      }
      if (b.answered < b.windows) notes.push(`${b.windows - b.answered} of ${b.windows} binding windows gave no usable latent (first: ${firstError(outcomes)})`);
    }
  }
  if (notes.length) agreement.note = notes.join('; ');
  return agreement;
}

export function createMeasureServing(device: ServingDevice): (input: MeasureServingInput) => Promise<ServingFigures> {
  return async function measureServing(input: MeasureServingInput): Promise<ServingFigures> {
    const started = performance.now();
    const settings = measureSettingsOf(input ?? {});
    const current = await currentRelease(device.modelDir);
    const client = new LoadClient(settings.concurrency);
    try {
      progress(device.id, 'health');
      const served = await servedModel(client, device, current);
      const sidecar = await servedSidecar(device, served, current);
      const bodies = requestBodies(sidecar.meta);
      await warmUp(client, device, bodies, settings);
      const agreement = await measureAgreement(client, device, sidecar);
      const load = await measureLoad(client, device, bodies, settings);

      // A restart or swap in the middle would mean the figures describe some other model.
      progress(device.id, 'health-after');
      const after = await servedModel(client, device, current);
      if (after.prefix !== served.prefix) {
        throw ApplicationFailure.retryable(`device ${device.id} switched from ${served.prefix} to ${after.prefix} during the measurement`, ErrorType.HealthCheckFailed);
      }
      if (load.latencyMs.count === 0) {
        throw ApplicationFailure.retryable(`device ${device.id}: none of ${settings.latencyRequests} sequential requests succeeded (first: ${load.latencyFirstError ?? 'unknown'})`, ErrorType.HealthCheckFailed);
      }
      return {
        deviceId: device.id,
        servedSha256Prefix: served.prefix,
        currentSha256: current?.sha256 ?? null,
        latencyMs: roundLatency(load.latencyMs),
        throughput: load.throughput,
        agreement,
        durationMs: Math.round(performance.now() - started),
      };
    } finally {
      client.close();
    }
  };
}
