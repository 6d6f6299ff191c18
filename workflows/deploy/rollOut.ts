// The production swap of a plain deployment: device by device, swap (registering the restore of
// what it replaced) then validate against every device gate; the first failure stops the rollout.
import type { CompileResult, SwapFailureDetails } from '../../common/contracts';
import { gatesAt } from '../../common/gates';
import { edgeActivity } from '../activities';
import { summarizeFailure } from '../failures';
import { requestRestore } from './compensations';
import { discardLabel, restoreLabel, runStep, short, type DeployContext } from './context';

export async function rollOut(ctx: DeployContext, compiled: CompileResult, ext: 'onnx' | 'hef'): Promise<void> {
  const { request, progress, run, saga, liveDevices } = ctx;
  const edge = request.edge;
  const sha256 = compiled.artifact.sha256;
  for (const deviceId of request.devices) {
    const device = progress.device(deviceId);
    let end = progress.begin('swap', deviceId);
    device.phase = 'swapping';
    liveDevices.add(deviceId);
    try {
      const swap = edgeActivity(deviceId, 'swapModel', `swap ${deviceId} → ${short(sha256)}`, edge);
      const swapped = await runStep(ctx, 'swap', deviceId, () => swap({ ...run, sha256, ext, healthTimeoutMs: edge.healthTimeoutMs, ...(ctx.request.allowDowngrade ? { allowDowngrade: true } : {}) }));
      Object.assign(device, { phase: 'swapped', backup: swapped.backup, servedSha256Prefix: swapped.servedSha256Prefix, ...(swapped.backupsOnDevice ? { backupsOnDevice: swapped.backupsOnDevice } : {}), ...(swapped.release ? { release: swapped.release } : {}) });
      saga.drop(discardLabel(deviceId)); // the staged file is now the release
      saga.push(restoreLabel(deviceId), () => requestRestore(ctx, deviceId, swapped.backup));
      end('ok', { activityMs: swapped.restartMs + swapped.healthyAfterMs, reused: swapped.reused, figures: { backup: swapped.backup, restartMs: swapped.restartMs, healthyAfterMs: swapped.healthyAfterMs, servedSha256Prefix: swapped.servedSha256Prefix } });
    } catch (err) {
      // A swap that failed its health check has already switched `current`; one that was
      // cancelled or timed out may have. The run's swap journal on the device knows which
      // backup to put back. Only a swap that says it switched nothing needs no restore.
      const failure = summarizeFailure(err, 'swap', deviceId);
      Object.assign(device, { phase: 'swap-failed', error: failure });
      if ((failure.details as Partial<SwapFailureDetails> | undefined)?.switched === false) liveDevices.delete(deviceId);
      else saga.push(restoreLabel(deviceId), () => requestRestore(ctx, deviceId, null));
      end('failed');
      throw err;
    }

    end = progress.begin('validate', deviceId);
    device.phase = 'validating';
    try {
      const validate = edgeActivity(deviceId, 'validateDeployment', `validate ${deviceId} serving ${short(sha256)}`, edge);
      const validation = await runStep(ctx, 'validate', deviceId, () =>
        validate({
          sha256,
          ext,
          // Every device gate with the request's value (common/gates.ts), maxAbsValue included.
          gates: gatesAt('device', request.gates),
          latencyRequests: request.validation.latencyRequests,
          concurrency: request.validation.concurrency,
          throughputDurationMs: request.validation.throughputDurationMs,
        }),
      );
      Object.assign(device, { phase: 'validated', validation, servedSha256Prefix: validation.servedSha256Prefix });
      end('ok', { activityMs: validation.durationMs, figures: { p95Ms: validation.latencyMs.p95, rps: validation.throughput.rps, minReferenceCosine: validation.outputs.minReferenceCosine } });
    } catch (err) {
      const failure = summarizeFailure(err, 'validate', deviceId);
      // A failed gate carries the full validation report in its details.
      const details = failure.details as { passed?: unknown; durationMs?: unknown } | undefined;
      const measured = details && typeof details.passed === 'boolean';
      Object.assign(device, { phase: 'validation-failed', error: failure, ...(measured ? { validation: details } : {}) });
      end('failed', measured && typeof details.durationMs === 'number' ? { activityMs: details.durationMs } : {});
      throw err;
    }
    progress.publish();
  }
}
