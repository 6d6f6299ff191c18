// What each simulated device serves after the deployment, read from its /healthz (not from the
// report). The decision and the report themselves print as `edgeship status` shows them; a
// fleet rollout (--rollout) adds the canary comparison and the counts per wave.
import type { SimulatedFleet } from '../../sim/fleet';
import type { DeploymentReport, DeploymentStatus } from '../../workflows/report';
import { awaitingAfterCanary, canaryComparisonLines, haltLine, table } from '../../clients/fleetFormat';

interface Healthz {
  ok?: boolean;
  hef_sha256?: string;
  reason?: string;
}

/** Asks every device which model it serves now and names it: the candidate or the baseline. */
export async function servedModels(fleet: SimulatedFleet, report: DeploymentReport, baselineSha256: string): Promise<string> {
  const lines = ['served now (from each device\'s /healthz):'];
  for (const d of fleet.devices) {
    let body: Healthz;
    try {
      const res = await fetch(d.spec.healthUrl, { signal: AbortSignal.timeout(5000) });
      body = (await res.json()) as Healthz;
    } catch (err) {
      lines.push(`  ${d.id}: unreachable (${(err as Error).message})`);
      continue;
    }
    const sha = body.hef_sha256 ?? '';
    const name = report.artifact && report.artifact.sha256.startsWith(sha) && sha ? 'the new model' : baselineSha256.startsWith(sha) && sha ? 'the backed-up baseline' : 'another model';
    lines.push(`  ${d.id}: ${body.ok ? `${sha} — ${name}` : `unhealthy: ${body.reason ?? 'no reason given'}`}`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// --rollout: the fleet rollout's story, from the status query and the final report.

/** While the run waits after the canary: the canary's figures next to devices on the old model. */
export function canaryDecisionLines(status: DeploymentStatus): string[] {
  const c = status.decisionFigures?.canaryComparison;
  const gate = status.awaiting?.gate;
  if (!c || !awaitingAfterCanary(status)) return [`the rollout waits for approval${gate ? ` before ${gate}` : ''}.`];
  const canary = c.canary.map((d) => d.deviceId).join(', ') || '—';
  const baseline = c.baseline.map((d) => d.deviceId).join(', ') || '—';
  return [
    `canary ${canary} validated on the new model; the rollout waits for approval${gate ? ` before ${gate}` : ''}.`,
    `canary vs old model (status query → decisionFigures.canaryComparison; baseline: ${baseline}, measured now on what they serve):`,
    ...canaryComparisonLines(c).map((l) => `  ${l}`),
  ];
}

/** Counts per wave, from report.rollout.waves: one row per wave (canary, waves, revert, catch-up). */
export function waveSummaryLines(report: DeploymentReport): string[] {
  const r = report.rollout;
  if (!r) return [];
  const list = (ids: string[]): string => (ids.length > 4 ? `${ids.slice(0, 3).join(', ')} … (${ids.length})` : ids.join(', '));
  const rows = r.waves.map((w) => {
    const c = w.counts;
    const parts = [`${c.validated} validated`, `${c.failed} failed`];
    if (c.skipped) parts.push(`${c.skipped} skipped-offline`);
    if (c.reverted) parts.push(`${c.reverted} reverted`);
    if (c.cancelled) parts.push(`${c.cancelled} cancelled`);
    if (c.pending) parts.push(`${c.pending} not run`);
    return [w.name, w.mode, w.state, `${parts.join(' · ')} (of ${c.total})`, list(w.devices), w.approval ? `${w.approval.decision}${w.approval.by ? ` by ${w.approval.by}` : ''}` : ''];
  });
  const out = ['rollout, wave by wave (report.rollout.waves):', ...table(['WAVE', 'MODE', 'STATE', 'DEVICES', 'WHICH', 'APPROVAL'], rows).map((l) => `  ${l}`)];
  out.push(`  tally: ${r.tally.done} done, ${r.tally.failed} failed, ${r.tally.offline} offline`);
  if (r.halted) {
    out.push(`  ${haltLine(r.halted, r.plan.onHalt)}`);
    for (const d of r.devices.filter((x) => x.outcome === 'failed' || x.outcome === 'failed-unrestored')) {
      const restore = d.restore ? `; its own undo: ${d.restore.outcome}${d.restore.restoredSha256 ? ` → ${d.restore.restoredSha256.slice(0, 12)}` : ''}` : '';
      out.push(`  ${d.deviceId} (${d.wave}): ${d.outcome} at ${d.failedStep ?? '?'}${restore}`);
      if (d.error) out.push(`    ${d.error.length > 240 ? `${d.error.slice(0, 239)}…` : d.error}`);
    }
    const notReached = r.devices.filter((x) => x.outcome === 'not-reached').map((x) => x.deviceId);
    if (notReached.length) out.push(`  not reached (never touched): ${list(notReached)}`);
  }
  return out;
}
