// Turns what an activity or the workflow threw into a summary for the report, and the typed
// failures the workflow raises itself.
import { ActivityFailure, ApplicationFailure, CancelledFailure, TimeoutFailure, isCancellation } from '@temporalio/workflow';
import { ErrorType, type ErrorTypeName } from '../common/errors';
import type { FailureSummary, StageName } from './report';

export function summarizeFailure(err: unknown, stage: StageName, deviceId?: string): FailureSummary {
  const base = { stage, ...(deviceId ? { deviceId } : {}) };
  if (isCancellation(err)) return { ...base, type: 'Cancelled', message: 'the deployment was cancelled' };
  const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    const details = cause.details && cause.details.length > 0 ? cause.details[0] : undefined;
    return { ...base, type: cause.type ?? 'ApplicationFailure', message: cause.message, ...(details === undefined ? {} : { details }) };
  }
  if (cause instanceof TimeoutFailure) {
    return { ...base, type: `ActivityTimeout:${String(cause.timeoutType)}`, message: describeTimeout(err, cause) };
  }
  if (cause instanceof CancelledFailure) return { ...base, type: 'Cancelled', message: cause.message };
  return { ...base, type: (cause as Error)?.name ?? 'Error', message: (cause as Error)?.message ?? String(cause) };
}

function describeTimeout(err: unknown, cause: TimeoutFailure): string {
  const activity = err instanceof ActivityFailure ? `${err.activityType} ` : '';
  return `${activity}timed out (${String(cause.timeoutType)}): the worker for this queue is gone or the activity hung past its retries`;
}

/** A failure the workflow decides on itself; never worth retrying. */
export function deploymentFailure(type: ErrorTypeName, message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, details: details === undefined ? undefined : [details] });
}

export { ErrorType };
