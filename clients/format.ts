// Human-readable rendering of deployment status and reports for the terminal.
import type { WaveStatus } from '../common/rollout';
import type { ReleaseCheck } from '../common/contracts';
import type { DeploymentReport, DeploymentStatus, DeviceState, ReleaseSummary, StageRecord } from '../workflows/report';
import { canaryComparisonLines, renderRollout } from './fleetFormat';
import { describeGate, gateNamesAt } from '../common/gates';
import type { ValidationGates } from '../common/contracts';

const ms = (n: number | undefined): string => (n === undefined ? '—' : n >= 10_000 ? `${(n / 1000).toFixed(1)} s` : n < 10 ? `${n.toFixed(2)} ms` : `${Math.round(n)} ms`);
const num = (n: number | undefined, digits = 4): string => (n === undefined ? '—' : n.toFixed(digits));
const bytes = (n: number | undefined): string => (n === undefined ? '—' : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`);

export function stageLine(s: StageRecord): string {
  const where = s.deviceId ? ` ${s.deviceId}` : '';
  const mark = s.outcome === 'ok' ? '✔' : s.outcome === 'failed' ? '✘' : '…';
  // A reused result did no work this time: its stage time is the lookup (and any wait), not a run.
  const activity = s.reused ? ' (reused: done by an earlier attempt or run)' : s.activityMs !== undefined ? ` (activity ${ms(s.activityMs)})` : '';
  return `${mark} ${s.stage}${where}  ${ms(s.durationMs)}${activity}${figuresSummary(s)}`;
}

function figuresSummary(s: StageRecord): string {
  const f = (s.figures ?? {}) as Record<string, unknown>;
  const parts: string[] = [];
  const parity = f.parity as { minCosine?: number; maxAbsDiff?: number } | undefined;
  if (parity?.minCosine !== undefined) parts.push(`parity min cos ${num(parity.minCosine, 6)}, max |Δ| ${parity.maxAbsDiff?.toExponential(2)}`);
  const sim = f.similarity as { minCosine?: number } | undefined;
  if (sim?.minCosine !== undefined) parts.push(`INT8 min cos ${num(sim.minCosine)}`);
  const sizes = f.sizes as { fp32Bytes?: number; artifactBytes?: number } | undefined;
  if (sizes) parts.push(`${bytes(sizes.fp32Bytes)} → ${bytes(sizes.artifactBytes)}`);
  if (typeof f.samples === 'number') parts.push(`${f.samples} windows (${String(f.source)})`);
  if (typeof f.p95Ms === 'number') parts.push(`p95 ${ms(f.p95Ms)}, ${Math.round(f.rps as number)} req/s`);
  if (typeof f.decision === 'string') parts.push(`${f.decision}${f.by ? ` by ${String(f.by)}` : ''}`);
  const backup = f.backup as { sha256?: string } | null | undefined;
  if (s.stage === 'swap' && f.backup !== undefined) parts.push(backup?.sha256 ? `backup ${backup.sha256.slice(0, 12)}` : 'first install');
  return parts.length ? ` · ${parts.join(' · ')}` : '';
}

/** The release's signing and the request's allowDowngrade, as the report header shows them. */
export function releaseLines(r: ReleaseSummary | undefined): string[] {
  if (!r) return [];
  const signing = r.signed ? `release: signed by ${r.keyId}, sequence ${r.sequence} (manifest ${r.manifestSha256.slice(0, 12)})` : `release: UNSIGNED — ${r.reason}`;
  return [signing, ...(r.allowDowngrade ? ['allowDowngrade: yes (devices may go to an older release than they serve)'] : [])];
}

function releaseCheckText(c: ReleaseCheck): string {
  if (!c.signed) return c.reason === 'unsigned' ? 'installed unsigned (device does not require signatures)' : 'signatures not checked (device trusts no key)';
  return `verified ${c.keyId} seq ${c.sequence}${c.downgradeFrom !== undefined ? ` (DOWNGRADE from ${c.downgradeFrom}, allowed by the request)` : ''}`;
}

export function deviceLine(d: DeviceState): string {
  const parts = [`${d.deviceId}: ${d.phase}`];
  if (d.release) parts.push(releaseCheckText(d.release));
  if (d.phase === 'queued' && d.lease) parts.push(`waiting for the device's lease: position ${d.lease.position}${d.lease.holder ? ` behind ${d.lease.holder}` : ''} since ${d.lease.requestedAt}`);
  if (d.restore && d.restore.outcome !== 'restored') parts.push(`restore: ${d.restore.outcome}${d.restore.reason ? ` (${d.restore.reason})` : ''}`);
  if (d.servedSha256Prefix !== undefined) parts.push(d.servedSha256Prefix ? `serves ${d.servedSha256Prefix}` : 'serves nothing');
  if (d.backup !== undefined) parts.push(d.backup ? `backup ${d.backup.sha256.slice(0, 12)}` : 'no backup (first install)');
  if (d.validation) parts.push(`validation ${d.validation.passed ? 'passed' : `FAILED: ${d.validation.failures.join('; ')}`} (p95 ${ms(d.validation.latencyMs.p95)}, ${Math.round(d.validation.throughput.rps)} req/s)`);
  if (d.error && !d.validation) parts.push(`${d.error.type}: ${d.error.message}`);
  return parts.join(' · ');
}

