// What each simulated device serves after the deployment, read from its /healthz (not from the
// report). The decision and the report themselves print as `edgeship status` shows them.
import type { SimulatedFleet } from '../sim/fleet';
import type { DeploymentReport } from '../../workflows/report';

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
