// What the demo prints: the decision a person is asked to make, the final report, and what each
// device serves afterwards — read from the devices' /healthz, not from the report.
import type { SimulatedFleet } from '../sim/fleet';
import type { DeploymentReport, DeploymentStatus } from '../../workflows/report';

const fmtMs = (ms: number | undefined): string => (ms === undefined ? '—' : ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

export function describeDecision(status: DeploymentStatus): string {
  const f = status.decisionFigures;
  const lines = ['', `── waiting for approval of ${status.deploymentId} ──`];
  if (f) {
    lines.push(`artifact   ${f.artifact.sha256.slice(0, 16)} ${f.artifact.format} for ${f.artifact.target}, ${f.artifact.sizeBytes} bytes`);
    if (f.parity) lines.push(`parity     ONNX vs PyTorch min cosine ${f.parity.minCosine.toFixed(6)} (gate ${f.parity.gate}), max |diff| ${f.parity.maxAbsDiff.toExponential(2)}`);
    if (f.int8Similarity) lines.push(`INT8       vs FP32 cosine min ${f.int8Similarity.minCosine.toFixed(4)} mean ${f.int8Similarity.meanCosine.toFixed(4)} on ${f.int8Similarity.windows} held-out windows (gate ${f.int8Similarity.gate})`);
    if (f.sizes) lines.push(`sizes      FP32 ${f.sizes.fp32Bytes} bytes → artifact ${f.sizes.artifactBytes} bytes`);
    if (f.gpuLatencyMs) lines.push(`latency    on the GPU server's CPU: FP32 ${f.gpuLatencyMs.fp32.toFixed(3)} ms, artifact ${f.gpuLatencyMs.artifact.toFixed(3)} ms`);
    lines.push(`staged on  ${f.stagedDevices.join(', ')} (nothing live changed yet)`);
  }
  if (status.awaiting) {
    lines.push(`deadline   ${status.awaiting.deadline}`, 'approve with any of:');
    for (const how of status.awaiting.how) lines.push(`  ${how}`);
  }
  return lines.join('\n');
}

export function describeReport(r: DeploymentReport): string {
  const lines = ['', `── ${r.deploymentId}: ${r.status.toUpperCase()} ──`];
  if (r.failure) lines.push(`failed at ${r.failure.stage}${r.failure.deviceId ? ` on ${r.failure.deviceId}` : ''}: ${r.failure.type}: ${r.failure.message}`);
  if (r.approval) lines.push(`approval: ${r.approval.decision}${r.approval.by ? ` by ${r.approval.by}` : ''} at ${r.approval.at}${r.approval.waitedMs !== undefined ? ` (waited ${fmtMs(r.approval.waitedMs)})` : ''}`);
  lines.push('stages (workflow time · activity run time):');
  for (const s of r.stages) {
    lines.push(`  ${s.stage.padEnd(16)}${(s.deviceId ?? '').padEnd(12)}${s.outcome.padEnd(8)}${fmtMs(s.durationMs).padStart(9)} · ${fmtMs(s.activityMs).padStart(9)}${s.reused ? ' (reused)' : ''}`);
  }
  for (const d of r.devices) {
    const v = d.validation;
    const figures = v ? ` · p50/p95/p99 ${v.latencyMs.p50.toFixed(1)}/${v.latencyMs.p95.toFixed(1)}/${v.latencyMs.p99.toFixed(1)} ms · ${v.throughput.rps.toFixed(0)} req/s @${v.throughput.concurrency} · ref cosine ≥ ${v.outputs.minReferenceCosine.toFixed(4)}${v.failures.length ? ` · FAILED: ${v.failures.join('; ')}` : ''}` : '';
    lines.push(`device ${d.deviceId}: ${d.phase}${d.backup ? ` · backup ${d.backup.sha256.slice(0, 16)}` : ''}${figures}`);
  }
  for (const c of r.compensations) {
    lines.push(`compensation ${c.action} on ${c.deviceId}: ${c.ok ? 'ok' : `FAILED ${c.error?.type}: ${c.error?.message}`} in ${fmtMs(c.durationMs)}`);
  }
  if (r.timing) {
    lines.push(`timing: wall ${fmtMs(r.timing.wallMs)}, approval wait ${fmtMs(r.timing.approvalWaitMs)}, activities ${fmtMs(r.timing.activityMs)}, orchestration overhead ${fmtMs(r.timing.overheadMs)}`);
  }
  return lines.join('\n');
}

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
