// Heartbeats and cancellation for the edge activities. The same functions run outside an
// activity too (tests, scripts), where there is nothing to report to and nothing cancels.
import { cancellationSignal, heartbeat } from '../../lib/activityContext';

export { cancellationSignal, heartbeat };

/** Resolves after `ms`, or rejects at once with the cancellation reason if the activity is cancelled. */
export function sleep(ms: number, signal = cancellationSignal()): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
