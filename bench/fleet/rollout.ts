// bench:fleet's rollout part: REAL fleet rollouts (deployModel with request.rollout → rolloutWave
// per wave → deviceRollout per device, deviceOwner per device) against the simulated fleet's real
// devices (SSH, model dir, runtime, edge worker), run by a GPU worker in its own process (so its
// memory is its own). Per run: the phases' wall time from the final report, and from the
// histories the parent's / waves' / devices' event counts and sizes and, per deviceRollout run,
// its wall time against its activities' own run time.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { awaitFinalReport } from '../../clients/deploymentState';
import { startDeployment } from '../../clients/startDeployment';
import { PROJECT_ROOT } from '../../lib/paths';
import { CONTROL_TASK_QUEUE, GPU_TASK_QUEUE } from '../../common/queues';
import { parseDeployRequest, type DeployRequest } from '../../common/request';
import type { DeploymentReport, StageRecord } from '../../workflows/report';
import { statusQuery } from '../../workflows/messages';
import { planWaves } from '../../workflows/fleet/plan';
import { deviceRunTiming, percentile, readHistory, type DeviceRunTiming, type HistoryFigures } from './history';
import { readProcMemory } from '../../sim/memory';

export interface RolloutSettings {
  canary: number;
  waves: Array<string | number>;
  maxParallel: number;
  latencyRequests: number;
  throughputDurationMs: number;
  concurrency: number;
  minRps: number;
  p95Ms: number;
  offlineAfter: string;
}

/** The demo's model and recipe (tcn-vae-demo → cpu-int8, 2000 calibration windows), light validation, no approval, no soak. */
export function buildRolloutRequest(checkpointPath: string, devices: string[], s: RolloutSettings): DeployRequest {
  return parseDeployRequest({
    modelName: 'tcn-vae-demo',
    source: { kind: 'checkpoint', checkpointPath },
    target: 'cpu-int8',
    devices,
    calibration: { samples: 2000 },
    gates: { minThroughputRps: s.minRps, p95LatencyMs: s.p95Ms },
    validation: { latencyRequests: s.latencyRequests, throughputDurationMs: s.throughputDurationMs, concurrency: s.concurrency },
    approval: { required: false },
    edge: { healthTimeoutMs: 60_000, deviceDeadline: '10m' },
    rollout: { canary: { count: Math.min(s.canary, devices.length) }, waves: s.waves, maxParallel: s.maxParallel, soak: 0, offlineAfter: s.offlineAfter },
  });
}

/**
 * How many device-times deep the request's plan is: the waves run one after the other, each at
 * most maxParallel devices at once, so wave i needs ceil(w_i / maxParallel) device-times at the
 * least (canary included). The device phase cannot be shorter than depth × one device's time.
 */
export function planDepth(request: DeployRequest): { depth: number; waves: Array<{ name: string; devices: number; depth: number }>; maxParallel: number } {
  const plan = request.rollout;
  if (!plan) return { depth: 1, waves: [], maxParallel: 1 };
  const waves = planWaves(request.devices, plan).filter((w) => w.devices.length > 0).map((w) => ({ name: w.name, devices: w.devices.length, depth: Math.ceil(w.devices.length / plan.maxParallel) }));
  return { depth: waves.reduce((s, w) => s + w.depth, 0), waves, maxParallel: plan.maxParallel };
}

/** workers/gpu.ts as its own process (workflows + GPU activities), output to a log file. */
export class GpuWorkerProcess {
  private child?: ChildProcess;
  private exited?: Promise<unknown>;

