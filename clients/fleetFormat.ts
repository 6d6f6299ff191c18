// Fleet rollouts in the terminal: the waves, the halt, the canary comparison, the per-device table,
// what `watch` prints as a rollout moves, and what `list --device` asks the visibility store and
// makes of the answer. Pure functions over common/rollout.ts shapes (no Temporal), so they are
// tested without a server.
import type {
  CanaryComparison,
  DeviceFigures,
  DeviceRolloutMode,
  FleetDeviceRow,
  HaltCriteria,
  HaltTally,
  HaltVerdict,
  PauseRecord,
  RolloutReport,
  WaveCounts,
  WaveReport,
  WaveStatus,
} from '../common/rollout';
import { DEPLOY_MODEL_WORKFLOW_TYPE, DEVICE_ROLLOUT_WORKFLOW_TYPE, MESSAGE_NAMES, parseDeviceRolloutWorkflowId } from '../common/workflowNames';
import { cut } from '../workflows/escapeText';
import type { DeploymentStatus } from '../workflows/report';
import type { ServerView } from './deploymentState';

/** The wave workflow's live-status query (workflows/fleet/rolloutWave.ts), asked by name. */
export const WAVE_STATUS_QUERY = MESSAGE_NAMES.rolloutWave.waveStatusQuery;
/** A fleet status lists every device up to this many; above, only the ones that need a look. */
export const BIG_FLEET = 50;

const ms = (n: number | undefined): string => (n === undefined ? '—' : n >= 10_000 ? `${(n / 1000).toFixed(1)} s` : n < 10 ? `${n.toFixed(2)} ms` : `${Math.round(n)} ms`);
const count = (n: number): string => n.toLocaleString('en-US');
const when = (iso: string | undefined): string => (iso ? iso.replace('T', ' ').slice(0, 19) : '—');
const sha = (prefix: string | null | undefined): string => (prefix === undefined ? '—' : prefix === null ? 'none' : prefix.slice(0, 12));

/** Left-aligned columns, two spaces apart, trailing blanks trimmed. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows].map((r) => r.map((v, i) => (v ?? '').padEnd(widths[i])).join('  ').trimEnd());
}

// ---------------------------------------------------------------------------------------------
// Waves

/** "3 validated · 2 running · 1 failed · 0 skipped-offline · 0 reverted · 4 pending (of 10)". */
export function countsLine(c: WaveCounts): string {
  const parts = [`${count(c.validated)} validated`, `${count(c.running)} running`, `${count(c.failed)} failed`, `${count(c.skipped)} skipped-offline`, `${count(c.reverted)} reverted`, `${count(c.pending)} pending`];
  if (c.cancelled) parts.push(`${count(c.cancelled)} cancelled`);
  return `${parts.join(' · ')} (of ${count(c.total)})`;
}

export function tallyLine(t: HaltTally): string {
  return `${count(t.done)} done, ${count(t.failed)} failed, ${count(t.offline)} offline`;
}

export function haltCriteriaLine(h: HaltCriteria): string {
  const parts: string[] = [];
  if (h.maxFailed !== undefined) parts.push(`more than ${h.maxFailed} failed`);
  if (h.maxFailedPercent !== undefined) parts.push(`more than ${h.maxFailedPercent} % failed once ${h.minDoneForPercent} are done`);
  if (parts.length === 0) parts.push('any failure');
  return `halts on ${parts.join(' or ')}${h.countOffline ? ' (offline counts as failed)' : ''}`;
}

/** One wave: name, mode, state, counts (the wave's live ones when given), its approval. */
export function waveLine(w: WaveReport, live?: WaveStatus): string {
  const counts = live?.counts ?? w.counts;
  const mode = w.mode === 'deploy' ? '' : ` (${w.mode})`;
  const approval = w.approval ? ` · ${w.approval.decision}${w.approval.by ? ` by ${w.approval.by}` : ''}` : '';
  const source = live ? ' [live]' : '';
  return `${w.name}${mode}: ${w.state}${source} · ${countsLine(counts)}${approval}`;
}

/** Extra lines for a running wave read live: the halt criteria's figure and the devices in flight. */
export function liveWaveLines(live: WaveStatus, maxRunning = 10): string[] {
  const out: string[] = [];
  if (live.haltFigure) out.push(`halt figure: ${live.haltFigure}`);
  if (live.running.length) {
    const shown = live.running.slice(0, maxRunning).join(', ');
    out.push(`in flight: ${shown}${live.running.length > maxRunning ? ` … (+${count(live.running.length - maxRunning)})` : ''}`);
  }
  if (live.halted) out.push(`halting: ${live.halted.reason}`);
  return out;
}

