// bench:fleet's tables: plain text, columns padded, first column left-aligned.
import type { Dist, RolloutFigures } from './rollout';

export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)];
}

export const s = (ms: number): string => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s` : '—');
export const msf = (ms: number): string => (Number.isFinite(ms) ? `${Math.round(ms)} ms` : '—');
export const bytes = (b: number): string => (b >= 1024 * 1024 ? `${(b / 1024 / 1024).toFixed(2)} MiB` : `${(b / 1024).toFixed(1)} KiB`);
const d = (x: Dist | undefined): string => (x ? `${msf(x.median)} / ${msf(x.p95)}` : '—');

/** ' (reused)' when the store answered every GPU stage, ' (calibrate reused)' when some, '' when none. */
export function gpuReuse(r: RolloutFigures): string {
  const stages = r.gpuStages.filter((g) => g.stage !== 'resolve-devices');
  const reused = stages.filter((g) => g.reused).map((g) => g.stage);
  return reused.length === 0 ? '' : reused.length === stages.length ? ' (reused)' : ` (${reused.join(', ')} reused)`;
}

/** Per GPU stage: its wall time, `reused` when the store answered it. */
export function gpuStageList(r: RolloutFigures): string {
  return r.gpuStages.map((g) => `${g.stage} ${s(g.durationMs ?? Number.NaN)}${g.reused ? ' (reused)' : ''}`).join(', ');
}

/** One column per run: the summary rows. */
export function summaryTable(runs: RolloutFigures[]): string[] {
  const maxWaves = Math.max(0, ...runs.map((r) => r.waves.length));
  const rows: Array<[string, (r: RolloutFigures) => string]> = [
    ['status', (r) => r.status],
    ['whole run (history start → close)', (r) => s(r.wholeRunMs)],
    ['GPU stages (resolve … preflight)', (r) => `${s(r.gpuStagesMs)}${gpuReuse(r)}`],
    ['lease', (r) => s(r.phases.find((p) => p.name === 'lease')?.durationMs ?? Number.NaN)],
    ...Array.from({ length: maxWaves }, (_, i): [string, (r: RolloutFigures) => string] => [`wave ${i}`, (r) => (r.waves[i] ? `${r.waves[i].name} ×${r.waves[i].devices}: ${s(r.waves[i].durationMs)}` : '')]),
    ['release leases + final report', (r) => s(r.phases.find((p) => p.name.startsWith('release'))?.durationMs ?? Number.NaN)],
    ['close (memo, result)', (r) => s(r.phases.find((p) => p.name.startsWith('close'))?.durationMs ?? Number.NaN)],
    ['device phase (lease → close)', (r) => s(r.devicePhaseMs)],
    ['parent history: events', (r) => String(r.parentHistory.events)],
    ['parent history: JSON / proto bytes', (r) => `${bytes(r.parentHistory.jsonBytes)} / ${bytes(r.parentHistory.protoBytes)}`],
    ['wave histories: events', (r) => r.waves.map((w) => String(w.historyEvents)).join(', ')],
    ['largest deviceRollout history: events', (r) => `${r.largestDeviceHistory.events} (${bytes(r.largestDeviceHistory.jsonBytes)})`],
    ['deviceRollout runs read', (r) => String(r.deviceRuns)],
    ['per device: wall, median / p95', (r) => d(r.perDevice.wall)],
    ['per device: Σ activity run, med / p95', (r) => d(r.perDevice.activityRun)],
    ['per device: overhead = wall − Σ run, med / p95', (r) => d(r.perDevice.overhead)],
    ['  of which activity queueing, med / p95', (r) => d(r.perDevice.activityQueue)],
    ['  of which workflow tasks, med / p95', (r) => d(r.perDevice.workflowTask)],
    ['per device: child start+result delivery, med / p95', (r) => d(r.perDevice.childDispatch)],
    ['(device phase − Σ run / maxParallel) / devices', (r) => msf(r.overheadByFormulaMs)],
  ];
  return table(['', ...runs.map((r) => r.label)], rows.map(([name, f]) => [name, ...runs.map(f)]));
}

export function phaseTable(r: RolloutFigures): string[] {
  return table(['phase', 'at', 'wall', 'note'], r.phases.map((p) => [p.name, s(p.atMs), s(p.durationMs), p.note ?? '']));
}

export function activityTable(r: RolloutFigures): string[] {
  return table(['activity (per deviceRollout)', 'run median', 'queued median', 'queued p95'], Object.entries(r.perActivity).map(([type, a]) => [type, msf(a.runMedian), msf(a.queueMedian), msf(a.queueP95)]));
}
