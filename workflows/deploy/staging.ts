// Staging: the artifact pushed to every device over SFTP (nothing live touched), and the
// champion-vs-challenger comparison with what each device serves now.
import type { CompileResult, ExportModelResult } from '../../common/contracts';
import { gpuActivity } from '../activities';
import { pushToDevice } from '../device/lifecycle';
import { stepPhase } from '../device/outcomes';
import { discard } from './compensations';
import { deviceAt, discardLabel, manifestOf, runStep, short, recordFailure, type DeployContext } from './context';

export async function stageEverywhere(ctx: DeployContext, compiled: CompileResult, ext: 'onnx' | 'hef'): Promise<void> {
  const { request, progress, saga } = ctx;
  const report = progress.report;
  const end = progress.begin('stage');
  const sha256 = compiled.artifact.sha256;
  // Pushes go out in parallel (each device is its own SSH connection). Each attempted push
  // registers a discard, in request order so the compensation order does not depend on which
  // push finished first; a failed push may have left a partial upload behind.
  const results = await Promise.all(
    request.devices.map(async (deviceId) => {
      progress.device(deviceId).phase = stepPhase('stage', 'running');
      saga.push(discardLabel(deviceId), () => discard(ctx, deviceId, sha256, ext));
      const staged = await pushToDevice(deviceAt(ctx, deviceId), { artifact: compiled.artifact, metadataPath: compiled.metadataPath, ...manifestOf(compiled) });
      if (!staged.ok) {
        Object.assign(progress.device(deviceId), { phase: stepPhase('stage', 'failed'), error: staged.failure });
        return staged;
      }
      const { pushed } = staged;
      Object.assign(progress.device(deviceId), {
        phase: stepPhase('stage', 'ok'),
        staged: { path: pushed.stagedPath, sha256: pushed.sha256, bytesSent: pushed.bytesSent, reused: pushed.reused, ...(pushed.servedSha256 !== undefined ? { servedSha256: pushed.servedSha256 } : {}) },
      });
      // Listed in request order, whichever push finished first.
      if (report.decisionFigures) report.decisionFigures.stagedDevices = request.devices.filter((id) => progress.device(id).phase === 'staged');
      progress.publish();
      return staged;
    }),
  );
  const ok = results.flatMap((r) => (r.ok ? [r.pushed] : []));
  const activityMs = ok.reduce((max, r) => Math.max(max, r.durationMs), 0);
  const failed = results.find((r) => !r.ok);
  if (failed && !failed.ok) {
    end('failed', { activityMs });
    recordFailure(ctx, failed);
    throw failed.error;
  }
  end('ok', { activityMs, figures: { bytesSent: Object.fromEntries(ok.map((r) => [r.deviceId, r.bytesSent])) } });
}

/**
 * Champion vs challenger: the candidate against what each device serves now (read while this
 * run holds the lease), on the same held-out windows, for the person deciding; an optional
 * drift gate. Devices that already serve the candidate, or serve nothing, need no comparison.
 */
export async function compareWithServed(ctx: DeployContext, exported: ExportModelResult, compiled: CompileResult): Promise<void> {
  const { request, progress } = ctx;
  const report = progress.report;
  const served = new Map<string, string[]>();
  for (const id of request.devices) {
    const sha = progress.device(id).staged?.servedSha256;
    if (sha && sha !== compiled.artifact.sha256) served.set(sha, [...(served.get(sha) ?? []), id]);
  }
  if (served.size === 0) return;
  const end = progress.begin('compare');
  const hef = compiled.format === 'hef';
  const result = await runStep(ctx, 'compare', undefined, () =>
    gpuActivity('compareWithServed', `compare ${short(compiled.artifact.sha256)} with what ${served.size === 1 ? 'the devices serve' : `${served.size} served models`}`)({
      modelName: request.modelName,
      candidate: hef ? exported.onnx : compiled.artifact,
      candidateMetadataPath: hef ? exported.metadataPath : compiled.metadataPath,
      served: [...served.entries()].map(([sha256, deviceIds]) => ({ sha256, deviceIds })),
      ...(request.calibration.dataDir ? { dataDir: request.calibration.dataDir } : {}),
      ...(request.gates.maxDriftFromServed !== undefined ? { maxDriftFromServed: request.gates.maxDriftFromServed } : {}),
    }),
  );
  if (report.decisionFigures) report.decisionFigures.servedComparison = result.comparisons;
  end('ok', { activityMs: result.durationMs, reused: result.reused, figures: { comparisons: result.comparisons.map((c) => ({ served: c.servedSha256.slice(0, 12), found: c.found, drift: c.drift })) } });
}