  constructor(private readonly o: { inventoryPath: string; address: string; storeDir: string; logFile: string }) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    const log = openSync(this.o.logFile, 'a');
    this.child = spawn(process.execPath, ['--require', 'tsx/cjs', 'workers/gpu.ts', '--inventory', this.o.inventoryPath, '--address', this.o.address], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', log, log],
      env: { ...process.env, EDGESHIP_ARTIFACT_STORE: this.o.storeDir },
    });
    closeSync(log);
    const child = this.child;
    this.exited = new Promise((r) => child.once('exit', r));
  }

  async waitPolling(client: Client, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const types = [temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY];
    for (;;) {
      if (this.child?.exitCode !== null && this.child?.exitCode !== undefined) throw new Error(`the GPU worker exited (${this.child.exitCode}); see ${this.o.logFile}`);
      // Both of its Workers: control (identity …:<pid>/control) and gpu (…:<pid>).
      const queues = [CONTROL_TASK_QUEUE, GPU_TASK_QUEUE];
      const polled = await Promise.all(queues.flatMap((name) => types.map(async (taskQueueType) => {
        const res = await client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name }, taskQueueType });
        return (res.pollers ?? []).some((p) => new RegExp(`:${this.pid}(/control)?$`).test(p.identity ?? ''));
      })));
      if (polled.every(Boolean)) return;
      if (Date.now() > deadline) throw new Error(`the GPU worker does not poll ${queues.join(' and ')} after ${timeoutMs} ms; see ${this.o.logFile}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, 35_000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

export interface Phase {
  name: string;
  /** From the run's start (the WorkflowExecutionStarted event). */
  atMs: number;
  durationMs: number;
  note?: string;
}

export interface WaveFigures {
  name: string;
  devices: number;
  validated: number;
  failed: number;
  skipped: number;
  /** Parent's stage record: runWave begin → the child's result absorbed. */
  durationMs: number;
  historyEvents: number;
  historyJsonBytes: number;
}

export interface Dist {
  median: number;
  p95: number;
  max: number;
}

export interface RolloutFigures {
  label: string;
  devices: number;
  workflowId: string;
  runId: string;
  status: string;
  executionStatus: string;
  /** History start → close. */
  wholeRunMs: number;
  /** Lease stage start → run closed. */
  devicePhaseMs: number;
  /** GPU stages (resolve-devices … preflight): first start → last end. */
  gpuStagesMs: number;
  gpuStages: Array<Pick<StageRecord, 'stage' | 'durationMs' | 'activityMs' | 'reused'>>;
  phases: Phase[];
  waves: WaveFigures[];
  parentHistory: { events: number; jsonBytes: number; protoBytes: number };
  largestDeviceHistory: { workflowId: string; events: number; jsonBytes: number };
  deviceRuns: number;
  /** Per deviceRollout run, ms. */
  perDevice: { wall: Dist; activityRun: Dist; activityQueue: Dist; overhead: Dist; workflowTask: Dist; childDispatch?: Dist };
  /** Per activity type: median run and queue (scheduled → started) time, ms. */
  perActivity: Record<string, { runMedian: number; queueMedian: number; queueP95: number }>;
  /** (device-phase wall − Σ activity run time / maxParallel) / devices. */
  overheadByFormulaMs: number;
  failures: string[];
}

const dist = (xs: number[]): Dist => ({ median: percentile(xs, 50), p95: percentile(xs, 95), max: xs.length ? Math.max(...xs) : Number.NaN });
const GPU_STAGES = new Set(['resolve-devices', 'export', 'calibrate', 'compile', 'preflight']);

/** Starts one rollout, prints its progress every `progressMs`, waits for its end and reads its histories. */
export async function runRollout(client: Client, request: DeployRequest, label: string, say: (line: string) => void, progressMs = 10_000): Promise<{ figures: RolloutFigures; report: DeploymentReport }> {
  const started = await startDeployment(client, request);
  const t0 = Date.now();
  say(`[${label}] started ${started.workflowId} run ${started.runId} (${request.devices.length} device${request.devices.length === 1 ? '' : 's'})`);
  let done = false;
  const ticker = (async () => {
    while (!done) {
      await new Promise((r) => setTimeout(r, progressMs));
      if (done) break;
      try {
        const s = await started.handle.query(statusQuery);
        const waves = s.rollout?.waves.map((w) => `${w.name} ${w.state}${w.state === 'running' || w.state === 'done' ? ` ${w.counts.validated}✓${w.counts.failed ? ` ${w.counts.failed}✗` : ''}${w.counts.running ? ` ${w.counts.running}…` : ''}/${w.counts.total}` : ''}`).join(' · ');
        say(`[${label}] ${((Date.now() - t0) / 1000).toFixed(0)} s: stage ${s.stage}${waves ? ` — ${waves}` : ''}`);
      } catch (err) {
        say(`[${label}] ${((Date.now() - t0) / 1000).toFixed(0)} s: (status query: ${(err as Error).message.split('\n')[0]})`);
      }
    }
  })();
  let final: { report: DeploymentReport; executionStatus: string };
  try {
    final = await awaitFinalReport(client, started.workflowId, started.runId);
  } finally {
    done = true;
  }
  void ticker;
  say(`[${label}] ended ${final.report.status} (Temporal: ${final.executionStatus}) after ${((Date.now() - t0) / 1000).toFixed(1)} s; reading histories…`);
  const figures = await rolloutFigures(client, label, final.report, final.executionStatus);
  return { figures, report: final.report };
}

export async function rolloutFigures(client: Client, label: string, report: DeploymentReport, executionStatus: string): Promise<RolloutFigures> {
  const parent = await readHistory(client, report.deploymentId, report.runId);
  const t0 = parent.startedAtMs;
  const closed = parent.closedAtMs ?? Date.parse(report.finishedAt ?? '');
  const rel = (iso: string | undefined): number => (iso ? Date.parse(iso) - t0 : Number.NaN);
  const phases: Phase[] = [];
  phases.push({ name: 'start → first workflow task', atMs: 0, durationMs: rel(report.startedAt) });
  const gpu = report.stages.filter((s) => GPU_STAGES.has(s.stage));
  for (const s of gpu) phases.push({ name: `GPU ${s.stage}`, atMs: rel(s.startedAt), durationMs: s.durationMs ?? Number.NaN, note: `${s.reused ? 'reused' : s.activityMs !== undefined ? `activity ${s.activityMs} ms` : ''}` });
  const gpuStart = gpu.length ? Date.parse(gpu[0].startedAt) : Number.NaN;
  const gpuEnd = gpu.length ? Math.max(...gpu.map((s) => Date.parse(s.startedAt) + (s.durationMs ?? 0))) : Number.NaN;
  const lease = report.stages.find((s) => s.stage === 'lease');
  if (lease) phases.push({ name: 'lease', atMs: rel(lease.startedAt), durationMs: lease.durationMs ?? Number.NaN, note: `${(lease.figures as { batches?: number } | undefined)?.batches ?? '?'} batch(es)` });

  // Waves: the parent's history names each wave child's run; each wave's history names its devices' runs.
  const waveRuns = parent.children;
  const waveHistories = await Promise.all(waveRuns.map((c) => readHistory(client, c.workflowId, c.runId)));
  const waves: WaveFigures[] = [];
  let lastEnd = lease ? Date.parse(lease.startedAt) + (lease.durationMs ?? 0) : gpuEnd;
  for (const w of report.rollout?.waves ?? []) {
    const stage = report.stages.find((s) => (s.stage === 'rollout' || s.stage === 'catch-up') && (s.figures as { wave?: string } | undefined)?.wave === w.name);
    const h = waveHistories.find((x) => x.workflowId === w.workflowId);
    if (!stage && !h) continue;
    const start = stage ? Date.parse(stage.startedAt) : h?.startedAtMs ?? Number.NaN;
    const durationMs = stage?.durationMs ?? ((h?.closedAtMs ?? Number.NaN) - (h?.startedAtMs ?? Number.NaN));
    if (start - lastEnd > 1) phases.push({ name: `  (between: parent workflow task)`, atMs: lastEnd - t0, durationMs: start - lastEnd });
    phases.push({ name: `${w.name} (${w.devices.length} device${w.devices.length === 1 ? '' : 's'})`, atMs: start - t0, durationMs, note: `${w.counts.validated} validated${w.counts.failed ? `, ${w.counts.failed} failed` : ''}${w.counts.skipped ? `, ${w.counts.skipped} offline` : ''}` });
    lastEnd = start + durationMs;
    waves.push({ name: w.name, devices: w.devices.length, validated: w.counts.validated, failed: w.counts.failed, skipped: w.counts.skipped, durationMs, historyEvents: h?.events ?? Number.NaN, historyJsonBytes: h?.jsonBytes ?? Number.NaN });
  }
  const finished = Date.parse(report.finishedAt ?? '');
  phases.push({ name: 'release leases (+ final report)', atMs: lastEnd - t0, durationMs: finished - lastEnd });
  phases.push({ name: 'close (memo, result)', atMs: finished - t0, durationMs: closed - finished });

  // Device runs, all of them (revert / catch-up too), read 8 at a time.
  const deviceChildren = waveHistories.flatMap((h) => h.children);
  const deviceHistories: HistoryFigures[] = [];
  for (let i = 0; i < deviceChildren.length; i += 8) {
    deviceHistories.push(...(await Promise.all(deviceChildren.slice(i, i + 8).map((c) => readHistory(client, c.workflowId, c.runId)))));
  }
  const timings: DeviceRunTiming[] = deviceHistories.map((h, i) => deviceRunTiming(h, h.workflowId.slice(report.deploymentId.length + 1), deviceChildren[i]));
  const largest = deviceHistories.reduce<HistoryFigures | undefined>((m, h) => (!m || h.events > m.events ? h : m), undefined);
  const perActivity: RolloutFigures['perActivity'] = {};
  const types = new Set(deviceHistories.flatMap((h) => h.activities.map((a) => a.type)));
  for (const type of types) {
    const runs: number[] = [];
    const queues: number[] = [];
    for (const h of deviceHistories) {
      for (const a of h.activities.filter((x) => x.type === type)) {
        if (a.startedAtMs === undefined || a.closedAtMs === undefined) continue;
        runs.push(a.closedAtMs - a.startedAtMs);
        queues.push(a.startedAtMs - a.scheduledAtMs);
      }
    }
    perActivity[type] = { runMedian: percentile(runs, 50), queueMedian: percentile(queues, 50), queueP95: percentile(queues, 95) };
  }
  const devicePhaseMs = lease ? closed - Date.parse(lease.startedAt) : Number.NaN;
  const sumRun = timings.reduce((s, t) => s + t.activityRunMs, 0);
  const maxParallel = report.rollout?.plan.maxParallel ?? 1;
  const dispatch = timings.flatMap((t) => (t.childDispatchMs !== undefined ? [t.childDispatchMs] : []));
  const failures = (report.rollout?.devices ?? []).filter((d) => d.outcome !== 'validated').map((d) => `${d.deviceId}: ${d.outcome}${d.failedStep ? ` at ${d.failedStep}` : ''}${d.error ? ` (${d.error})` : ''}`);
  if (report.failure) failures.unshift(`run: ${report.failure.stage}: ${report.failure.type}: ${report.failure.message}`);
  return {
    label,
    devices: report.devices.length,
    workflowId: report.deploymentId,
    runId: report.runId,
    status: report.status,
    executionStatus,
    wholeRunMs: closed - t0,
    devicePhaseMs,
    gpuStagesMs: gpuEnd - gpuStart,
    gpuStages: gpu.map((s) => ({ stage: s.stage, durationMs: s.durationMs, activityMs: s.activityMs, reused: s.reused })),
    phases,
    waves,
    parentHistory: { events: parent.events, jsonBytes: parent.jsonBytes, protoBytes: parent.protoBytes },
    largestDeviceHistory: { workflowId: largest?.workflowId ?? '', events: largest?.events ?? 0, jsonBytes: largest?.jsonBytes ?? 0 },
    deviceRuns: timings.length,
    perDevice: {
      wall: dist(timings.map((t) => t.wallMs)),
      activityRun: dist(timings.map((t) => t.activityRunMs)),
      activityQueue: dist(timings.map((t) => t.activityQueueMs)),
      overhead: dist(timings.map((t) => t.overheadMs)),
      workflowTask: dist(timings.map((t) => t.workflowTaskMs)),
      ...(dispatch.length ? { childDispatch: dist(dispatch) } : {}),
    },
    perActivity,
    overheadByFormulaMs: (devicePhaseMs - sumRun / maxParallel) / Math.max(1, timings.length),
    failures,
  };
}

/** Peak memory while the rollouts run: sampled sums (Pss, RSS) and the processes' own peaks (VmHWM). */
export class MemorySampler {
  maxPssKiB = 0;
  maxRssKiB = 0;
  samples = 0;
  private timer?: NodeJS.Timeout;

  constructor(private readonly sample: () => { pssKiB: number; rssKiB: number }) {}

  start(everyMs: number): void {
    const take = (): void => {
      const m = this.sample();
      this.maxPssKiB = Math.max(this.maxPssKiB, m.pssKiB);
      this.maxRssKiB = Math.max(this.maxRssKiB, m.rssKiB);
      this.samples++;
    };
    take();
    this.timer = setInterval(take, everyMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

export function processPeakKiB(pid: number | undefined): { hwmKiB: number; rssKiB: number; pssKiB: number } | undefined {
  if (pid === undefined) return undefined;
  const m = readProcMemory(pid);
  return m ? { hwmKiB: m.hwmKiB, rssKiB: m.rssKiB, pssKiB: m.pssKiB ?? m.rssKiB } : undefined;
}
