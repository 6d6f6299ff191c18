// Each activity of a run, timed from the run's history: when it was scheduled, when its last
// attempt started (Temporal records the start of the final attempt, with the attempt number and
// the previous attempt's failure), and when it closed. So every activity's time splits into
// - the last attempt's run (its work, or the work that failed), and
// - the time before it: for attempt 1, waiting for a worker to pick it up (schedule-to-start);
//   for later attempts, the earlier attempts, retry backoff and any wait for a worker — e.g. a
//   worker lost mid-attempt is only noticed at its heartbeat timeout;
// - never started at all: waiting for a worker the whole time (a schedule-to-start timeout).
import { temporal } from '@temporalio/proto';

export interface ActivityTiming {
  activityType: string;
  summary?: string;
  attempts: number;
  outcome: 'completed' | 'failed' | 'timed-out' | 'cancelled' | 'running';
  scheduledAt: string;
  /** Last attempt: started → closed. Absent when no attempt started. */
  lastAttemptMs?: number;
  /** scheduled → last attempt started (or → closed when none started). */
  beforeLastAttemptMs: number;
  /** What the time before the last attempt was, in words. */
  beforeLastAttempt: string;
  lastFailure?: string;
}

const E = temporal.api.enums.v1.EventType;
type Ev = temporal.api.history.v1.IHistoryEvent;

const ms = (e: Ev | undefined): number | undefined =>
  e?.eventTime?.seconds !== undefined && e.eventTime.seconds !== null ? Number(e.eventTime.seconds) * 1000 + Math.floor((e.eventTime.nanos ?? 0) / 1e6) : undefined;

function summaryOf(e: Ev): string | undefined {
  const data = e.userMetadata?.summary?.data;
  if (!data) return undefined;
  try {
    return JSON.parse(Buffer.from(data).toString('utf8')) as string;
  } catch {
    return undefined;
  }
}

export function activityTimingsFromHistory(events: readonly Ev[], nowMs = Date.now()): ActivityTiming[] {
  const scheduled = new Map<string, Ev>();
  const started = new Map<string, Ev>();
  const closed = new Map<string, { e: Ev; outcome: ActivityTiming['outcome'] }>();
  for (const e of events) {
    const id = String(e.eventId);
    switch (e.eventType) {
      case E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        scheduled.set(id, e);
        break;
      case E.EVENT_TYPE_ACTIVITY_TASK_STARTED:
        started.set(String(e.activityTaskStartedEventAttributes?.scheduledEventId), e);
        break;
      case E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
        closed.set(String(e.activityTaskCompletedEventAttributes?.scheduledEventId), { e, outcome: 'completed' });
        break;
      case E.EVENT_TYPE_ACTIVITY_TASK_FAILED:
        closed.set(String(e.activityTaskFailedEventAttributes?.scheduledEventId), { e, outcome: 'failed' });
        break;
      case E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
        closed.set(String(e.activityTaskTimedOutEventAttributes?.scheduledEventId), { e, outcome: 'timed-out' });
        break;
      case E.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
        closed.set(String(e.activityTaskCanceledEventAttributes?.scheduledEventId), { e, outcome: 'cancelled' });
        break;
    }
  }
  const out: ActivityTiming[] = [];
  for (const [id, s] of scheduled) {
    const st = started.get(id);
    const cl = closed.get(id);
    const t0 = ms(s) ?? 0;
    const tStart = ms(st);
    const tEnd = ms(cl?.e) ?? nowMs;
    const attempts = st?.activityTaskStartedEventAttributes?.attempt ?? 0;
    const lastFailure = st?.activityTaskStartedEventAttributes?.lastFailure?.message ?? undefined;
    const before = (tStart ?? tEnd) - t0;
    const beforeLastAttempt = tStart === undefined
      ? 'waiting for a worker (no attempt started)'
      : attempts <= 1
        ? 'waiting for a worker (schedule-to-start)'
        : `${attempts - 1} earlier attempt(s), retry backoff and waiting for workers`;
    out.push({
      activityType: s.activityTaskScheduledEventAttributes?.activityType?.name ?? '?',
      ...(summaryOf(s) ? { summary: summaryOf(s) } : {}),
      attempts,
      outcome: cl?.outcome ?? 'running',
      scheduledAt: new Date(t0).toISOString(),
      ...(tStart !== undefined ? { lastAttemptMs: tEnd - tStart } : {}),
      beforeLastAttemptMs: before,
      beforeLastAttempt,
      ...(lastFailure ? { lastFailure } : {}),
    });
  }
  return out;
}

export function renderActivityTimings(timings: readonly ActivityTiming[]): string {
  const f = (n: number | undefined): string => (n === undefined ? '—' : n >= 10_000 ? `${(n / 1000).toFixed(1)} s` : `${Math.round(n)} ms`);
  return timings
    .map((t) => {
      const before = t.beforeLastAttemptMs >= 1 ? ` · before it ${f(t.beforeLastAttemptMs)}: ${t.beforeLastAttempt}${t.lastFailure ? ` (last failure: ${t.lastFailure})` : ''}` : '';
      return `    ${t.summary ?? t.activityType}: ${t.outcome}, attempt ${t.attempts || '—'}, last attempt ran ${f(t.lastAttemptMs)}${before}`;
    })
    .join('\n');
}
