// The approval of a deployModel run: the approve/reject signals and the decide update (refused by
// the same refuseDecision the validator uses), and the wait for a decision with its timeout. A
// fleet rollout asks again before later waves (`gate` names the wave).
import { condition, log, setHandler } from '@temporalio/workflow';
import { refuseDecision } from '../approval';
import { ErrorType, deploymentFailure } from '../failures';
import { APPROVE_SIGNAL, approveSignal, decideUpdate, rejectSignal, type DecisionAccepted, type DecisionInput } from '../messages';
import { isoAt, nowMs } from '../clock';
import type { ApprovalRecord } from '../report';
import type { DeployContext } from './context';

export class ApprovalStage {
  private decision: ApprovalRecord | undefined;

  constructor(private readonly ctx: DeployContext) {}

  /** Installs the approve and reject signals and the decide update; call before the first await. */
  installHandlers(): void {
    setHandler(approveSignal, (input) => this.onSignal('approve', input));
    setHandler(rejectSignal, (input) => this.onSignal('reject', input));
    setHandler(
      decideUpdate,
      (input) => {
        // The validator ran in this same activation; checking again costs nothing.
        const refusal = refuseDecision(this.gate(), input);
        if (refusal) throw deploymentFailure(ErrorType.InvalidRequest, refusal);
        return this.record(input, 'update');
      },
      {
        validator: (input) => {
          const refusal = refuseDecision(this.gate(), input);
          if (refusal) throw new Error(refusal);
        },
      },
    );
  }

  private gate() {
    const { progress, request } = this.ctx;
    return { awaiting: progress.awaiting !== undefined, decided: this.decision !== undefined, stage: progress.report.stage, approvers: request.approval.approvers };
  }

  private record(input: DecisionInput, via: 'signal' | 'update'): DecisionAccepted {
    const at = isoAt(nowMs());
    const by = input.by.trim();
    this.decision = input.decision === 'approve'
      ? { decision: 'approved', by, at, via, ...(input.comment ? { comment: input.comment } : {}) }
      : { decision: 'rejected', by, at, via, reason: input.reason };
    return { decision: this.decision.decision as DecisionAccepted['decision'], by, at };
  }

  private onSignal(name: 'approve' | 'reject', payload: unknown): void {
    const { progress } = this.ctx;
    const input = { ...(payload && typeof payload === 'object' ? payload : {}), decision: name } as DecisionInput;
    // The signal's name is the decision; a payload that says otherwise is a mistake, not a vote.
    const claimed = payload && typeof payload === 'object' ? (payload as { decision?: unknown }).decision : undefined;
    const contradiction = claimed !== undefined && claimed !== name ? `the ${name} signal carries "decision": ${JSON.stringify(claimed)}; send the ${name === 'approve' ? 'reject' : 'approve'} signal to ${name === 'approve' ? 'reject' : 'approve'}` : undefined;
    const refusal = contradiction ?? refuseDecision(this.gate(), input);
    if (refusal) {
      // A signal cannot be refused to its sender; keep the refusal visible in the status instead.
      const by = typeof input.by === 'string' ? input.by : undefined;
      progress.report.ignoredMessages.push({ name, ...(by ? { by } : {}), at: isoAt(nowMs()), reason: refusal });
      log.warn('ignored approval signal', { signal: name, by, reason: refusal });
      progress.publish();
      return;
    }
    this.record(input, 'signal');
  }

  /** Resolves to true when approved (or not required), false when rejected or timed out. */
  async awaitDecision(gate?: string): Promise<boolean> {
    const { request, progress, run } = this.ctx;
    const report = progress.report;
    const deploymentId = run.deploymentId;
    if (!request.approval.required) {
      report.approval = { decision: 'not-required', at: isoAt(nowMs()) };
      return true;
    }
    this.decision = undefined;
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
    // The timer's summary is what the run's page shows first (its timeline): how to approve, not
    // only in the User Metadata tab, and short enough to read without scrolling sideways.
    const summary = `to approve: edgeship approve ${deploymentId} --by <you>`;
    const decided = await condition(() => this.decision !== undefined, timeoutMs, { summary });
    progress.awaiting = undefined;
    const waitedMs = nowMs() - since;
    if (!decided) this.decision = { decision: 'timed-out', at: isoAt(nowMs()) };
    report.approval = { ...(this.decision as ApprovalRecord), waitedMs };
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
}
