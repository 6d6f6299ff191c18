// Heartbeats and cancellation for activity code that also runs outside an activity (scripts,
// benchmarks, the demo, direct calls in tests), where there is nothing to report to and nothing
// cancels. Not for workflow code.
import { Context } from '@temporalio/activity';

export function currentActivity(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

export function heartbeat(details?: unknown): void {
  currentActivity()?.heartbeat(details);
}

/** Aborted when Temporal cancels the activity (or its heartbeat times out); never outside one. */
export function cancellationSignal(): AbortSignal | undefined {
  return currentActivity()?.cancellationSignal;
}
