// Who sent each approval decision, as Temporal recorded it. The `by` in a decision is a claim
// typed by the sender; the identity on the history event is the client that sent it (the
// `temporal` CLI, the Web UI, an SDK client — e.g. "temporal-cli:alice@laptop"). Workflow code
// cannot see that identity, so it is read here from the run's history.
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { APPROVE_SIGNAL, DECIDE_UPDATE, REJECT_SIGNAL } from '../workflows/messages';

export interface DecisionSender {
  via: 'signal' | 'update';
  name: string;
  /** The decision's own `by` (a claim). */
  by?: string;
  /** The sending client's identity as the Temporal server recorded it. */
  identity: string;
  at?: string;
}

const EventType = temporal.api.enums.v1.EventType;

function byOf(payloads: temporal.api.common.v1.IPayloads | null | undefined): string | undefined {
  const first = payloads?.payloads?.[0];
  if (!first) return undefined;
  try {
    const value = defaultPayloadConverter.fromPayload<{ by?: unknown }>(first);
    return typeof value?.by === 'string' ? value.by : undefined;
  } catch {
    return undefined;
  }
}

const timeOf = (t: temporal.api.history.v1.IHistoryEvent['eventTime']): string | undefined =>
  t?.seconds !== undefined && t.seconds !== null ? new Date(Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6)).toISOString() : undefined;

export async function decisionSenders(client: Client, workflowId: string, runId?: string): Promise<DecisionSender[]> {
  return decisionSendersFromHistory((await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? []);
}

export function decisionSendersFromHistory(events: readonly temporal.api.history.v1.IHistoryEvent[]): DecisionSender[] {
  const out: DecisionSender[] = [];
  for (const e of events) {
    if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) {
      const a = e.workflowExecutionSignaledEventAttributes;
      if (a?.signalName === APPROVE_SIGNAL || a?.signalName === REJECT_SIGNAL) {
        out.push({ via: 'signal', name: a.signalName, by: byOf(a.input), identity: a.identity ?? '', at: timeOf(e.eventTime) });
      }
    } else if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) {
      const req = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest;
      if (req?.input?.name === DECIDE_UPDATE) {
        out.push({ via: 'update', name: DECIDE_UPDATE, by: byOf(req.input.args), identity: req.meta?.identity ?? '', at: timeOf(e.eventTime) });
      }
    }
  }
  return out;
}