export function haltLine(h: HaltVerdict, onHalt?: string): string {
  return `HALTED in ${h.wave}: ${h.reason} — tally ${tallyLine(h.tally)}${onHalt ? `; onHalt ${onHalt}` : ''}`;
}

export function planLine(r: RolloutReport): string {
  const p = r.plan;
  const waves = p.waves.map((w) => `${w.name} (${count(w.devices.length)})`).join(', ') || 'none';
  return [
    `canary ${p.canary.length > 5 ? `${p.canary.slice(0, 3).join(', ')} … (${count(p.canary.length)})` : p.canary.join(', ') || '—'}`,
    `waves ${waves}`,
    `maxParallel ${p.maxParallel}`,
    `soak ${p.soakMs ? ms(p.soakMs) : 'none'}`,
    haltCriteriaLine(p.halt),
    `onHalt ${p.onHalt}`,
    `approval ${p.approval}`,
    `offline ${p.offline}`,
  ].join(' · ');
}

/** The waves, the tally, the halt and the catch-up; live wave statuses replace a running wave's counts. */
export function renderWaves(r: RolloutReport, live: Record<string, WaveStatus> = {}): string[] {
  const out: string[] = [];
  for (const w of r.waves) {
    const l = w.state === 'running' ? live[w.name] : undefined;
    out.push(waveLine(w, l));
    if (l) for (const x of liveWaveLines(l)) out.push(`  ${x}`);
  }
  out.push(`tally: ${tallyLine(r.tally)}`);
  if (r.halted) out.push(haltLine(r.halted, r.plan.onHalt));
  if (r.catchUp) out.push(`catch-up: ${count(r.catchUp.devices.length)} device(s) waited for until ${r.catchUp.until}`);
  for (const p of r.pauses ?? []) out.push(pauseLine(p));
  return out;
}

/** A pause as a line: in force, or over. */
export function pauseLine(p: PauseRecord, deploymentId = '<id>'): string {
  const why = p.reason ? ` (${cut(p.reason, 120)})` : '';
  return p.resumedAt === undefined
    ? `PAUSED by ${p.by} since ${p.at}${why}: no new device starts; devices in flight finish — edgeship resume ${deploymentId}`
    : `paused by ${p.by} ${p.at}${why} → resumed by ${p.resumedBy ?? '?'} ${p.resumedAt}`;
}

// ---------------------------------------------------------------------------------------------
// Canary comparison (approval after the canary)

const median = (xs: number[]): number | undefined => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function figureCells(f: Partial<DeviceFigures>): string[] {
  return [sha(f.servedSha256Prefix), ms(f.p50Ms), ms(f.p95Ms), ms(f.p99Ms), f.rps === undefined ? '—' : f.rps.toFixed(1), f.minReferenceCosine === undefined ? '—' : f.minReferenceCosine.toFixed(4)];
}

/** The canary's figures next to the baseline's (devices still on the old model), with the ratios. */
export function canaryComparisonLines(c: CanaryComparison): string[] {
  const rows = [
    ...c.canary.map((d) => [d.deviceId, 'canary', ...figureCells(d), '']),
    ...c.baseline.map((d) => [d.deviceId, 'baseline', ...figureCells(d), d.error ? `not measured: ${cut(d.error, 80)}` : '']),
  ];
  const out = table(['DEVICE', 'MODEL', 'SERVES', 'P50', 'P95', 'P99', 'REQ/S', 'REF COS', 'NOTE'], rows);
  const ratios = c.ratios ?? {
    p95Ms: ratioOf(c, 'p95Ms'),
    rps: ratioOf(c, 'rps'),
  };
  const parts: string[] = [];
  if (ratios.p95Ms !== undefined) parts.push(`p95 ×${ratios.p95Ms.toFixed(2)}`);
  if (ratios.rps !== undefined) parts.push(`req/s ×${ratios.rps.toFixed(2)}`);
  out.push(parts.length ? `canary ÷ baseline (medians): ${parts.join(', ')}` : 'canary ÷ baseline: no baseline figures');
  for (const n of c.notes) out.push(`note: ${n}`);
  return out;
}

