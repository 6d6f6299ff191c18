// The undos of a deployModel run: restore a device's backup (proving with /healthz that it
// serves it again), discard a staged artifact, and run the whole saga outside cancellation.
import { CancellationScope, log } from '@temporalio/workflow';
import type { BackupRecord, RestoreBackupResult } from '../../common/contracts';
import { nowMs } from '../clock';
import { discardStaged, restoreDevice } from '../device/lifecycle';
import { phaseAfterDiscard, phaseAfterRestore, stepPhase } from '../device/outcomes';
import type { CompensationRecord } from '../report';
import { Saga } from '../saga';
import { deviceAt, restoreLabel, type DeployContext } from './context';

export async function requestRestore(ctx: DeployContext, deviceId: string, backup: BackupRecord | null, pass: 'first' | 'retry' = 'first'): Promise<RestoreBackupResult> {
  const { progress } = ctx;
  const report = progress.report;
  const device = progress.device(deviceId);
  device.phase = stepPhase('restore', 'running');
  const started = nowMs();
  const entry: CompensationRecord = { action: 'restore', deviceId, backupSha256: backup ? backup.sha256 : null, ok: false, durationMs: 0 };
  report.compensations.push(entry);
  progress.publish();
  try {
    const restored = await restoreDevice(deviceAt(ctx, deviceId), backup, pass);
    if (!restored.ok) {
      const { failure } = restored;
      Object.assign(entry, { durationMs: nowMs() - started, error: { type: failure.type, message: failure.message } });
      Object.assign(device, { phase: stepPhase('restore', 'failed'), error: failure });
      if (pass === 'first' && restored.unreached) ctx.unreachedRestores.push({ deviceId, backup });
      throw restored.error;
    }
    const { result } = restored;
    Object.assign(entry, { ok: true, result, durationMs: nowMs() - started });
    // A restore that found nothing of this run to undo left the device alone, and says why.
    Object.assign(device, { phase: phaseAfterRestore(result), restore: result, servedSha256Prefix: result.servedSha256Prefix });
    return result;
  } finally {
    progress.publish();
  }
}

export async function discard(ctx: DeployContext, deviceId: string, sha256: string, ext: 'onnx' | 'hef'): Promise<{ removed: string[] }> {
  const { progress } = ctx;
  const report = progress.report;
  const device = progress.device(deviceId);
  const started = nowMs();
  const entry: CompensationRecord = { action: 'discard', deviceId, ok: false, durationMs: 0 };
  report.compensations.push(entry);
  try {
    const discarded = await discardStaged(deviceAt(ctx, deviceId), { sha256, ext });
    if (!discarded.ok) {
      Object.assign(entry, { durationMs: nowMs() - started, error: { type: discarded.failure.type, message: discarded.failure.message } });
      throw discarded.error;
    }
    const { removed, otherClaims } = discarded;
    Object.assign(entry, { ok: true, result: { removed, ...(otherClaims ? { otherClaims } : {}) }, durationMs: nowMs() - started });
    device.discarded = removed;
    // After a failed swap the restore outcome is what the device's phase must say.
    device.phase = phaseAfterDiscard(device.phase);
    return { removed };
  } finally {
    progress.publish();
  }
}

/** Runs the saga outside cancellation; true when every restore succeeded. */
export async function compensate(ctx: DeployContext): Promise<boolean> {
  const { saga, progress } = ctx;
  if (saga.size === 0) return true;
  progress.setStage('compensate');
  const outcomes = await CancellationScope.nonCancellable(async () => {
    const first = await saga.compensate();
    // Devices whose edge worker did not answer get the whole restoreDeadline now that every
    // reachable device has been restored.
    const patient = new Saga();
    for (const { deviceId, backup } of ctx.unreachedRestores.reverse()) patient.push(restoreLabel(deviceId), () => requestRestore(ctx, deviceId, backup, 'retry'));
    const second = await patient.compensate();
    const retried = new Map(second.map((o) => [o.label, o]));
    return first.map((o) => retried.get(o.label) ?? o);
  });
  for (const o of outcomes.filter((x) => !x.ok)) log.error('compensation failed', { compensation: o.label, error: String(o.error) });
  return outcomes.every((o) => o.ok || !o.label.startsWith('restore '));
}
