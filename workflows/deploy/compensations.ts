// The undos of a deployModel run: restore a device's backup (proving with /healthz that it
// serves it again), discard a staged artifact, and run the whole saga outside cancellation.
import { CancellationScope, log } from '@temporalio/workflow';
import type { BackupRecord, RestoreBackupResult } from '../../common/contracts';
import { edgeActivity } from '../activities';
import { summarizeFailure } from '../failures';
import { nowMs } from '../clock';
import type { CompensationRecord } from '../report';
import { Saga } from '../saga';
import { restoreLabel, short, type DeployContext } from './context';

export async function requestRestore(ctx: DeployContext, deviceId: string, backup: BackupRecord | null, pass: 'first' | 'patient' = 'first'): Promise<RestoreBackupResult> {
  const { progress, request, run } = ctx;
  const report = progress.report;
  const edge = request.edge;
  const device = progress.device(deviceId);
  device.phase = 'restoring';
  const started = nowMs();
  const target = backup ? `backup ${short(backup.sha256)}` : 'the journaled backup';
  const entry: CompensationRecord = { action: 'restore', deviceId, backupSha256: backup ? backup.sha256 : null, ok: false, durationMs: 0 };
  report.compensations.push(entry);
  progress.publish();
  try {
    const restoreBackup = edgeActivity(deviceId, 'restoreBackup', `restore ${deviceId} → ${target}${pass === 'patient' ? ' (retry)' : ''}`, edge, pass === 'first' ? { scheduleToStartTimeout: edge.queueWait } : {});
    const result = await restoreBackup({ ...run, backup, healthTimeoutMs: edge.healthTimeoutMs });
    Object.assign(entry, { ok: true, result, durationMs: nowMs() - started });
    // A restore that found nothing of this run to undo left the device alone, and says why.
    const skipped = result.outcome === 'nothing-switched' || result.outcome === 'superseded';
    Object.assign(device, { phase: skipped ? 'restore-skipped' : 'restored', restore: result, servedSha256Prefix: result.servedSha256Prefix });
    return result;
  } catch (err) {
    const failure = summarizeFailure(err, 'compensate', deviceId);
    Object.assign(entry, { durationMs: nowMs() - started, error: { type: failure.type, message: failure.message } });
    Object.assign(device, { phase: 'restore-failed', error: failure });
    if (pass === 'first' && failure.type === 'ActivityTimeout:SCHEDULE_TO_START') ctx.unreachedRestores.push({ deviceId, backup });
    throw err;
  } finally {
    progress.publish();
  }
}

export async function discard(ctx: DeployContext, deviceId: string, sha256: string, ext: 'onnx' | 'hef'): Promise<{ removed: string[] }> {
  const { progress, request, run } = ctx;
  const report = progress.report;
  const device = progress.device(deviceId);
  const started = nowMs();
  const entry: CompensationRecord = { action: 'discard', deviceId, ok: false, durationMs: 0 };
  report.compensations.push(entry);
  try {
    const discardStaged = edgeActivity(deviceId, 'discardStaged', `discard staged ${short(sha256)} on ${deviceId}`, request.edge);
    const { removed, otherClaims } = await discardStaged({ ...run, sha256, ext });
    Object.assign(entry, { ok: true, result: { removed, ...(otherClaims ? { otherClaims } : {}) }, durationMs: nowMs() - started });
    device.discarded = removed;
    // After a failed swap the restore outcome is what the device's phase must say.
    if (device.phase === 'staging' || device.phase === 'staged' || device.phase === 'push-failed') device.phase = 'discarded';
    return { removed };
  } catch (err) {
    const failure = summarizeFailure(err, 'compensate', deviceId);
    Object.assign(entry, { durationMs: nowMs() - started, error: { type: failure.type, message: failure.message } });
    throw err;
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
    for (const { deviceId, backup } of ctx.unreachedRestores.reverse()) patient.push(restoreLabel(deviceId), () => requestRestore(ctx, deviceId, backup, 'patient'));
    const second = await patient.compensate();
    const retried = new Map(second.map((o) => [o.label, o]));
    return first.map((o) => retried.get(o.label) ?? o);
  });
  for (const o of outcomes.filter((x) => !x.ok)) log.error('compensation failed', { compensation: o.label, error: String(o.error) });
  return outcomes.every((o) => o.ok || !o.label.startsWith('restore '));
}