function ratioOf(c: CanaryComparison, key: 'p95Ms' | 'rps'): number | undefined {
  const a = median(c.canary.map((d) => d[key]));
  const b = median(c.baseline.map((d) => d[key]).filter((x): x is number => typeof x === 'number'));
  return a === undefined || b === undefined || b === 0 ? undefined : a / b;
}

/** Waiting for the decision after the canary: the canary ran, no later deploy wave started. */
export function awaitingAfterCanary(s: Pick<DeploymentStatus, 'awaiting' | 'rollout'>): boolean {
  const r = s.rollout;
  if (!s.awaiting || !r) return false;
  const canary = r.waves.find((w) => w.name === 'canary');
  if (!canary || canary.state !== 'done') return false;
  return r.waves.every((w) => w === canary || w.mode !== 'deploy' || w.state === 'pending' || w.state === 'awaiting-approval');
}

export function canaryComparisonOf(s: Pick<DeploymentStatus, 'decisionFigures' | 'rollout'>): CanaryComparison | undefined {
  return s.decisionFigures?.canaryComparison ?? s.rollout?.canaryComparison;
}

// ---------------------------------------------------------------------------------------------
// Devices

/** Needs no look: validated and still so (or validated, then reverted cleanly by the halt). */
const fine = (d: FleetDeviceRow): boolean => d.outcome === 'validated' && (d.revert === undefined || d.revert === 'reverted');

function note(d: FleetDeviceRow): string {
  const parts: string[] = [];
  if (d.restore && (d.restore.outcome !== 'restored' || d.outcome !== 'failed')) parts.push(`restore ${d.restore.outcome}${d.restore.restoredSha256 ? ` → ${d.restore.restoredSha256.slice(0, 12)}` : ''}`);
  if (d.error) parts.push(cut(d.error, 100));
  return parts.join('; ');
}

export function deviceTable(rows: FleetDeviceRow[]): string[] {
  return table(
    ['DEVICE', 'WAVE', 'OUTCOME', 'FAILED STEP', 'SERVES', 'P95 / REQ/S', 'REVERT', 'CAME BACK', 'NOTE'],
    rows.map((d) => [
      d.deviceId,
      d.wave,
      d.outcome,
      d.failedStep ?? '—',
      sha(d.servedSha256Prefix),
      d.figures ? `${ms(d.figures.p95Ms)} / ${d.figures.rps.toFixed(1)}` : '—',
      d.revert ?? '—',
      when(d.cameBackAt),
      note(d),
    ]),
  );
}

/** "validated 1,950 · failed 12 · …" (most first), then the reverts. */
export function outcomeCounts(rows: FleetDeviceRow[]): string {
  const by = new Map<string, number>();
  const reverts = new Map<string, number>();
  for (const d of rows) {
    by.set(d.outcome, (by.get(d.outcome) ?? 0) + 1);
    if (d.revert) reverts.set(d.revert, (reverts.get(d.revert) ?? 0) + 1);
  }
  const fmt = (m: Map<string, number>): string => [...m].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([k, n]) => `${k} ${count(n)}`).join(' · ');
  return `${count(rows.length)} devices: ${fmt(by)}${reverts.size ? `; revert: ${fmt(reverts)}` : ''}`;
}

/**
 * The rollout part of `status`: plan, waves, halt, canary comparison, devices. Above BIG_FLEET
 * devices (unless `all`), a count per outcome and only the devices that need a look.
 */
