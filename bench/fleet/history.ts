// What bench:fleet reads from the histories of a real fleet rollout: per history its event count
// and size (JSON as `temporal workflow show --output json` writes it, and the encoded protobuf),
// the children it started (workflow id + run id, so each child's own run is read, not a later
// run of the same id), and per deviceRollout run where its wall time went: in activities
// (scheduled → started: waiting for a worker slot; started → closed: the activity's own run)
// and the rest (workflow tasks, timers, history round trips).
import type { Client } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';

type History = temporal.api.history.v1.IHistory;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const ET = temporal.api.enums.v1.EventType;

export interface ChildRun {
  workflowId: string;
  runId: string;
  /** In the parent's history: the start was initiated → the child's completion was recorded. */
  initiatedAtMs?: number;
  closedInParentAtMs?: number;
}

export interface ActivityTiming {
  type: string;
  scheduledAtMs: number;
  startedAtMs?: number;
  closedAtMs?: number;
  attempt: number;
  outcome: 'completed' | 'failed' | 'timed-out' | 'cancelled' | 'open';
}

export interface HistoryFigures {
  workflowId: string;
  runId: string;
  events: number;
  jsonBytes: number;
  protoBytes: number;
  startedAtMs: number;
  closedAtMs?: number;
  children: ChildRun[];
  activities: ActivityTiming[];
}

const at = (e: HistoryEvent): number => tsToMs(e.eventTime);

/**
 * The history as JSON: protobuf's JSON mapping (enums as names, int64 as strings, bytes in
 * base64, defaults left out), close to what `temporal workflow show --output json` writes.
 * (historyToJSON of @temporalio/common needs its own protobufjs instance's objects.)
 */
function jsonBytesOf(history: History): number {
  const proto = temporal.api.history.v1.History;
  return Buffer.byteLength(JSON.stringify(proto.toObject(proto.fromObject(history), { longs: String, enums: String, bytes: String })));
}

export function historyFigures(workflowId: string, runId: string, history: History): HistoryFigures {
  const events = history.events ?? [];
  const children = new Map<number, ChildRun>();
  const activities = new Map<number, ActivityTiming>();
  let closedAtMs: number | undefined;
  for (const e of events) {
    const id = Number(e.eventId);
    switch (e.eventType) {
      case ET.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
        children.set(id, { workflowId: e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ?? '', runId: '', initiatedAtMs: at(e) });
        break;
      case ET.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED: {
        const a = e.childWorkflowExecutionStartedEventAttributes;
        const c = children.get(Number(a?.initiatedEventId));
        if (c) c.runId = a?.workflowExecution?.runId ?? '';
        break;
      }
      case ET.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
      case ET.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED:
      case ET.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED:
      case ET.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED:
      case ET.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT: {
        const a = e.childWorkflowExecutionCompletedEventAttributes ?? e.childWorkflowExecutionFailedEventAttributes ?? e.childWorkflowExecutionCanceledEventAttributes ?? e.childWorkflowExecutionTerminatedEventAttributes ?? e.childWorkflowExecutionTimedOutEventAttributes;
        const c = children.get(Number(a?.initiatedEventId));
        if (c) c.closedInParentAtMs = at(e);
        break;
      }
      case ET.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        activities.set(id, { type: e.activityTaskScheduledEventAttributes?.activityType?.name ?? '?', scheduledAtMs: at(e), attempt: 1, outcome: 'open' });
        break;
      case ET.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const a = e.activityTaskStartedEventAttributes;
        const t = activities.get(Number(a?.scheduledEventId));
        // Written when the last attempt ends; its time is when that attempt started.
        if (t) Object.assign(t, { startedAtMs: at(e), attempt: a?.attempt ?? 1 });
        break;
      }
      case ET.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
      case ET.EVENT_TYPE_ACTIVITY_TASK_FAILED:
      case ET.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
      case ET.EVENT_TYPE_ACTIVITY_TASK_CANCELED: {
        const a = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes ?? e.activityTaskCanceledEventAttributes;
        const t = activities.get(Number(a?.scheduledEventId));
        if (t) {
          t.closedAtMs = at(e);
          t.outcome = e.eventType === ET.EVENT_TYPE_ACTIVITY_TASK_COMPLETED ? 'completed' : e.eventType === ET.EVENT_TYPE_ACTIVITY_TASK_FAILED ? 'failed' : e.eventType === ET.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT ? 'timed-out' : 'cancelled';
        }
        break;
      }
      case ET.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
      case ET.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
      case ET.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
      case ET.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
      case ET.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
      case ET.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
        closedAtMs = at(e);
        break;
    }
  }
  return {
    workflowId,
    runId,
    events: events.length,
    jsonBytes: jsonBytesOf(history),
    protoBytes: temporal.api.history.v1.History.encode(history).finish().length,
    startedAtMs: events.length > 0 ? at(events[0]) : Number.NaN,
    closedAtMs,
    children: [...children.values()],
    activities: [...activities.values()],
  };
}

export async function readHistory(client: Client, workflowId: string, runId: string): Promise<HistoryFigures> {
  return historyFigures(workflowId, runId, await client.workflow.getHandle(workflowId, runId).fetchHistory());
}

/** One deviceRollout run: where its wall time went. Its activities run one after another. */
export interface DeviceRunTiming {
  workflowId: string;
  deviceId: string;
  events: number;
  wallMs: number;
  /** Σ started → closed of its activities' last attempts (their own run time as the server saw it). */
  activityRunMs: number;
  /** Σ scheduled → started: waiting for a worker slot (and retries' backoff, for retried ones). */
  activityQueueMs: number;
  /** wall − Σ run: what the brief calls orchestration overhead (queueing + workflow tasks). */
  overheadMs: number;
  /** wall − Σ scheduled → closed: workflow tasks, history round trips between the activities. */
  workflowTaskMs: number;
  /** In the wave's history: start initiated → completion recorded, minus this run's wall. */
  childDispatchMs?: number;
  perActivity: Record<string, { runMs: number; queueMs: number }>;
}

export function deviceRunTiming(h: HistoryFigures, deviceId: string, inWave?: ChildRun): DeviceRunTiming {
  const wallMs = (h.closedAtMs ?? Number.NaN) - h.startedAtMs;
  let run = 0;
  let queue = 0;
  const perActivity: DeviceRunTiming['perActivity'] = {};
  for (const a of h.activities) {
    const closed = a.closedAtMs ?? h.closedAtMs ?? a.scheduledAtMs;
    const started = a.startedAtMs ?? closed;
    const r = Math.max(0, closed - started);
    const q = Math.max(0, started - a.scheduledAtMs);
    run += r;
    queue += q;
    const p = (perActivity[a.type] ??= { runMs: 0, queueMs: 0 });
    p.runMs += r;
    p.queueMs += q;
  }
  return {
    workflowId: h.workflowId,
    deviceId,
    events: h.events,
    wallMs,
    activityRunMs: run,
    activityQueueMs: queue,
    overheadMs: wallMs - run,
    workflowTaskMs: wallMs - run - queue,
    ...(inWave?.initiatedAtMs !== undefined && inWave.closedInParentAtMs !== undefined ? { childDispatchMs: inWave.closedInParentAtMs - inWave.initiatedAtMs - wallMs } : {}),
    perActivity,
  };
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  // nearest rank
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
