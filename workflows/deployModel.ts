// deployModel: export → calibrate → compile on `gpu`, take every device's lease from its owner
// workflow, stage on every device, wait for a person, then swap and validate device by device on
// `edge.<id>`. Every step that changes a device registers its undo on a saga; any failure after
// the first swap (or a cancellation) runs the undo stack in reverse, outside cancellation, and
// the run ends rolled-back. The leases go back, with what this run did to each device, however
// the run ends; a run that did not deploy closes as Failed with a typed failure.
import {
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  setHandler,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import type { BackupRecord, CompileResult, DeviceInfo, ExportModelResult, PreflightResult, RestoreBackupResult, SwapFailureDetails } from '../common/contracts';
import { deviceAcceptsTarget } from '../common/contracts';
import { gatesAt } from '../common/gates';
import { deviceOwnerWorkflowId, type DeviceOutcome } from '../common/ownership';
import type { DeployRequest } from '../common/request';
import { edgeActivity, gpuActivity, ownershipActivity } from './activities';
import { leaseGrantedSignal, releaseLeaseSignal } from './deviceMessages';
import { refuseDecision } from './approval';
import type { ErrorTypeName } from '../common/errors';
import { ErrorType, deploymentFailure, summarizeFailure } from './failures';
import { APPROVE_SIGNAL, approveSignal, decideUpdate, rejectSignal, statusQuery, type DecisionAccepted, type DecisionInput } from './messages';
import { Progress, isoAt, nowMs } from './progress';
import type { ApprovalRecord, CompensationRecord, DeploymentReport, DeploymentStatusName, DeviceState, StageName } from './report';
import { checkRequest } from './requestCheck';
import { FleetRollout } from './fleet/fleetRollout';
import { Saga } from './saga';

const short = (sha: string): string => `${sha.slice(0, 12)}…`;
const restoreLabel = (deviceId: string): string => `restore ${deviceId}`;
const discardLabel = (deviceId: string): string => `discard ${deviceId}`;

/**
 * Runs started before device ownership existed (their histories are in test/histories/) take no
 * leases, complete whatever their status, and know nothing of run-scoped journals.
 */
export const DEVICE_OWNERSHIP_PATCH = 'edgeship-device-ownership';

/** How a run that did not deploy closes in Temporal: Failed, with this type and the report. */
const CLOSING_FAILURE: Partial<Record<DeploymentStatusName, ErrorTypeName>> = {
  rejected: ErrorType.DeploymentRejected,
  halted: ErrorType.DeploymentHalted,
  failed: ErrorType.DeploymentFailed,
  'rolled-back': ErrorType.DeploymentRolledBack,
  'rollback-failed': ErrorType.RollbackFailed,
};

/** How a fleet rollout hands its final status to the common ending (leases, memo, closing). */
class FleetRolloutEnded extends Error {
  constructor(readonly status: DeploymentStatusName) {
    super(`fleet rollout ended ${status}`);
  }
}

/** Inventory entries per resolveDevices call in a fleet rollout. */
const RESOLVE_CHUNK = 500;

/** Device rows beyond which the memo keeps only the devices that need a look (the result keeps more). */
const MEMO_DEVICE_ROWS = 200;
/**
 * Beyond this many devices the result and the status query keep only those too: ~420 bytes per
 * device (docs/fleet-scale.md) keeps them below the 512 KiB payload warning, far from the 2 MB limit.
 */
const PAYLOAD_DEVICE_ROWS = 1000;

/**
 * A big fleet's report without the rows of devices that simply validated (their story is their
 * own deviceRollout workflow): the memo above 200 devices, the result and query above 1,000.
 */
function compactReport<T extends DeploymentReport>(report: T, maxRows: number): T {
  if (!report.rollout || report.rollout.devices.length <= maxRows) return report;
  const kept = report.rollout.devices.filter((d) => d.outcome !== 'validated' || d.revert !== undefined).slice(0, maxRows);
  return { ...report, devices: [], rollout: { ...report.rollout, devices: kept, omittedDeviceRows: report.rollout.devices.length - kept.length } };
}

export async function deployModel(rawRequest: DeployRequest): Promise<DeploymentReport> {
  // The same schema as the client: defaults filled, unknown keys refused, before anything runs.
  const request = checkRequest(rawRequest);
  const ownership = patched(DEVICE_OWNERSHIP_PATCH);
  const deploymentId = workflowInfo().workflowId;
  const runId = workflowInfo().runId;
  const run = { deploymentId, runId };
  const progress = new Progress(request);
  const report = progress.report;
  const saga = new Saga();
  let decision: ApprovalRecord | undefined;

  // ---- messages -------------------------------------------------------------------------------
  const gate = () => ({ awaiting: progress.awaiting !== undefined, decided: decision !== undefined, stage: report.stage, approvers: request.approval.approvers });
  const record = (input: DecisionInput, via: 'signal' | 'update'): DecisionAccepted => {
    const at = isoAt(nowMs());
    const by = input.by.trim();
    decision = input.decision === 'approve'
      ? { decision: 'approved', by, at, via, ...(input.comment ? { comment: input.comment } : {}) }
      : { decision: 'rejected', by, at, via, reason: input.reason };
    return { decision: decision.decision as DecisionAccepted['decision'], by, at };
  };
  const onSignal = (name: 'approve' | 'reject', payload: unknown): void => {
    const input = { ...(payload && typeof payload === 'object' ? payload : {}), decision: name } as DecisionInput;
    // The signal's name is the decision; a payload that says otherwise is a mistake, not a vote.
    const claimed = payload && typeof payload === 'object' ? (payload as { decision?: unknown }).decision : undefined;
    const contradiction = claimed !== undefined && claimed !== name ? `the ${name} signal carries "decision": ${JSON.stringify(claimed)}; send the ${name === 'approve' ? 'reject' : 'approve'} signal to ${name === 'approve' ? 'reject' : 'approve'}` : undefined;
    const refusal = contradiction ?? refuseDecision(gate(), input);
    if (refusal) {
      // A signal cannot be refused to its sender; keep the refusal visible in the status instead.
      const by = typeof input.by === 'string' ? input.by : undefined;
      report.ignoredMessages.push({ name, ...(by ? { by } : {}), at: isoAt(nowMs()), reason: refusal });
      log.warn('ignored approval signal', { signal: name, by, reason: refusal });
      progress.publish();
      return;
    }
    record(input, 'signal');
  };
  setHandler(approveSignal, (input) => onSignal('approve', input));
  setHandler(rejectSignal, (input) => onSignal('reject', input));
  setHandler(
    decideUpdate,
    (input) => {
      // The validator ran in this same activation; checking again costs nothing.
      const refusal = refuseDecision(gate(), input);
      if (refusal) throw deploymentFailure(ErrorType.InvalidRequest, refusal);
      return record(input, 'update');
    },
    {
      validator: (input) => {
        const refusal = refuseDecision(gate(), input);
        if (refusal) throw new Error(refusal);
      },
    },
  );
  setHandler(statusQuery, () => compactReport(progress.snapshot(), PAYLOAD_DEVICE_ROWS));
  const leasesGranted = new Set<string>();
  setHandler(leaseGrantedSignal, (grant) => {
    if (grant && typeof grant.deviceId === 'string') leasesGranted.add(grant.deviceId);
  });

  // ---- stages ---------------------------------------------------------------------------------
  /** Runs one stage; a failure is recorded (first one wins) with where it happened. */
  async function step<T>(stage: StageName, deviceId: string | undefined, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      report.failure ??= summarizeFailure(err, stage, deviceId);
      throw err;
    }
  }

  const edge = request.edge;
  /** Devices where this run may have switched `current` (the swap was sent). */
  const liveDevices = new Set<string>();

  /**
   * Restores whose device's worker did not pick them up within edge.queueWait. Compensations run
   * one by one, so a device that is gone must not hold back the restores of the others: it gets
   * a second, patient attempt (edge.restoreDeadline) once they are done.
   */
  const unreachedRestores: Array<{ deviceId: string; backup: BackupRecord | null }> = [];

  async function requestRestore(deviceId: string, backup: BackupRecord | null, pass: 'first' | 'patient' = 'first'): Promise<RestoreBackupResult> {
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
      if (pass === 'first' && failure.type === 'ActivityTimeout:SCHEDULE_TO_START') unreachedRestores.push({ deviceId, backup });
      throw err;
    } finally {
      progress.publish();
    }
  }

  async function discard(deviceId: string, sha256: string, ext: 'onnx' | 'hef'): Promise<{ removed: string[] }> {
    const device = progress.device(deviceId);
    const started = nowMs();
    const entry: CompensationRecord = { action: 'discard', deviceId, ok: false, durationMs: 0 };
    report.compensations.push(entry);
    try {
      const discardStaged = edgeActivity(deviceId, 'discardStaged', `discard staged ${short(sha256)} on ${deviceId}`, edge);
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

  /**
   * A fleet's inventory entries in chunks: one result per 500 devices (~115 KiB) keeps every
   * history event far below Temporal's 2 MB payload limit at 10,000 devices.
   */
  async function resolveInChunks(): Promise<DeviceInfo[]> {
    const all: DeviceInfo[] = [];
    for (let at = 0; at < request.devices.length; at += RESOLVE_CHUNK) {
      const chunk = request.devices.slice(at, at + RESOLVE_CHUNK);
      const summary = request.devices.length <= RESOLVE_CHUNK ? `resolve ${chunk.length} device${chunk.length === 1 ? '' : 's'}` : `resolve devices ${at + 1}–${at + chunk.length} of ${request.devices.length}`;
      all.push(...(await step('resolve-devices', undefined, () => gpuActivity('resolveDevices', summary)({ deviceIds: chunk }))));
    }
    return all;
  }

  async function gpuStages(): Promise<{ exported: ExportModelResult; compiled: CompileResult; devices: DeviceInfo[] }> {
    let end = progress.begin('resolve-devices');
    const devices = request.rollout ? await resolveInChunks() : await step('resolve-devices', undefined, () => gpuActivity('resolveDevices', `resolve ${request.devices.join(', ')}`)({ deviceIds: request.devices }));
    const named = devices.map((d) => `${d.id} (${d.target})`);
    end('ok', { figures: { devices: named.length > 50 ? [...named.slice(0, 50), `… ${named.length} devices`] : named } });
    for (const d of devices) progress.device(d.id).target = d.target;
    // Checked before spending minutes on export and compile: a HEF for hailo8 fails on a hailo8l.
    const mismatched = devices.filter((d) => !deviceAcceptsTarget(d.target, request.target));
    if (mismatched.length > 0) {
      const list = mismatched.map((d) => `${d.id} is ${d.target}`).join(', ');
      await step('resolve-devices', mismatched[0].id, () => Promise.reject(deploymentFailure(ErrorType.TargetMismatch, `the artifact is compiled for ${request.target} but ${list}`, { target: request.target, devices: mismatched })));
    }

    end = progress.begin('export');
    const exported = await step('export', undefined, () =>
      gpuActivity('exportModel', `export ${request.modelName} (${request.source.kind})`)({
        modelName: request.modelName,
        source: request.source,
        conv2d: request.conv2d,
        parityMinCosine: request.gates.parityMinCosine,
        parityMaxRelativeError: request.gates.parityMaxRelativeError,
      }),
    );
    report.sourceSha256 = exported.sourceSha256;
    const sourceChanged = request.sourceSha256 !== undefined && request.sourceSha256 !== exported.sourceSha256;
    end(sourceChanged ? 'failed' : 'ok', {
      activityMs: exported.durationMs,
      reused: exported.reused,
      figures: { onnx: exported.onnx, parity: { minCosine: exported.parity.minCosine, maxAbsDiff: exported.parity.maxAbsDiff, gate: exported.parity.gate } },
    });
    if (sourceChanged) {
      // The workflow id names the source the client hashed; deploying other bytes would lie.
      await step('export', undefined, () =>
        Promise.reject(deploymentFailure(ErrorType.InvalidRequest, `the source changed since the deployment started: expected sha256 ${request.sourceSha256}, export read ${exported.sourceSha256}`)),
      );
    }

    end = progress.begin('calibrate');
    const calibration = await step('calibrate', undefined, () =>
      gpuActivity('buildCalibrationSet', `calibration set: ${request.calibration.samples} windows`)({
        modelName: request.modelName,
        metadataPath: exported.metadataPath,
        samples: request.calibration.samples,
        dataDir: request.calibration.dataDir,
        seed: request.calibration.seed,
      }),
    );
    end('ok', {
      activityMs: calibration.durationMs,
      reused: calibration.reused,
      figures: { calibrationSet: calibration.calibrationSet, samples: calibration.samples, source: calibration.source, classMix: calibration.classMix },
    });

    end = progress.begin('compile');
    const compiled = await step('compile', undefined, () =>
      gpuActivity('compileModel', `compile ${short(exported.onnx.sha256)} for ${request.target}`)({
        modelName: request.modelName,
        target: request.target,
        onnx: exported.onnx,
        metadataPath: exported.metadataPath,
        calibrationSet: calibration.calibrationSet,
        int8MinCosine: request.gates.int8MinCosine,
        parityMinCosine: request.gates.parityMinCosine,
        quantization: request.quantization,
      }),
    );
    end(compiled.target === request.target ? 'ok' : 'failed', {
      activityMs: compiled.durationMs,
      reused: compiled.reused,
      figures: { artifact: compiled.artifact, similarity: compiled.similarity, sizes: compiled.sizes, latencyMs: compiled.latencyMs, preflight: compiled.preflight },
    });
    if (compiled.target !== request.target) {
      await step('compile', undefined, () => Promise.reject(deploymentFailure(ErrorType.TargetMismatch, `compileModel returned a ${compiled.target} artifact for a ${request.target} request`)));
    }
    progress.setArtifact({ ...compiled.artifact, format: compiled.format });

    // Every model gate that needs no device runs here, before any device is asked for.
    let preflight: PreflightResult | undefined;
    if (ownership) {
      end = progress.begin('preflight');
      preflight = await step('preflight', undefined, () =>
        gpuActivity('preflightModel', `pre-flight ${short(compiled.artifact.sha256)}: sweep, scale, references`)({
          modelName: request.modelName,
          artifact: compiled.artifact,
          metadataPath: compiled.metadataPath,
          ...(compiled.format === 'hef' ? { sourceOnnx: exported.onnx } : {}),
          gates: gatesAt('preflight', request.gates),
        }),
      );
      end('ok', { activityMs: preflight.durationMs, reused: preflight.reused, figures: { windows: preflight.figures.windows, checks: preflight.checks } });
    }
    report.decisionFigures = {
      artifact: { sha256: compiled.artifact.sha256, sizeBytes: compiled.artifact.sizeBytes, format: compiled.format, target: compiled.target },
      parity: { minCosine: exported.parity.minCosine, maxAbsDiff: exported.parity.maxAbsDiff, gate: exported.parity.gate },
      ...(compiled.similarity ? { int8Similarity: compiled.similarity } : {}),
      sizes: compiled.sizes,
      ...(compiled.latencyMs ? { gpuLatencyMs: compiled.latencyMs } : {}),
      ...(compiled.quantization ? { quantization: { format: compiled.quantization.settings.format, excludedNodes: compiled.quantization.excludedNodes, speedup: compiled.quantization.speedup, cpu: compiled.quantization.cpu.model, vnni: compiled.quantization.cpu.vnni } } : {}),
      ...(compiled.warnings?.length ? { warnings: compiled.warnings } : {}),
      ...(preflight ? { preflight: preflight.checks } : {}),
      deviceGates: gatesAt('device', request.gates),
      stagedDevices: [],
    };
    return { exported, compiled, devices };
  }

  /** Devices whose owner this run has asked (holding or queued): each gets a release at the end. */
  const leasesRequested: string[] = [];

  /**
   * Takes every device's lease, one device at a time in sorted order: two runs that want
   * overlapping devices then always queue in the same order, so they cannot deadlock.
   */
  async function acquireLeases(): Promise<void> {
    const end = progress.begin('lease');
    const deadline = nowMs() + request.queueTimeout;
    for (const deviceId of [...request.devices].sort()) {
      const device = progress.device(deviceId);
      leasesRequested.push(deviceId);
      const requestedAt = isoAt(nowMs());
      const answer = await step('lease', deviceId, () =>
        ownershipActivity('requestDeviceLease', `lease ${deviceId}`)({ deviceId, deploymentId, runId, modelName: request.modelName, onBusy: request.onBusy }),
      );
      if (!answer.granted) {
        const holder = answer.holder ? `${answer.holder.deploymentId} (${answer.holder.modelName})` : undefined;
        Object.assign(device, { phase: 'queued', lease: { position: answer.position, requestedAt, ...(holder ? { holder } : {}) } });
        progress.setStatus('queued');
        const got = await condition(() => leasesGranted.has(deviceId), Math.max(1, deadline - nowMs()));
        if (!got) {
          await step('lease', deviceId, () =>
            Promise.reject(deploymentFailure(ErrorType.DeviceBusy, `device ${deviceId} was still held${holder ? ` by ${holder}` : ''} after waiting ${request.queueTimeout} ms (queueTimeout); nothing was staged`, { deviceId, position: answer.position })),
          );
        }
      }
      Object.assign(device, { phase: 'leased', lease: { position: 0, requestedAt, grantedAt: isoAt(nowMs()) } });
      progress.publish();
    }
    progress.setStatus('running');
    end('ok', { figures: { devices: [...request.devices].sort() } });
  }

  /** What this run did to a device, for its owner's record. */
  function deviceOutcome(device: DeviceState, status: DeploymentStatusName, artifactSha256: string | undefined): DeviceOutcome {
    const backups = device.backupsOnDevice ? { backups: device.backupsOnDevice } : {};
    if (device.phase === 'validated' && status === 'completed') return { kind: 'deployed', servesSha256: artifactSha256 ?? null, deploymentStatus: status, ...backups };
    if (device.phase === 'restored' && device.restore) {
      const touched = device.restore.outcome === 'restored' || device.restore.outcome === 'first-install-removed' || device.restore.outcome === 'already-restored';
      return touched
        ? { kind: 'rolled-back', servesSha256: device.restore.restoredSha256, deploymentStatus: status, ...backups }
        : { kind: 'untouched', deploymentStatus: status, reason: device.restore.reason ?? device.restore.outcome };
    }
    if (device.phase === 'restore-failed') return { kind: 'unknown', deploymentStatus: status, reason: device.error ? `${device.error.type}: ${device.error.message}` : 'the restore failed', ...backups };
    if (device.phase === 'restore-skipped') return { kind: 'untouched', deploymentStatus: status, reason: device.restore?.reason ?? 'nothing of this run to undo' };
    const live = device.phase === 'swapping' || device.phase === 'swapped' || device.phase === 'validating' || device.phase === 'validated' || device.phase === 'validation-failed' || device.phase === 'restoring';
    return live ? { kind: 'unknown', deploymentStatus: status, reason: `the run ended with the device ${device.phase}`, ...backups } : { kind: 'untouched', deploymentStatus: status };
  }

  /** Gives every lease back (or leaves every queue), with what this run did to the device. */
  async function releaseLeases(status: DeploymentStatusName): Promise<void> {
    await Promise.all(
      leasesRequested.map(async (deviceId) => {
        const outcome = deviceOutcome(progress.device(deviceId), status, report.artifact?.sha256);
        try {
          await getExternalWorkflowHandle(deviceOwnerWorkflowId(deviceId)).signal(releaseLeaseSignal, { ...run, outcome });
        } catch (err) {
          // The owner workflow is gone (terminated by hand): nobody holds a lease to give back.
          log.warn('could not release a device lease', { deviceId, error: String(err) });
        }
      }),
    );
  }

  async function stageEverywhere(compiled: CompileResult, ext: 'onnx' | 'hef'): Promise<void> {
    const end = progress.begin('stage');
    const sha256 = compiled.artifact.sha256;
    // Pushes go out in parallel (each device is its own SSH connection). Each attempted push
    // registers a discard, in request order so the compensation order does not depend on which
    // push finished first; a failed push may have left a partial upload behind.
    const results = await Promise.allSettled(
      request.devices.map(async (deviceId) => {
        progress.device(deviceId).phase = 'staging';
        saga.push(discardLabel(deviceId), () => discard(deviceId, sha256, ext));
        const pushed = await gpuActivity('pushArtifact', `stage ${short(sha256)} on ${deviceId}`)({ deviceId, artifact: compiled.artifact, metadataPath: compiled.metadataPath, ...run });
        Object.assign(progress.device(deviceId), {
          phase: 'staged',
          staged: { path: pushed.stagedPath, sha256: pushed.sha256, bytesSent: pushed.bytesSent, reused: pushed.reused, ...(pushed.servedSha256 !== undefined ? { servedSha256: pushed.servedSha256 } : {}) },
        });
        // Listed in request order, whichever push finished first.
        if (report.decisionFigures) report.decisionFigures.stagedDevices = request.devices.filter((id) => progress.device(id).phase === 'staged');
        progress.publish();
        return pushed;
      }),
    );
    const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const activityMs = ok.reduce((max, r) => Math.max(max, r.durationMs), 0);
    const failedAt = results.findIndex((r) => r.status === 'rejected');
    if (failedAt >= 0) {
      for (const [i, r] of results.entries()) {
        if (r.status === 'rejected') Object.assign(progress.device(request.devices[i]), { phase: 'push-failed', error: summarizeFailure(r.reason, 'stage', request.devices[i]) });
      }
      end('failed', { activityMs });
      await step('stage', request.devices[failedAt], () => Promise.reject((results[failedAt] as PromiseRejectedResult).reason));
    }
    end('ok', { activityMs, figures: { bytesSent: Object.fromEntries(ok.map((r) => [r.deviceId, r.bytesSent])) } });
  }

  /**
   * Champion vs challenger: the candidate against what each device serves now (read while this
   * run holds the lease), on the same held-out windows, for the person deciding; an optional
   * drift gate. Devices that already serve the candidate, or serve nothing, need no comparison.
   */
  async function compareWithServed(exported: ExportModelResult, compiled: CompileResult): Promise<void> {
    const served = new Map<string, string[]>();
    for (const id of request.devices) {
      const sha = progress.device(id).staged?.servedSha256;
      if (sha && sha !== compiled.artifact.sha256) served.set(sha, [...(served.get(sha) ?? []), id]);
    }
    if (served.size === 0) return;
    const end = progress.begin('compare');
    const hef = compiled.format === 'hef';
    const result = await step('compare', undefined, () =>
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

  /**
   * Resolves to true when approved (or not required), false when rejected or timed out. A fleet
   * rollout asks again before later waves (`gate` names the wave): each gate needs its own decision.
   */
  async function awaitApproval(gate?: string): Promise<boolean> {
    if (!request.approval.required) {
      report.approval = { decision: 'not-required', at: isoAt(nowMs()) };
      return true;
    }
    decision = undefined;
    const end = progress.begin('approval');
    const since = nowMs();
    const timeoutMs = request.approval.timeout;
    progress.awaiting = {
      decision: 'approve or reject',
      since: isoAt(since),
      deadline: isoAt(since + timeoutMs),
      ...(request.approval.approvers ? { approvers: request.approval.approvers } : {}),
      ...(gate ? { gate } : {}),
      how: [
        `edgeship approve ${deploymentId} --by <you> [--comment <text>]`,
        `edgeship reject ${deploymentId} --by <you> --reason <why>`,
        `temporal workflow signal --workflow-id ${deploymentId} --name ${APPROVE_SIGNAL} --input '{"by":"<you>"}'`,
      ],
    };
    progress.setStatus('awaiting-approval');
    const decided = await condition(() => decision !== undefined, timeoutMs);
    progress.awaiting = undefined;
    const waitedMs = nowMs() - since;
    if (!decided) decision = { decision: 'timed-out', at: isoAt(nowMs()) };
    report.approval = { ...(decision as ApprovalRecord), waitedMs };
    progress.setStatus('running');
    const approved = report.approval.decision === 'approved';
    end(approved ? 'ok' : 'failed', { figures: { decision: report.approval.decision, by: report.approval.by, ...(gate ? { gate } : {}) } });
    if (!approved) {
      report.failure = {
        stage: 'approval',
        type: ErrorType.ApprovalRejected,
        message: `${gate ? `before ${gate}: ` : ''}${decided ? `rejected by ${report.approval.by}: ${report.approval.reason}` : `no decision within ${timeoutMs} ms: the approval timed out`}`,
      };
    }
    return approved;
  }

  async function rollOut(compiled: CompileResult, ext: 'onnx' | 'hef'): Promise<void> {
    const sha256 = compiled.artifact.sha256;
    for (const deviceId of request.devices) {
      const device = progress.device(deviceId);
      let end = progress.begin('swap', deviceId);
      device.phase = 'swapping';
      liveDevices.add(deviceId);
      try {
        const swap = edgeActivity(deviceId, 'swapModel', `swap ${deviceId} → ${short(sha256)}`, edge);
        const swapped = await step('swap', deviceId, () => swap({ ...run, sha256, ext, healthTimeoutMs: edge.healthTimeoutMs }));
        Object.assign(device, { phase: 'swapped', backup: swapped.backup, servedSha256Prefix: swapped.servedSha256Prefix, ...(swapped.backupsOnDevice ? { backupsOnDevice: swapped.backupsOnDevice } : {}) });
        saga.drop(discardLabel(deviceId)); // the staged file is now the release
        saga.push(restoreLabel(deviceId), () => requestRestore(deviceId, swapped.backup));
        end('ok', { activityMs: swapped.restartMs + swapped.healthyAfterMs, reused: swapped.reused, figures: { backup: swapped.backup, restartMs: swapped.restartMs, healthyAfterMs: swapped.healthyAfterMs, servedSha256Prefix: swapped.servedSha256Prefix } });
      } catch (err) {
        // A swap that failed its health check has already switched `current`; one that was
        // cancelled or timed out may have. The run's swap journal on the device knows which
        // backup to put back. Only a swap that says it switched nothing needs no restore.
        const failure = summarizeFailure(err, 'swap', deviceId);
        Object.assign(device, { phase: 'swap-failed', error: failure });
        if ((failure.details as Partial<SwapFailureDetails> | undefined)?.switched === false) liveDevices.delete(deviceId);
        else saga.push(restoreLabel(deviceId), () => requestRestore(deviceId, null));
        end('failed');
        throw err;
      }

      end = progress.begin('validate', deviceId);
      device.phase = 'validating';
      try {
        const validate = edgeActivity(deviceId, 'validateDeployment', `validate ${deviceId} serving ${short(sha256)}`, edge);
        const validation = await step('validate', deviceId, () =>
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

  // ---- the run --------------------------------------------------------------------------------
  let status: DeploymentStatusName;
  let cancellation: unknown;
  let fleet: FleetRollout | undefined;
  try {
    const { exported, compiled } = await gpuStages();
    const ext = compiled.format;
    const plan = request.rollout;
    if (ownership && plan) {
      // Fleet rollouts (request.rollout): waves of per-device child workflows (workflows/fleet/).
      fleet = new FleetRollout({ request: { ...request, rollout: plan }, run, progress, compiled, awaitApproval, step, leasesGranted, leasesRequested });
      await fleet.acquireLeases();
      const end = await fleet.run();
      if (end.cancellation !== undefined) cancellation = end.cancellation;
      throw new FleetRolloutEnded(end.status);
    }
    if (ownership) await acquireLeases();
    await stageEverywhere(compiled, ext);
    if (ownership) await compareWithServed(exported, compiled);
    if (await awaitApproval()) {
      await rollOut(compiled, ext);
      status = 'completed';
    } else {
      await compensate();
      status = 'rejected';
    }
  } catch (err) {
    if (err instanceof FleetRolloutEnded) {
      status = err.status;
    } else {
    if (isCancellation(err)) cancellation = err;
    report.failure ??= summarizeFailure(err, report.stage);
    log.warn('deployment failed, compensating', { stage: report.failure.stage, deviceId: report.failure.deviceId, type: report.failure.type, message: report.failure.message });
    const restoresOk = await compensate();
    status = liveDevices.size > 0 ? (restoresOk ? 'rolled-back' : 'rollback-failed') : cancellation ? 'cancelled' : 'failed';
    }
  }

  /** Runs the saga outside cancellation; true when every restore succeeded. */
  async function compensate(): Promise<boolean> {
    if (saga.size === 0) return true;
    progress.setStage('compensate');
    const outcomes = await CancellationScope.nonCancellable(async () => {
      const first = await saga.compensate();
      // Devices whose edge worker did not answer get the whole restoreDeadline now that every
      // reachable device has been restored.
      const patient = new Saga();
      for (const { deviceId, backup } of unreachedRestores.reverse()) patient.push(restoreLabel(deviceId), () => requestRestore(deviceId, backup, 'patient'));
      const second = await patient.compensate();
      const retried = new Map(second.map((o) => [o.label, o]));
      return first.map((o) => retried.get(o.label) ?? o);
    });
    for (const o of outcomes.filter((x) => !x.ok)) log.error('compensation failed', { compensation: o.label, error: String(o.error) });
    return outcomes.every((o) => o.ok || !o.label.startsWith('restore '));
  }

  progress.setStatus(status);
  if (fleet) await CancellationScope.nonCancellable(() => (fleet as FleetRollout).releaseLeases(status));
  else if (ownership) await CancellationScope.nonCancellable(() => releaseLeases(status));
  const final = compactReport(progress.finish(), PAYLOAD_DEVICE_ROWS);
  // Let a signal or update that arrived with the last activation complete before the run closes.
  await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  if (ownership) {
    // Readable without any worker, whatever the run's end: the status query needs one.
    upsertMemo({ edgeshipReport: compactReport(final, MEMO_DEVICE_ROWS) });
  }
  // Rethrowing the cancellation closes the run as Cancelled in Temporal (what the operator asked
  // for); the report stays readable through the memo and the status query.
  if (cancellation) throw cancellation;
  const closing = CLOSING_FAILURE[status];
  if (ownership && closing) {
    const why = final.failure ? `${final.failure.stage}${final.failure.deviceId ? ` on ${final.failure.deviceId}` : ''}: ${final.failure.type}: ${final.failure.message}` : status;
    throw ApplicationFailure.create({ type: closing, message: `deployment ${status}: ${why}`, nonRetryable: true, details: [final] });
  }
  return final;
}