/**
 * all: a fleet rollout lists every device (else, above 50, only those that need a look); live: the
 * running waves' own status (clients/fleetState.ts), shown in place of the reported counts.
 */
export interface RenderOptions {
  all?: boolean;
  live?: Record<string, WaveStatus>;
}

/** The device gates in the table's order, each with its direction: `p95LatencyMs ≤ 50 ms · …`. */
function deviceGateList(gates: ValidationGates): string {
  const set = gates as Partial<Record<string, number>>;
  return gateNamesAt('device').flatMap((name) => (set[name] === undefined ? [] : [`${name} ${describeGate(name, set[name])}`])).join(' · ');
}

export function renderStatus(s: DeploymentStatus | DeploymentReport, opts: RenderOptions = {}): string {
  const lines: string[] = [];
  lines.push(`${s.deploymentId}  ${s.status.toUpperCase()}  (stage ${s.stage})`);
  lines.push(`  model ${s.modelName} → ${s.target}${s.artifact ? `, artifact ${s.artifact.sha256.slice(0, 16)} (${s.artifact.format}, ${bytes(s.artifact.sizeBytes)})` : ''}`);
  if (s.sourceSha256) lines.push(`  source sha256 ${s.sourceSha256}`);
  lines.push(...releaseLines(s.release).map((l) => `  ${l}`));
  const awaiting = (s as DeploymentStatus).awaiting;
  if (awaiting) {
    lines.push('', `  AWAITING APPROVAL until ${awaiting.deadline}${awaiting.approvers ? ` (approvers: ${awaiting.approvers.join(', ')})` : ''}`);
    if (s.release?.allowDowngrade) lines.push('    ⚠ allowDowngrade: approving lets devices install this release even where it is older than what they serve');
    const f = s.decisionFigures;
    if (f) {
      if (f.parity) lines.push(`    parity (ONNX vs PyTorch): min cosine ${num(f.parity.minCosine, 6)} (gate ${f.parity.gate}), max |Δ| ${f.parity.maxAbsDiff.toExponential(2)}`);
      if (f.int8Similarity) lines.push(`    INT8 vs FP32: min cosine ${num(f.int8Similarity.minCosine)}, mean ${num(f.int8Similarity.meanCosine)} over ${f.int8Similarity.windows} windows (gate ${f.int8Similarity.gate})`);
      if (f.sizes) lines.push(`    size: ${bytes(f.sizes.fp32Bytes)} FP32 → ${bytes(f.sizes.artifactBytes)} ${f.artifact.target}`);
      if (f.gpuLatencyMs) lines.push(`    GPU-server CPU latency: ${ms(f.gpuLatencyMs.fp32)} FP32 → ${ms(f.gpuLatencyMs.artifact)}`);
      if (f.quantization) lines.push(`    INT8 ${f.quantization.format} on ${f.quantization.cpu}${f.quantization.vnni ? ' (VNNI)' : ' (no VNNI)'}: ×${f.quantization.speedup.toFixed(2)} vs FP32${f.quantization.excludedNodes.length ? `, kept in FP32: ${f.quantization.excludedNodes.join(', ')}` : ''}`);
      if (f.preflight) lines.push(`    pre-flight: ${f.preflight.map((c) => `${c.passed ? '✔' : '✘'} ${c.name} ${typeof c.value === 'number' ? c.value.toPrecision(4) : String(c.value)} (gate ${typeof c.gate === 'number' && c.name !== 'allFinite' ? describeGate(c.name, c.gate) : String(c.gate)})`).join(' · ')}`);
      if (f.deviceGates) lines.push(`    device gates after the swap: ${deviceGateList(f.deviceGates)}`);
      for (const c of f.servedComparison ?? []) {
        const on = c.deviceIds.join(', ');
        if (c.found === 'missing') lines.push(`    vs served ${c.servedSha256.slice(0, 12)} (${on}): not compared — ${c.reason ?? 'not available'}`);
        else lines.push(`    vs served ${c.servedSha256.slice(0, 12)} (${on}): cosine min ${num(c.cosine?.min)} / mean ${num(c.cosine?.mean)}, norm ratio ${num(c.normRatio?.min, 3)}–${num(c.normRatio?.max, 3)} over ${c.windows} windows${c.task ? `, activity accuracy ${(c.task.candidateAccuracy * 100).toFixed(1)} % vs ${(c.task.servedAccuracy * 100).toFixed(1)} %` : ''}${c.passed ? '' : ' ✘ drift gate'}`);
      }
      if (f.canaryComparison) lines.push('    canary vs baseline (old model):', ...canaryComparisonLines(f.canaryComparison).map((l) => `      ${l}`));
      for (const w of f.warnings ?? []) lines.push(`    ⚠ ${w}`);
      lines.push(`    staged on: ${f.stagedDevices.join(', ') || '—'}`);
    }
    for (const how of awaiting.how) lines.push(`    $ ${how}`);
  }
  if (s.stages.length) {
    lines.push('', '  stages:');
    for (const st of s.stages) lines.push(`    ${stageLine(st)}`);
  }
  if (s.rollout) {
    // A fleet: the waves and one row per device (the whole story is in each device's workflow).
    const shown = awaiting && s.decisionFigures?.canaryComparison ? { ...s.rollout, canaryComparison: undefined } : s.rollout;
    lines.push('', ...renderRollout(shown, opts).map((l) => (l ? `  ${l}` : l)));
  } else {
    lines.push('', '  devices:');
    for (const d of s.devices) lines.push(`    ${deviceLine(d)}`);
  }
  if (s.approval) {
    const a = s.approval;
    lines.push('', `  approval: ${a.decision}${a.by ? ` by ${a.by}` : ''} at ${a.at}${a.via ? ` (${a.via})` : ''}${a.comment ? ` — "${a.comment}"` : ''}${a.reason ? ` — reason: ${a.reason}` : ''}`);
  }
  if (s.compensations.length) {
    lines.push('', '  compensations (in the order they ran):');
    for (const c of s.compensations) {
      const outcome = c.action === 'restore' && c.result && 'outcome' in c.result ? ` [${c.result.outcome}]` : '';
      const what = c.action === 'restore' ? `restore ${c.deviceId} → ${c.backupSha256 ? `backup ${c.backupSha256.slice(0, 12)}` : 'journaled backup'}${outcome}` : `discard staged on ${c.deviceId}`;
      lines.push(`    ${c.ok ? '✔' : '✘'} ${what}  ${ms(c.durationMs)}${c.error ? `  ${c.error.type}: ${c.error.message}` : ''}`);
    }
  }
  if (s.failure) lines.push('', `  failure at ${s.failure.stage}${s.failure.deviceId ? ` on ${s.failure.deviceId}` : ''}: ${s.failure.type}: ${s.failure.message}`);
  for (const m of s.ignoredMessages) lines.push(`  ignored ${m.name}${m.by ? ` from ${m.by}` : ''} at ${m.at}: ${m.reason}`);
  if (s.timing) {
    const t = s.timing;
    lines.push('', `  wall ${ms(t.wallMs)} · approval wait ${ms(t.approvalWaitMs)} · device leases ${ms(t.leaseMs)} · in activities ${ms(t.inActivitiesMs)} (of it measured as work ${ms(t.selfMeasuredMs)}) · orchestration overhead ${ms(t.overheadMs)}`);
  }
  return lines.join('\n');
}
