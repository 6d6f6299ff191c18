// The parent's side of a fleet rollout (deployModel with request.rollout): leases in sorted
// batches, then the canary and the waves as rolloutWave children, approval after the canary
// (with the canary's figures next to devices still on the old model) or before every wave, a
// halt when the criteria are crossed, a revert wave for what must be undone, and a catch-up wave
// for devices that were offline. Per-device work lives in the children: this history grows
// with waves.
import {
  CancellationScope,
  CancelledFailure,
  condition,
  isCancellation,
  patched,
  startChild,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import type { CompileResult, ServingFigures } from '../../common/contracts';
import { gatesAt } from '../../common/gates';
import type { DeviceOutcome, LeaseAnswer } from '../../common/ownership';
import type { DeployRequest } from '../../common/request';
import {
  waveWorkflowId,
  type CanaryComparison,
  type DeviceRolloutMode,
  type DeviceRolloutOutcome,
  type DeviceRolloutSettings,
  type FleetDeviceRow,
  type HaltTally,
  type HaltVerdict,
  type RolloutReport,
  type WaveInput,
  type WaveReport,
  type WaveResult,
} from '../../common/rollout';
import { edgeActivity, ownershipActivity } from '../activities';
import { ErrorType, deploymentFailure, summarizeFailure } from '../failures';
import { isoAt, nowMs } from '../clock';
import type { Progress } from '../progress';
import type { DeploymentStatusName, StageName } from '../report';
import { ownerOutcomeOfRow, rowFailure, rowPhase } from '../device/outcomes';
import { deployFailed } from '../device/stepMeaning';
import { awaitLeaseGrant, holderOf } from '../device/lease';
import { failStep } from '../deploy/context';
import { haltCriteriaOf, planWaves, type RolloutPlanRequest } from './plan';
import { isWaveResult, resultOfFailedChild } from './closeFailed';
import type { PauseBook } from './pauseBook';
import { emptyCounts, rolloutWave, wavePausedSignal } from './rolloutWave';

/** Devices per wave workflow; a bigger wave runs as consecutive parts (see runWave). */
export const WAVE_PART_DEVICES = 1000;

/** One wave's parts as one result: counts added, devices in order, the last part's tally and halt. */
export function mergeWaveResults(a: WaveResult, b: WaveResult): WaveResult {
  const counts = { ...a.counts };
  for (const k of Object.keys(counts) as Array<keyof typeof counts>) counts[k] += b.counts[k];
  return { ...a, finishedAt: b.finishedAt, counts, devices: [...a.devices, ...b.devices], notReached: [...a.notReached, ...b.notReached], tally: b.tally, ...(b.halted ? { halted: b.halted } : {}) };
}

/** Owners asked at once per lease activity (the fast path); ~100 bytes of answer each. */
const LEASE_TRY_CHUNK = 1000;

/** Owners asked per lease activity: each answer is ~50 ms, so a batch stays well inside its timeout. */
const LEASE_BATCH = 250;
/** A catch-up wave waits for all its devices at once; bounded below the 2,000 pending-children limit. */
const CATCH_UP_PARALLEL = 1000;
/** Before a catch-up, the leases of the devices whose part is done go back at once (recorded histories kept them). */
const CATCH_UP_RELEASES_EARLY_PATCH = 'edgeship-fleet-catch-up-releases-early';

export interface FleetRolloutContext {
  request: DeployRequest & { rollout: RolloutPlanRequest };
  run: { deploymentId: string; runId: string };
  progress: Progress;
  compiled: CompileResult;
  /** deployModel's approval gate; each call waits for a new decision. */
  awaitApproval: (gate: string) => Promise<boolean>;
  step: <T>(stage: StageName, deviceId: string | undefined, work: () => Promise<T>) => Promise<T>;
  /** Filled by deployModel's leaseGranted signal handler. */
  leasesGranted: Set<string>;
  /** Every device whose owner this run asked: each gets a release at the end. */
  leasesRequested: string[];
  /** Pauses and resumes, taken by deployModel's signal handlers (also before the rollout began). */
  pauses: PauseBook;
}

export interface FleetRolloutEnd {
  status: DeploymentStatusName;
  cancellation?: unknown;
}

const median = (xs: number[]): number | undefined => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

export class FleetRollout {
  private readonly plan: RolloutPlanRequest;
  private readonly rows = new Map<string, FleetDeviceRow>();
  /** Each device's backups/ after its swap, for its owner's record (kept out of the report's rows). */
  private readonly backupsOnDevice = new Map<string, string[]>();
  /** Devices whose lease this run already gave back (before a catch-up): never touched again. */
  private readonly released = new Set<string>();
  readonly rollout: RolloutReport;
  private tally: HaltTally = { done: 0, failed: 0, offline: 0 };
  /** The wave workflow running now, told when the rollout is paused or resumed. */
  private runningWave?: { handle: ChildWorkflowHandle<typeof rolloutWave>; mode: DeviceRolloutMode; paused: boolean };

  constructor(private readonly ctx: FleetRolloutContext) {
    this.plan = ctx.request.rollout;
    const planned = planWaves(ctx.request.devices, this.plan);
    for (const w of planned) for (const id of w.devices) this.rows.set(id, { deviceId: id, wave: w.name, outcome: 'pending' });
    const approval = ctx.request.approval.required ? this.plan.approval : 'none';
    this.rollout = {
      plan: {
        canary: planned[0].devices,
        waves: planned.slice(1),
        maxParallel: this.plan.maxParallel,
        soakMs: this.plan.soak,
        halt: haltCriteriaOf(this.plan),
        onHalt: this.plan.onHalt,
        approval,
        offline: this.plan.offline,
      },
      waves: planned.map((w, index) => this.waveReport(w.name, index, 'deploy', w.devices)),
      tally: this.tally,
      devices: [...this.rows.values()],
    };
    if (ctx.pauses.history.length > 0) this.rollout.pauses = ctx.pauses.history;
    ctx.progress.report.rollout = this.rollout;
    this.syncDevices();
  }

  private waveReport(name: string, index: number, mode: DeviceRolloutMode, devices: string[]): WaveReport {
    return { name, index, mode, workflowId: waveWorkflowId(this.ctx.run.deploymentId, name), state: 'pending', devices, counts: emptyCounts(devices.length) };
  }

  private settings(): DeviceRolloutSettings {
    const { request, compiled, run } = this.ctx;
    const e = request.edge;
    return {
      ...run,
      modelName: request.modelName,
      artifact: compiled.artifact,
      metadataPath: compiled.metadataPath,
      ...(compiled.release?.signed ? { manifestPath: compiled.release.manifestPath } : {}),
      ...(request.allowDowngrade ? { allowDowngrade: true } : {}),
      ext: compiled.format,
      gates: gatesAt('device', request.gates),
      validation: request.validation,
      edge: { healthTimeoutMs: e.healthTimeoutMs, deviceDeadline: e.deviceDeadline, restoreDeadline: e.restoreDeadline, queueWait: e.queueWait, ...(e.sharedTaskQueue ? { sharedTaskQueue: e.sharedTaskQueue } : {}) },
      soakMs: this.plan.soak,
      offlineAfterMs: this.plan.offlineAfter,
    };
  }

  /**
   * Every device's lease. First every owner at once, queueing nowhere; if any device is busy,
   * what was granted goes back and the leases are asked in sorted order (the rule that keeps
   * overlapping runs from deadlocking), a batch of owners per activity: a batch stops at the
   * first device that queues, and the run waits for that grant before asking for the rest.
   * (A release from a run that neither holds nor waits is a no-op, so every device is released
   * at the end whatever was answered.)
   */
  async acquireLeases(): Promise<void> {
    const { request, run, progress, step, leasesGranted, leasesRequested } = this.ctx;
    const end = progress.begin('lease');
    const deadline = nowMs() + request.queueTimeout;
    const sorted = [...request.devices].sort();
    for (const id of sorted) leasesRequested.push(id);
    // The usual case first: nobody else holds these devices, so ask every owner at once (in
    // chunks, so no activity result nears the payload limit; no chunk waits for anything).
    const tried: LeaseAnswer[] = [];
    for (let at = 0; at < sorted.length; at += LEASE_TRY_CHUNK) {
      const chunk = sorted.slice(at, at + LEASE_TRY_CHUNK);
      tried.push(
        ...(await step('lease', undefined, () =>
          ownershipActivity('requestDeviceLeases', `lease ${chunk.length} device${chunk.length === 1 ? '' : 's'} at once${sorted.length > chunk.length ? ` (${at + 1}–${at + chunk.length} of ${sorted.length})` : ''}`)({ deviceIds: chunk, ...run, modelName: request.modelName, onBusy: request.onBusy, tryAll: true }),
        )),
      );
    }
    const busy = tried.filter((a) => !a.granted);
    if (busy.length === 0) {
      for (const a of tried) Object.assign(progress.device(a.deviceId), { phase: 'leased' });
      end('ok', { figures: { devices: sorted.length, atOnce: true } });
      return;
    }
    // Some device is busy: give back what was granted (a run never waits while it holds leases
    // out of order), then ask in sorted order, queueing where busy.
    const granted = tried.filter((a) => a.granted).map((a) => ({ deviceId: a.deviceId }));
    for (let i = 0; i < granted.length; i += LEASE_BATCH) {
      await step('lease', undefined, () => ownershipActivity('releaseDeviceLeases', `give back ${granted.length} lease${granted.length === 1 ? '' : 's'} to ask in order`)({ ...run, releases: granted.slice(i, i + LEASE_BATCH) }));
    }
    if (request.onBusy === 'fail') {
      const first = busy[0];
      const holder = holderOf(first) ?? 'another deployment';
      await step('lease', first.deviceId, () =>
        Promise.reject(deploymentFailure(ErrorType.DeviceBusy, `device ${first.deviceId} is held by ${holder} and the request says onBusy: "fail"; ${busy.length} device${busy.length === 1 ? '' : 's'} busy, none touched`, { busy: busy.map((b) => b.deviceId) })),
      );
    }
    let at = 0;
    let batches = 0;
    while (at < sorted.length) {
      const batch = sorted.slice(at, at + LEASE_BATCH);
      batches += 1;
      const answers = await step('lease', batch[0], () =>
        ownershipActivity('requestDeviceLeases', `lease ${batch.length} device${batch.length === 1 ? '' : 's'} from ${batch[0]}`)({ deviceIds: batch, ...run, modelName: request.modelName, onBusy: request.onBusy }),
      );
      at += answers.length;
      const last = answers[answers.length - 1];
      if (last && !last.granted) {
        const wait = { deadlineMs: deadline, queueTimeout: request.queueTimeout, untouched: 'no device was touched' };
        const held = await awaitLeaseGrant(progress, leasesGranted, last, isoAt(nowMs()), wait);
        if (held) await failStep(this.ctx, 'lease', last.deviceId, ErrorType.DeviceBusy, held.message, held.details);
        progress.setStatus('running');
      }
      for (const a of answers) Object.assign(progress.device(a.deviceId), { phase: 'leased' });
    }
    end('ok', { figures: { devices: sorted.length, batches, busyAtFirst: busy.map((b) => b.deviceId).slice(0, 20) } });
  }

  /** Runs the plan; never throws for a device or a wave: returns how the run ends. */
  async run(): Promise<FleetRolloutEnd> {
    const { progress } = this.ctx;
    const planned = this.rollout.waves;
    const settings = this.settings();
    const criteria = this.rollout.plan.halt;
    let halted: HaltVerdict | undefined;
    let rejected = false;
    let cancellation: unknown;
    let broken = false;
    try {
      for (const [i, wave] of planned.entries()) {
        const gate = this.rollout.plan.approval !== 'none' && i > 0 && (i === 1 || this.rollout.plan.approval === 'every-wave');
        if (gate) {
          if (i === 1) await this.compareCanary(settings);
          wave.state = 'awaiting-approval';
          const approved = await this.ctx.awaitApproval(wave.name);
          const a = progress.report.approval;
          if (a) wave.approval = { decision: a.decision, ...(a.by ? { by: a.by } : {}), at: a.at };
          if (!approved) {
            rejected = true;
            for (const w of planned.slice(i)) w.state = 'not-run';
            break;
          }
        }
        await this.whilePaused();
        const result = await this.runWave(wave, { name: wave.name, index: i, mode: 'deploy', devices: wave.devices, maxParallel: this.plan.maxParallel, halt: { criteria, canary: i === 0, before: { ...this.tally } }, settings });
        if (!result.halted && i === 0 && result.counts.validated === 0) {
          // Nothing was proven on a device (the whole canary was offline): the fleet waits for a person.
          result.halted = { wave: wave.name, reason: 'no canary device validated (every canary device was offline)', tally: { ...this.tally } };
        }
        if (result.halted) {
          halted = result.halted;
          wave.state = 'halted';
          for (const w of planned.slice(i + 1)) w.state = 'not-run';
          for (const id of result.notReached) this.row(id).outcome = 'not-reached';
          for (const w of planned.slice(i + 1)) for (const id of w.devices) this.row(id).outcome = 'not-reached';
          break;
        }
      }
      if (!halted && !rejected && this.plan.offline === 'catch-up') await this.catchUp(settings);
    } catch (err) {
      if (isCancellation(err)) cancellation = err;
      else {
        // A wave that failed as a workflow (a bug, or terminated by hand): undo everything.
        broken = true;
        progress.report.failure ??= summarizeFailure(err, 'rollout');
      }
    }
    this.rollout.halted = halted;
    if (halted) {
      const firstFailed = [...this.rows.values()].find((r) => deployFailed(r.outcome));
      // The closing failure's message is what the run's page shows first: say why the device failed.
      const why = firstFailed ? ` — ${firstFailed.deviceId} failed${firstFailed.failedStep ? ` at ${firstFailed.failedStep}` : ''}${firstFailed.error ? `: ${firstFailed.error}` : ''}` : '';
      progress.report.failure ??= { stage: 'rollout', ...(firstFailed ? { deviceId: firstFailed.deviceId } : {}), type: ErrorType.DeploymentHalted, message: `${halted.wave}: ${halted.reason}${why}` };
    }

    const revertAll = cancellation !== undefined || rejected || broken || (halted !== undefined && this.plan.onHalt === 'revert-all');
    let revertOk = true;
    let reverted = 0;
    if (revertAll) ({ ok: revertOk, count: reverted } = await this.revert(settings));
    const unrestored = [...this.rows.values()].some((r) => r.outcome === 'failed-unrestored');
    let status: DeploymentStatusName;
    if (!revertOk || unrestored) status = 'rollback-failed';
    else if (cancellation !== undefined) status = reverted > 0 ? 'rolled-back' : 'cancelled';
    else if (rejected) status = 'rejected';
    else if (broken) status = 'rolled-back';
    else if (halted) status = this.plan.onHalt === 'revert-all' ? 'rolled-back' : 'halted';
    else status = 'completed';
    this.syncDevices();
    return { status, ...(cancellation !== undefined ? { cancellation } : {}) };
  }

  /** deployModel calls this after a pause or resume was taken. */
  async pauseChanged(): Promise<void> {
    this.rollout.pauses = this.ctx.pauses.history;
    this.ctx.progress.publish();
    await this.tellRunningWave();
  }

  private async tellRunningWave(): Promise<void> {
    const wave = this.runningWave;
    const paused = this.ctx.pauses.paused;
    if (!wave || wave.mode === 'revert' || wave.paused === paused) return;
    wave.paused = paused;
    try {
      await wave.handle.signal(wavePausedSignal, { paused });
    } catch {
      // The wave closed meanwhile: the next one starts with the rollout's pause state.
    }
  }

  /** No new wave starts while the rollout is paused (a cancellation still ends the wait). */
  private async whilePaused(): Promise<void> {
    if (this.ctx.pauses.paused) await condition(() => !this.ctx.pauses.paused);
  }

  private row(deviceId: string): FleetDeviceRow {
    const r = this.rows.get(deviceId);
    if (!r) throw new Error(`device ${deviceId} is not part of this rollout`);
    return r;
  }

  private async runWave(wave: WaveReport, input: WaveInput): Promise<WaveResult> {
    const { progress } = this.ctx;
    wave.state = 'running';
    wave.startedAt = isoAt(nowMs());
    const end = progress.begin(input.mode === 'catch-up' ? 'catch-up' : 'rollout');
    try {
      // A wave workflow's history grows ~6 events per device: past WAVE_PART_DEVICES the wave
      // runs as consecutive parts (each its own workflow, the halt tally carried across), so no
      // history nears Temporal's 51,200 events and no result nears the 2 MB payload limit.
      const parts: string[][] = [];
      for (let at = 0; at < input.devices.length; at += WAVE_PART_DEVICES) parts.push(input.devices.slice(at, at + WAVE_PART_DEVICES));
      let merged: WaveResult | undefined;
      for (const [k, devices] of parts.entries()) {
        const partInput: WaveInput = { ...input, devices, ...(input.halt ? { halt: { ...input.halt, before: merged ? { ...merged.tally } : input.halt.before } } : {}) };
        const workflowId = parts.length === 1 ? wave.workflowId : `${waveWorkflowId(this.ctx.run.deploymentId, wave.name)}.part-${k + 1}`;
        wave.workflowId = workflowId;
        // startChild + result() is executeChild's own pair of commands, with the handle kept so a
        // pause or resume reaches the running wave.
        const paused = input.mode !== 'revert' && this.ctx.pauses.paused;
        const handle = await startChild(rolloutWave, {
          workflowId,
          args: [{ ...partInput, ...(paused ? { paused } : {}) }],
          staticSummary: `${input.name}${parts.length > 1 ? ` part ${k + 1}/${parts.length}` : ''}: ${input.mode} ${devices.length} device${devices.length === 1 ? '' : 's'}`,
        });
        this.runningWave = { handle, mode: input.mode, paused };
        let result: WaveResult;
        try {
          await this.tellRunningWave(); // a pause or resume that came while the wave was starting
          result = await handle.result().catch((err: unknown) => resultOfFailedChild(err, isWaveResult));
        } finally {
          this.runningWave = undefined;
        }
        merged = merged ? mergeWaveResults(merged, result) : result;
        this.absorb(wave, merged, result);
        if (merged.halted || CancellationScope.current().consideredCancelled) {
          merged.notReached.push(...parts.slice(k + 1).flat());
          break;
        }
      }
      const result = merged as WaveResult;
      end(result.halted ? 'failed' : 'ok', { figures: { wave: wave.name, ...result.counts, ...(parts.length > 1 ? { parts: parts.length } : {}), ...(result.halted ? { halted: result.halted.reason } : {}) } });
      // A cancelled wave undoes its running devices and still returns what happened: the
      // rollout itself was cancelled, and ends as such once its results are in.
      if (input.mode !== 'revert' && CancellationScope.current().consideredCancelled) throw new CancelledFailure('the deployment was cancelled');
      return result;
    } catch (err) {
      end('failed', { figures: { wave: wave.name } });
      throw err;
    }
  }

  /** Takes in one wave workflow's result (`part`); `result` is the wave so far (all its parts). */
  private absorb(wave: WaveReport, result: WaveResult, part: WaveResult = result): void {
    wave.counts = result.counts;
    wave.finishedAt = result.finishedAt;
    if (wave.state === 'running') wave.state = 'done';
    if (part.mode === 'revert') {
      for (const d of part.devices) {
        const row = this.row(d.deviceId);
        row.revert = d.outcome as DeviceRolloutOutcome;
        if (d.restore) row.restore = d.restore;
        if (d.servedSha256Prefix !== undefined) row.servedSha256Prefix = d.servedSha256Prefix;
        if (d.error) row.error = d.error;
      }
    } else {
      for (const { backupsOnDevice, ...d } of part.devices) {
        this.rows.set(d.deviceId, { ...d, wave: this.row(d.deviceId).wave === 'catch-up' ? 'catch-up' : d.wave });
        if (backupsOnDevice) this.backupsOnDevice.set(d.deviceId, backupsOnDevice);
      }
      this.tally = { ...result.tally };
      this.rollout.tally = this.tally;
    }
    this.rollout.devices = [...this.rows.values()];
    this.syncDevices();
  }

  /** The canary's figures next to the same figures measured on devices still on the old model. */
  private async compareCanary(settings: DeviceRolloutSettings): Promise<void> {
    const { progress, request } = this.ctx;
    const canary = this.rollout.plan.canary.map((id) => this.row(id)).filter((r) => r.outcome === 'validated' && r.figures);
    const later = this.rollout.waves.slice(1).flatMap((w) => w.devices);
    const baselineIds = later.slice(0, this.plan.baselineDevices);
    const end = progress.begin('compare');
    const baseline = await Promise.all(
      baselineIds.map(async (deviceId) => {
        try {
          const measure = edgeActivity(deviceId, 'measureServing', `measure ${deviceId} on the model it serves now`, settings.edge, { scheduleToStartTimeout: this.plan.offlineAfter, scheduleToCloseTimeout: this.plan.offlineAfter + 15 * 60_000 });
          const f: ServingFigures = await measure({ ...request.validation });
          return {
            deviceId,
            servedSha256Prefix: f.servedSha256Prefix,
            p50Ms: f.latencyMs.p50,
            p95Ms: f.latencyMs.p95,
            p99Ms: f.latencyMs.p99,
            rps: f.throughput.rps,
            ...(f.agreement?.minReferenceCosine !== undefined ? { minReferenceCosine: f.agreement.minReferenceCosine } : {}),
            ...(f.agreement?.bindingMinCosine !== undefined ? { bindingMinCosine: f.agreement.bindingMinCosine } : {}),
            ...(f.agreement?.bindingMaxRelativeError !== undefined ? { bindingMaxRelativeError: f.agreement.bindingMaxRelativeError } : {}),
          };
        } catch (err) {
          const f = summarizeFailure(err, 'compare', deviceId);
          return { deviceId, error: `${f.type}: ${f.message}` };
        }
      }),
    );
    const canaryP95 = median(canary.map((r) => r.figures?.p95Ms ?? Number.NaN).filter(Number.isFinite));
    const canaryRps = median(canary.map((r) => r.figures?.rps ?? Number.NaN).filter(Number.isFinite));
    const baseP95 = median(baseline.flatMap((b) => ('p95Ms' in b && typeof b.p95Ms === 'number' ? [b.p95Ms] : [])));
    const baseRps = median(baseline.flatMap((b) => ('rps' in b && typeof b.rps === 'number' ? [b.rps] : [])));
    const notes: string[] = [
      'Same measurement on both sides (warm-up, sequential latency, closed-loop throughput with the request\'s validation settings); agreement is each model against its own FP32 outputs.',
    ];
    if (baselineIds.length === 0) notes.push(later.length === 0 ? 'no device is left on the old model to compare with' : 'baselineDevices is 0: no old-model figures');
    const comparison: CanaryComparison = {
      canary: canary.map((r) => ({ deviceId: r.deviceId, ...(r.figures as NonNullable<FleetDeviceRow['figures']>) })),
      baseline,
      ...(canaryP95 !== undefined && baseP95 !== undefined && canaryRps !== undefined && baseRps !== undefined ? { ratios: { p95Ms: round(canaryP95 / baseP95), rps: round(canaryRps / baseRps) } } : {}),
      notes,
    };
    this.rollout.canaryComparison = comparison;
    if (progress.report.decisionFigures) progress.report.decisionFigures.canaryComparison = comparison;
    end('ok', { figures: { canary: comparison.canary.length, baseline: baseline.filter((b) => !('error' in b)).length, ...(comparison.ratios ? { ratios: comparison.ratios } : {}) } });
  }

  /** Offline devices get the model when their edge worker answers again, until the deadline. */
  private async catchUp(settings: DeviceRolloutSettings): Promise<void> {
    const { run, request, compiled } = this.ctx;
    const offline = [...this.rows.values()].filter((r) => r.outcome === 'skipped-offline').map((r) => r.deviceId);
    if (offline.length === 0) return;
    const untilMs = Date.parse(this.ctx.progress.report.startedAt) + this.plan.deadline;
    if (untilMs <= nowMs()) return;
    const until = isoAt(untilMs);
    this.rollout.catchUp = { until, devices: offline };
    for (const id of offline) Object.assign(this.row(id), { outcome: 'awaiting-catch-up', wave: 'catch-up' });
    await this.ctx.step('catch-up', undefined, () =>
      ownershipActivity('recordDesiredModels', `desired model on ${offline.length} offline device${offline.length === 1 ? '' : 's'}`)({
        ...run,
        deviceIds: offline,
        desired: { modelName: request.modelName, sha256: compiled.artifact.sha256, until },
      }),
    );
    // The devices whose part is done go back to their owners now: other deployments to them must
    // not queue behind a catch-up that may wait a day. The run keeps only the waiting devices'.
    if (patched(CATCH_UP_RELEASES_EARLY_PATCH)) {
      const waiting = new Set(offline);
      await this.releaseLeasesOf(this.ctx.leasesRequested.filter((id) => !waiting.has(id)), 'completed');
    }
    await this.whilePaused();
    const wave = this.waveReport('catch-up', this.rollout.waves.length, 'catch-up', offline);
    this.rollout.waves.push(wave);
    await this.runWave(wave, { name: 'catch-up', index: wave.index, mode: 'catch-up', devices: offline, maxParallel: Math.min(offline.length, CATCH_UP_PARALLEL), settings: { ...settings, catchUpUntilMs: untilMs } });
  }

  /** Restores every device this run left on the new model (and any a cancelled wave may have touched). */
  private async revert(settings: DeviceRolloutSettings): Promise<{ ok: boolean; count: number }> {
    // A device whose lease went back early (its part was done before a catch-up) is no longer this
    // run's to touch: another deployment may hold it now.
    const targets = [...this.rows.values()]
      .filter((r) => !this.released.has(r.deviceId))
      .filter((r) => r.outcome === 'validated' || (r.outcome === 'pending' && this.rollout.waves.some((w) => w.state === 'running' && w.devices.includes(r.deviceId))))
      .map((r) => r.deviceId);
    if (targets.length === 0) return { ok: true, count: 0 };
    const wave = this.waveReport('revert', this.rollout.waves.length, 'revert', targets);
    this.rollout.waves.push(wave);
    return CancellationScope.nonCancellable(async () => {
      try {
        const result = await this.runWave(wave, { name: 'revert', index: wave.index, mode: 'revert', devices: targets, maxParallel: this.plan.revertParallel, settings });
        return { ok: result.counts.failed === 0, count: result.counts.reverted };
      } catch (err) {
        this.ctx.progress.report.failure ??= summarizeFailure(err, 'compensate');
        return { ok: false, count: 0 };
      }
    });
  }

  /** Mirrors the rows into the report's device list (what clients without fleet support show). */
  private syncDevices(): void {
    const { progress } = this.ctx;
    for (const row of this.rows.values()) {
      const device = progress.device(row.deviceId);
      if (device.phase === 'queued' && row.outcome === 'pending') continue;
      device.phase = rowPhase(row, device.phase);
      if (row.servedSha256Prefix !== undefined) device.servedSha256Prefix = row.servedSha256Prefix;
      // Why the device failed (its own failure, not the revert's), for the details and the report.
      const failure = deployFailed(row.outcome) ? rowFailure(row) : undefined;
      if (failure) device.error = failure;
    }
    progress.publish();
  }

  /** What this run did to a device, for its owner's record (what the swap left in backups/ included). */
  outcomeFor(deviceId: string, status: DeploymentStatusName): DeviceOutcome {
    return ownerOutcomeOfRow(this.row(deviceId), status, this.ctx.compiled.artifact.sha256, this.backupsOnDevice.get(deviceId));
  }

  /** Gives every lease back in batches, with what this run did to each device. */
  async releaseLeases(status: DeploymentStatusName): Promise<void> {
    await this.releaseLeasesOf(this.ctx.leasesRequested.filter((id) => !this.released.has(id)), status);
  }

  private async releaseLeasesOf(deviceIds: string[], status: DeploymentStatusName): Promise<void> {
    const { run } = this.ctx;
    for (const id of deviceIds) this.released.add(id);
    for (let i = 0; i < deviceIds.length; i += LEASE_BATCH) {
      const releases = deviceIds.slice(i, i + LEASE_BATCH).map((deviceId) => ({ deviceId, outcome: this.outcomeFor(deviceId, status) }));
      try {
        await ownershipActivity('releaseDeviceLeases', `release ${releases.length} device lease${releases.length === 1 ? '' : 's'}`)({ ...run, releases });
      } catch {
        // Owners also notice a closed holder by themselves (deviceOwner's holder check).
      }
    }
  }
}
