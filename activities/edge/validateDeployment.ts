// validateDeployment: proves, with measured figures, that a device serves the new model well
// enough — the right sha, latency, throughput and sane outputs that agree with the GPU side.
// A failed gate is final (non-retryable ValidationGateFailed carrying the whole report); only
// "could not reach the device" is retryable. The measurement itself (warm-up, latency,
// throughput, probe and binding runs) is activities/edge/measurement.ts, shared with measureServing.
import { ApplicationFailure } from '@temporalio/common';
import * as path from 'node:path';
import type { ModelMetadata, ValidateDeploymentInput, ValidationReport } from '../../common/contracts';
import { ErrorType } from '../../common/errors';
import { assertSha256 } from '../../common/ids';
import { MetadataError, readModelMetadata } from '../../edge/metadata';
import { LoadClient } from './loadTest';
import {
  loadBinding, measureLoad, measureSettingsOf, progress, readHealth, requestBodies, roundLatency, runBinding, runProbes, warmUp, type ServingDevice,
} from './measurement';
import { evaluateBinding, evaluateOutputs, evaluatePerformance, resolveGates } from './validationGates';

export type ValidationDevice = ServingDevice;

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
  const { status, health, body } = await readHealth(client, device);
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

export function createValidateDeployment(device: ValidationDevice): (input: ValidateDeploymentInput) => Promise<ValidationReport> {
  return async function validateDeployment(input: ValidateDeploymentInput): Promise<ValidationReport> {
    const started = performance.now();
    try {
      assertSha256(input.sha256);
    } catch (err) {
      throw ApplicationFailure.nonRetryable((err as Error).message, ErrorType.InvalidRequest);
    }
    if (input.ext !== 'onnx' && input.ext !== 'hef') throw ApplicationFailure.nonRetryable(`ext must be onnx or hef, got ${String(input.ext)}`, ErrorType.InvalidRequest);
    const settings = measureSettingsOf(input);
    let gates;
    try {
      gates = resolveGates(input.gates);
    } catch (err) {
      throw ApplicationFailure.nonRetryable((err as Error).message, ErrorType.InvalidRequest);
    }
    const meta = await loadProbes(device, input.sha256, input.ext);
    const binding = await loadBinding(path.join(device.modelDir, 'releases', `${input.sha256}.${input.ext}.meta.json`));
    const client = new LoadClient(settings.concurrency);
    try {
      progress(device.id, 'health');
      const servedSha256Prefix = await servedShaPrefix(client, device, input.sha256);

      const bodies = requestBodies(meta);
      await warmUp(client, device, bodies, settings);

      progress(device.id, 'outputs');
      const { outputs, failures: outputFailures } = evaluateOutputs(await runProbes(client, device.inferenceUrl, meta), gates);
      if (binding) {
        progress(device.id, 'binding', { windows: binding.windows.length });
        const checked = evaluateBinding(await runBinding(client, device.inferenceUrl, binding), gates);
        outputs.binding = checked.binding;
        outputFailures.push(...checked.failures);
      }

      const load = await measureLoad(client, device, bodies, settings);
      const { latencyMs, throughput } = load;
      const failures = [...outputFailures, ...evaluatePerformance(latencyMs, load.latencyErrors, throughput, gates)];
      if (load.latencyFirstError) failures.push(`latency: first error: ${load.latencyFirstError}`);
      if (load.throughputFirstError) failures.push(`throughput: first error: ${load.throughputFirstError}`);

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
        latencyMs: roundLatency(latencyMs),
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
