// The deployment's observable state: the report being built, mirrored into search attributes
// (so the Temporal UI lists and filters runs), the memo and the workflow's current details.
import { setCurrentDetails, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { SA_DEVICES, SA_MODEL, SA_SHA, SA_STAGE, SA_STATUS } from '../common/searchAttributes';
import type { DeployRequest } from '../common/request';
import { isoAt, nowMs } from './clock';
import { cut, escapeText } from './escapeText';
import { deploymentTiming } from './timing';
import type { AwaitedDecision, DeploymentReport, DeploymentStatus, DeploymentStatusName, DeviceState, StageName, StageRecord } from './report';

export class Progress {
  readonly report: DeploymentReport;
  awaiting?: AwaitedDecision;
  private readonly startedMs = nowMs();
  private lastMemo = '';
  private byId = new Map<string, DeviceState>();

  constructor(request: DeployRequest) {
    const info = workflowInfo();
    this.report = {
      schema: 'edgeship.report/1',
      deploymentId: info.workflowId,
      runId: info.runId,
      modelName: request.modelName,
      target: request.target,
      status: 'running',
      stage: 'queued',
      startedAt: isoAt(this.startedMs),
      stages: [],
      devices: request.devices.map((deviceId) => ({ deviceId, phase: 'resolved' })),
      compensations: [],
      ignoredMessages: [],
    };
    upsertSearchAttributes([
      { key: SA_MODEL, value: request.modelName },
      // A fleet's ids would outgrow a search attribute's size limit: its device children carry one each.
      ...(request.rollout ? [] : [{ key: SA_DEVICES, value: [...request.devices] }]),
      { key: SA_STAGE, value: 'queued' },
      { key: SA_STATUS, value: 'running' },
    ]);
    this.publish();
  }

  device(deviceId: string): DeviceState {
    // Indexed: a fleet rollout looks up thousands of devices after every wave.
    if (this.byId.size !== this.report.devices.length) this.byId = new Map(this.report.devices.map((d) => [d.deviceId, d]));
    const found = this.byId.get(deviceId);
    if (!found) throw new Error(`device ${deviceId} is not part of this deployment`);
    return found;
  }

  setStage(stage: StageName): void {
    if (this.report.stage === stage) return;
    this.report.stage = stage;
    upsertSearchAttributes([{ key: SA_STAGE, value: stage }]);
    this.publish();
  }

  setStatus(status: DeploymentStatusName): void {
    if (this.report.status === status) return;
    this.report.status = status;
    upsertSearchAttributes([{ key: SA_STATUS, value: status }]);
    this.publish();
  }

  setArtifact(artifact: NonNullable<DeploymentReport['artifact']>): void {
    this.report.artifact = artifact;
    upsertSearchAttributes([{ key: SA_SHA, value: artifact.sha256 }]);
    this.publish();
  }

  /** Starts a stage record; the returned function closes it. */
  begin(stage: StageName, deviceId?: string): (outcome: 'ok' | 'failed', extra?: Pick<StageRecord, 'activityMs' | 'reused' | 'figures'>) => void {
    const started = nowMs();
    const record: StageRecord = { stage, ...(deviceId ? { deviceId } : {}), outcome: 'running', startedAt: isoAt(started) };
    this.report.stages.push(record);
    this.setStage(stage);
    this.publish();
    return (outcome, extra = {}) => {
      Object.assign(record, extra, { outcome, durationMs: nowMs() - started });
      this.publish();
    };
  }

  finish(): DeploymentReport {
    const finished = nowMs();
    this.report.finishedAt = isoAt(finished);
    // A stage whose activity threw was never closed by its caller: it ended with the failure.
    for (const s of this.report.stages) {
      if (s.outcome === 'running') Object.assign(s, { outcome: 'failed', durationMs: finished - Date.parse(s.startedAt) });
    }
    this.awaiting = undefined;
    this.report.timing = deploymentTiming(finished - this.startedMs, this.report.stages, this.report.compensations, this.report.approval?.waitedMs ?? 0);
    this.setStage('done');
    this.publish();
    return this.report;
  }

  snapshot(): DeploymentStatus {
    return { ...this.report, finished: this.report.finishedAt !== undefined, ...(this.awaiting ? { awaiting: this.awaiting } : {}) };
  }

  /**
   * Memo and current details carry what a person scanning the run list wants without opening
   * it: small values that change once per stage (per-device progress lives in the current
   * details and the status query; each memo change is a history event).
   */
  publish(): void {
    const r = this.report;
    const memo = {
      modelName: r.modelName,
      target: r.target,
      status: r.status,
      stage: r.stage,
      artifactSha256: r.artifact?.sha256 ?? null,
      sourceSha256: r.sourceSha256 ?? null,
      awaiting: this.awaiting ? `approval until ${this.awaiting.deadline}` : null,
      approval: r.approval ? `${r.approval.decision}${r.approval.by ? ` by ${r.approval.by}` : ''} at ${r.approval.at}` : null,
      failure: r.failure ? `${r.failure.stage}${r.failure.deviceId ? ` on ${r.failure.deviceId}` : ''}: ${r.failure.type}: ${r.failure.message}` : null,
    };
    // Every upsert is a command in the history: only send the memo when it changed.
    const json = JSON.stringify(memo);
    if (json !== this.lastMemo) {
      this.lastMemo = json;
      upsertMemo({ edgeship: memo });
    }
    setCurrentDetails(this.details());
  }

  private details(): string {
    // The UI renders this as Markdown/HTML: everything that is not our own fixed text is escaped
    // (a reason or comment typed by a person, ids, the copy-paste commands).
    const r = this.report;
    const t = escapeText;
    const lines = [`**${r.status}** · stage \`${r.stage}\` · ${t(r.modelName)} → ${r.target}`];
    if (r.artifact) lines.push(`artifact \`${r.artifact.sha256.slice(0, 16)}\` (${r.artifact.format}, ${r.artifact.sizeBytes} bytes)`);
    if (this.awaiting) {
      // A fenced block shows the commands literally (`--by <you>` would otherwise vanish as HTML).
      lines.push(`awaiting approval until ${this.awaiting.deadline}:`, '```text', ...this.awaiting.how, '```');
    }
    if (r.rollout) {
      for (const w of r.rollout.waves) {
        const c = w.counts;
        lines.push(`- ${t(w.name)} (${w.devices.length}): ${w.state}${c.total ? ` · ${c.validated} validated · ${c.failed} failed · ${c.skipped} offline${c.reverted ? ` · ${c.reverted} reverted` : ''}` : ''}`);
      }
      if (r.rollout.halted) lines.push(`**halted** in ${t(r.rollout.halted.wave)}: ${t(r.rollout.halted.reason)}`);
      const pause = r.rollout.pauses?.at(-1);
      if (pause && pause.resumedAt === undefined) lines.push(`**paused** by ${t(pause.by)} since ${pause.at}${pause.reason ? `: ${t(pause.reason)}` : ''} — no new device starts; resume with \`edgeship resume ${t(r.deploymentId)}\``);
    }
    if (!r.rollout || r.devices.length <= 20) for (const d of r.devices) lines.push(`- ${t(d.deviceId)}: ${d.phase}${d.servedSha256Prefix ? ` (serves \`${d.servedSha256Prefix}\`)` : ''}${d.phase === 'queued' && d.lease ? ` (position ${d.lease.position}${d.lease.holder ? ` behind ${t(d.lease.holder)}` : ''})` : ''}${d.error ? ` — failed at ${d.error.stage}: ${t(d.error.type)}: ${t(cut(d.error.message, 200))}` : ''}`);
    if (r.approval?.decision === 'rejected') lines.push(`rejected by ${t(r.approval.by ?? '?')}: ${t(r.approval.reason ?? '')}`);
    else if (r.approval?.comment) lines.push(`${r.approval.decision} by ${t(r.approval.by ?? '?')}: ${t(r.approval.comment)}`);
    if (r.failure) lines.push(`failure: ${r.failure.stage}: ${t(r.failure.type)}: ${t(r.failure.message)}`);
    // A list needs a blank line before it, or the UI's Markdown shows its "- " literally (once the
    // fenced approval block is gone), and one after it, or the next line joins the last item.
    const isItem = (line: string): boolean => line.startsWith('- ');
    return lines.map((line, i) => (i > 0 && isItem(line) !== isItem(lines[i - 1]) ? `\n${line}` : line)).join('\n');
  }
}
