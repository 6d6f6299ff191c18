// Whether a decision may be taken now. Pure, so the update validator (which must be synchronous
// and must not change state) and the signal handlers apply exactly the same rules.
import type { DecisionInput } from './messages';

export interface ApprovalGate {
  awaiting: boolean;
  decided: boolean;
  stage: string;
  approvers?: readonly string[];
}

/** Why this decision cannot be taken, or undefined when it can. */
export function refuseDecision(gate: ApprovalGate, input: unknown): string | undefined {
  const shape = checkShape(input);
  if (shape) return shape;
  const decision = input as DecisionInput;
  if (gate.decided) return 'the deployment has already been decided';
  if (!gate.awaiting) return `the deployment is not awaiting approval (stage: ${gate.stage})`;
  if (gate.approvers && !gate.approvers.includes(decision.by.trim())) {
    return `${decision.by} is not an allowed approver (allowed: ${gate.approvers.join(', ')})`;
  }
  return undefined;
}

function checkShape(input: unknown): string | undefined {
  if (!input || typeof input !== 'object') return 'expected an object such as {"by": "alice"}';
  const { decision, by, comment, reason } = input as Record<string, unknown>;
  if (decision !== 'approve' && decision !== 'reject') return 'decision must be "approve" or "reject"';
  if (typeof by !== 'string' || by.trim() === '') return '"by" must name the person deciding';
  if (comment !== undefined && typeof comment !== 'string') return '"comment" must be a string';
  if (decision === 'reject' && (typeof reason !== 'string' || reason.trim() === '')) return 'a rejection needs a "reason"';
  return undefined;
}
