// The production swap of a plain deployment: device by device, swap (registering the restore of
// what it replaced) then validate against every device gate; the first failure stops the rollout.
// The steps themselves are the device lifecycle's (workflows/device/lifecycle.ts).
import type { CompileResult } from '../../common/contracts';
import { gatesAt } from '../../common/gates';
import { swapDevice, validateDevice } from '../device/lifecycle';
import { stepPhase } from '../device/outcomes';
import { requestRestore } from './compensations';
import { deviceAt, discardLabel, restoreLabel, recordFailure, type DeployContext } from './context';

export async function rollOut(ctx: DeployContext, compiled: CompileResult, ext: 'onnx' | 'hef'): Promise<void> {
  const { request, progress, saga, liveDevices } = ctx;
  const sha256 = compiled.artifact.sha256;
  for (const deviceId of request.devices) {
    const device = progress.device(deviceId);
    const at = deviceAt(ctx, deviceId);
    let end = progress.begin('swap', deviceId);
    device.phase = stepPhase('swap', 'running');
    liveDevices.add(deviceId);
    const swap = await swapDevice(at, { sha256, ext, ...(request.allowDowngrade ? { allowDowngrade: true } : {}) });
    if (!swap.ok) {
      recordFailure(ctx, swap);
      // The run's swap journal on the device knows which backup to put back.
      Object.assign(device, { phase: stepPhase('swap', 'failed'), error: swap.failure });
      if (swap.mayHaveSwitched) saga.push(restoreLabel(deviceId), () => requestRestore(ctx, deviceId, null));
      else liveDevices.delete(deviceId);
      end('failed');
      throw swap.error;
    }
    const { swapped } = swap;
    Object.assign(device, { phase: stepPhase('swap', 'ok'), backup: swapped.backup, servedSha256Prefix: swapped.servedSha256Prefix, ...(swapped.backupsOnDevice ? { backupsOnDevice: swapped.backupsOnDevice } : {}), ...(swapped.release ? { release: swapped.release } : {}) });
    saga.drop(discardLabel(deviceId)); // the staged file is now the release
    saga.push(restoreLabel(deviceId), () => requestRestore(ctx, deviceId, swapped.backup));
    end('ok', { activityMs: swapped.restartMs + swapped.healthyAfterMs, reused: swapped.reused, figures: { backup: swapped.backup, restartMs: swapped.restartMs, healthyAfterMs: swapped.healthyAfterMs, servedSha256Prefix: swapped.servedSha256Prefix } });

    end = progress.begin('validate', deviceId);
    device.phase = stepPhase('validate', 'running');
    // Every device gate with the request's value (common/gates.ts), maxAbsValue included.
    const validated = await validateDevice(at, { sha256, ext, gates: gatesAt('device', request.gates), validation: request.validation });
    if (!validated.ok) {
      recordFailure(ctx, validated);
      const { measured } = validated;
      Object.assign(device, { phase: stepPhase('validate', 'failed'), error: validated.failure, ...(measured ? { validation: measured } : {}) });
      end('failed', measured && typeof measured.durationMs === 'number' ? { activityMs: measured.durationMs } : {});
      throw validated.error;
    }
    const validation = validated.report;
    Object.assign(device, { phase: stepPhase('validate', 'ok'), validation, servedSha256Prefix: validation.servedSha256Prefix });
    end('ok', { activityMs: validation.durationMs, figures: { p95Ms: validation.latencyMs.p95, rps: validation.throughput.rps, minReferenceCosine: validation.outputs.minReferenceCosine } });
    progress.publish();
  }
}