export function renderRollout(r: RolloutReport, opts: { all?: boolean; live?: Record<string, WaveStatus> } = {}): string[] {
  const out = [`rollout: ${planLine(r)}`, '', 'waves:', ...renderWaves(r, opts.live).map((l) => `  ${l}`)];
  if (r.canaryComparison) out.push('', 'canary vs baseline (old model):', ...canaryComparisonLines(r.canaryComparison).map((l) => `  ${l}`));
  out.push('');
  if (r.devices.length > BIG_FLEET && !opts.all) {
    const shown = r.devices.filter((d) => !fine(d));
    const hidden = r.devices.length - shown.length;
    const reverted = r.devices.filter((d) => fine(d) && d.revert === 'reverted').length;
    out.push(outcomeCounts(r.devices));
    out.push(`devices that need a look (${count(shown.length)}; ${count(hidden)} validated not shown${reverted ? `, ${count(reverted)} of them since reverted` : ''} — --all lists every device):`);
    if (shown.length) out.push(...deviceTable(shown).map((l) => `  ${l}`));
  } else {
    out.push(r.devices.length ? `devices (${count(r.devices.length)}):` : 'devices: none reported yet');
    if (r.devices.length) out.push(...deviceTable(r.devices).map((l) => `  ${l}`));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// watch: what changed since the last poll

export type RolloutUpdate =
  | { type: 'wave'; deploymentId: string; wave: string; mode: DeviceRolloutMode; state: WaveReport['state']; counts: WaveCounts; live: boolean; haltFigure?: string; running?: string[] }
  | { type: 'device'; deploymentId: string; deviceId: string; wave: string; outcome: string; failedStep?: string; error?: string }
  | { type: 'halted'; deploymentId: string; verdict: HaltVerdict; onHalt: string }
  | { type: 'canary-comparison'; deploymentId: string; comparison: CanaryComparison }
  | { type: 'pause'; deploymentId: string; pause: PauseRecord };

/** What a watcher remembers between polls. */
export interface RolloutWatchState {
  waves: Map<string, string>;
  devices: Set<string>;
  halted: boolean;
  canaryShown: boolean;
  /** The last pause line shown (a pause, then its resume, each once). */
  pauseShown?: string;
}

export const newRolloutWatchState = (): RolloutWatchState => ({ waves: new Map(), devices: new Set(), halted: false, canaryShown: false });

/** Device outcomes worth a line of their own while watching (validated ones show in the counts). */
const NOTEWORTHY = new Set(['failed', 'failed-unrestored', 'revert-failed', 'skipped-offline', 'cancelled']);

/**
 * The rollout updates since the last call (state remembers what was reported): a wave whose state
 * or counts changed (a running wave's from its live status), a device that ended other than
 * validated, the halt verdict, and the canary comparison when the approval after the canary starts.
 */
export function rolloutUpdates(state: RolloutWatchState, s: DeploymentStatus, live: Record<string, WaveStatus> = {}): RolloutUpdate[] {
  const r = s.rollout;
  if (!r) return [];
  const deploymentId = s.deploymentId;
  const out: RolloutUpdate[] = [];
  for (const w of r.waves) {
    const l = w.state === 'running' ? live[w.name] : undefined;
    const u: RolloutUpdate = {
      type: 'wave',
      deploymentId,
      wave: w.name,
      mode: w.mode,
      state: w.state,
      counts: l?.counts ?? w.counts,
      live: !!l,
      ...(l?.haltFigure ? { haltFigure: l.haltFigure } : {}),
      ...(l ? { running: l.running } : {}),
    };
    const key = JSON.stringify([u.state, u.counts, u.haltFigure]);
    if (state.waves.get(w.name) !== key) {
      state.waves.set(w.name, key);
      out.push(u);
    }
  }
  const seen = (deviceId: string, wave: string, outcome: string): boolean => {
    const k = `${deviceId}\u0000${wave}\u0000${outcome}`;
    if (state.devices.has(k)) return true;
    state.devices.add(k);
    return false;
  };
  for (const l of Object.values(live)) {
    for (const d of l.devices) {
      if (NOTEWORTHY.has(d.outcome) && !seen(d.deviceId, l.name, d.outcome)) {
        out.push({ type: 'device', deploymentId, deviceId: d.deviceId, wave: l.name, outcome: d.outcome, ...(d.failedStep ? { failedStep: d.failedStep } : {}) });
      }
    }
  }
  for (const d of r.devices) {
    const outcome = d.revert === 'revert-failed' ? 'revert-failed' : d.outcome;
    if (NOTEWORTHY.has(outcome) && !seen(d.deviceId, d.wave, outcome)) {
      out.push({ type: 'device', deploymentId, deviceId: d.deviceId, wave: d.wave, outcome, ...(d.failedStep ? { failedStep: d.failedStep } : {}), ...(d.error ? { error: d.error } : {}) });
    }
  }
  if (r.halted && !state.halted) {
    state.halted = true;
    out.push({ type: 'halted', deploymentId, verdict: r.halted, onHalt: r.plan.onHalt });
  }
  const pause = r.pauses?.at(-1);
  if (pause && state.pauseShown !== pauseLine(pause)) {
    state.pauseShown = pauseLine(pause);
    out.push({ type: 'pause', deploymentId, pause });
  }
  const comparison = canaryComparisonOf(s);
  if (!state.canaryShown && comparison && awaitingAfterCanary(s)) {
    state.canaryShown = true;
    out.push({ type: 'canary-comparison', deploymentId, comparison });
  }
  return out;
}

/** The text lines for rollout updates (what `watch` prints). */
export function updateLines(updates: RolloutUpdate[]): string[] {
  const out: string[] = [];
  for (const u of updates) {
    switch (u.type) {
      case 'wave': {
        const mode = u.mode === 'deploy' ? '' : ` (${u.mode})`;
        out.push(`  wave ${u.wave}${mode}: ${u.state}${u.live ? ' [live]' : ''} · ${countsLine(u.counts)}${u.haltFigure ? ` · halt figure: ${u.haltFigure}` : ''}`);
        break;
      }
      case 'device':
        out.push(`    ✘ ${u.deviceId} (${u.wave}): ${u.outcome}${u.failedStep ? ` at ${u.failedStep}` : ''}${u.error ? ` — ${cut(u.error, 120)}` : ''}`);
        break;
      case 'halted':
        out.push(`  ${haltLine(u.verdict, u.onHalt)}`);
        break;
      case 'canary-comparison':
        out.push('  canary vs baseline (old model):', ...canaryComparisonLines(u.comparison).map((l) => `    ${l}`));
        break;
      case 'pause':
        out.push(`  ${pauseLine(u.pause, u.deploymentId)}`);
        break;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// list --device

export { DEPLOY_MODEL_WORKFLOW_TYPE };
export const DEVICE_ROLLOUT_TYPE = DEVICE_ROLLOUT_WORKFLOW_TYPE;

/** A value in a visibility query: single-quoted, backslashes and quotes escaped. */
export const visibilityQuote = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export interface ListFilters {
  model?: string;
  status?: string;
  stage?: string;
  device?: string;
  sha?: string;
  query?: string;
}

/**
 * The visibility query of `list`. Without --device: deployModel runs. With --device: the runs that
 * carry the device in EdgeshipDevices — plain deployModel runs (all their devices) and fleet
 * rollouts' deviceRollout children (their one device) — never the device's owner workflow.
 */
export function listQuery(f: ListFilters): string {
  const parts = f.device ? [`WorkflowType IN (${visibilityQuote(DEPLOY_MODEL_WORKFLOW_TYPE)}, ${visibilityQuote(DEVICE_ROLLOUT_TYPE)})`, `EdgeshipDevices = ${visibilityQuote(f.device)}`] : [`WorkflowType = ${visibilityQuote(DEPLOY_MODEL_WORKFLOW_TYPE)}`];
  if (f.model) parts.push(`EdgeshipModel = ${visibilityQuote(f.model)}`);
  if (f.status) parts.push(`EdgeshipStatus = ${visibilityQuote(f.status)}`);
  if (f.stage) parts.push(`EdgeshipStage = ${visibilityQuote(f.stage)}`);
  if (f.sha) parts.push(`EdgeshipSha = ${visibilityQuote(f.sha)}`);
  if (f.query) parts.push(`(${f.query})`);
  return parts.join(' AND ');
}

/** A child's mode from its id (common/workflowNames.ts parses it). */
export function childMode(workflowId: string, deviceId: string): DeviceRolloutMode {
  const child = parseDeviceRolloutWorkflowId(workflowId);
  return child && child.deviceId === deviceId ? child.mode : 'deploy';
}

/** The parent deployment's id from a deviceRollout child's id; the id itself when it is not one of this device. */
export function deploymentIdFromChild(workflowId: string, deviceId: string): string {
  const child = parseDeviceRolloutWorkflowId(workflowId);
  return child && child.deviceId === deviceId ? child.deploymentId : workflowId;
}

/** What `list --device` needs of one listed execution (clients/commands/list.ts maps the SDK's). */
export interface ListedExecution extends Omit<ServerView, 'memo'> {
  type: string;
  /** (status) EdgeshipStatus: the deployment's status (deployModel) or the device's outcome (deviceRollout). */
  parent?: { workflowId: string; runId: string };
  root?: { workflowId: string; runId: string };
}

export interface DeviceRunChild {
  workflowId: string;
  runId: string;
  mode: DeviceRolloutMode;
  wave?: string;
  /** The device's outcome, or "running" (EdgeshipStatus). */
  outcome: string;
  step?: string;
  startTime: string;
  closeTime?: string;
}

/** One deployment that touched the device. */
export interface DeviceRun {
  deploymentId: string;
  /** The deployment's run id (a fleet child names it only when the server reports its root). */
  runId?: string;
  kind: 'plain' | 'fleet';
  model?: string;
  sha?: string;
  startTime: string;
  /** plain: the deployment's status; fleet: the device's outcome(s), in order (deploy → catch-up → revert). */
  outcome: string;
  /** plain runs only: the deployment's own status and Temporal status. */
  deploymentStatus?: string;
  executionStatus?: string;
  children: DeviceRunChild[];
}

const MODE_ORDER: Record<DeviceRolloutMode, number> = { deploy: 0, 'catch-up': 1, revert: 2 };

/**
 * Folds listed executions into one row per deployment (run): a fleet deployment's deviceRollout
 * children for the device (deploy, catch-up, revert) become one row, under the deployment named
 * by the server's root execution or, failing that, by the child's id; a plain deployModel run is
 * its own row (and, when a fleet parent also lists the device, it takes the parent's status).
 * Newest first, as listed.
 */
export function deviceRuns(listed: ListedExecution[], deviceId: string): DeviceRun[] {
  const runs: DeviceRun[] = [];
  const find = (id: string, runId: string | undefined): DeviceRun | undefined =>
    runs.find((r) => r.deploymentId === id && (runId === undefined || r.runId === undefined || r.runId === runId));
  for (const e of listed) {
    if (e.type === DEVICE_ROLLOUT_TYPE) {
      const root = e.root && e.root.workflowId !== e.workflowId ? { workflowId: e.root.workflowId, runId: e.root.runId || undefined } : undefined;
      const deploymentId = root?.workflowId ?? deploymentIdFromChild(e.workflowId, deviceId);
      const mode = childMode(e.workflowId, deviceId);
      const wave = e.parent && e.parent.workflowId.startsWith(`${deploymentId}.`) ? e.parent.workflowId.slice(deploymentId.length + 1) : undefined;
      const child: DeviceRunChild = { workflowId: e.workflowId, runId: e.runId, mode, ...(wave ? { wave } : {}), outcome: e.status ?? (e.executionStatus === 'RUNNING' ? 'running' : e.executionStatus.toLowerCase()), ...(e.stage ? { step: e.stage } : {}), startTime: e.startTime, ...(e.closeTime ? { closeTime: e.closeTime } : {}) };
      let run = find(deploymentId, root?.runId);
      if (!run) {
        run = { deploymentId, ...(root?.runId ? { runId: root.runId } : {}), kind: 'fleet', model: e.model, sha: e.sha, startTime: e.startTime, outcome: '', children: [] };
        runs.push(run);
      }
      run.kind = 'fleet';
      if (!run.runId && root?.runId) run.runId = root.runId;
      run.model ??= e.model;
      run.sha ??= e.sha;
      if (e.startTime < run.startTime) run.startTime = e.startTime;
      run.children.push(child);
    } else {
      let run = find(e.workflowId, e.runId);
      if (!run) {
        run = { deploymentId: e.workflowId, runId: e.runId, kind: 'plain', startTime: e.startTime, outcome: '', children: [] };
        runs.push(run);
      }
      run.runId ??= e.runId;
      run.model = e.model ?? run.model;
      run.sha = e.sha ?? run.sha;
      if (e.startTime < run.startTime) run.startTime = e.startTime;
      run.deploymentStatus = e.status;
      run.executionStatus = e.executionStatus;
    }
  }
  for (const r of runs) {
    r.children.sort((a, b) => MODE_ORDER[a.mode] - MODE_ORDER[b.mode] || a.startTime.localeCompare(b.startTime));
    r.outcome = r.children.length ? r.children.map((c) => (c.mode === 'deploy' ? c.outcome : `${c.mode} ${c.outcome}`)).join(' → ') : (r.deploymentStatus ?? '?');
  }
  return runs;
}

export function renderDeviceRuns(runs: DeviceRun[], deviceId: string): string {
  if (runs.length === 0) return `no deployment touched ${deviceId}`;
  return table(
    ['DEPLOYMENT', 'KIND', 'WAVE', 'DEVICE OUTCOME', 'DEPLOYMENT STATUS', 'MODEL', 'ARTIFACT', 'STARTED'],
    runs.map((r) => [
      r.deploymentId,
      r.kind,
      [...new Set(r.children.map((c) => c.wave).filter((w): w is string => !!w))].join(',') || '—',
      r.outcome,
      r.deploymentStatus ? `${r.deploymentStatus}${r.executionStatus ? ` (${r.executionStatus})` : ''}` : '—',
      r.model ?? '?',
      r.sha?.slice(0, 12) ?? '—',
      when(r.startTime),
    ]),
  ).join('\n');
}
