// Heartbeats and cancellation for the GPU activities, usable outside an activity as well: the
// same functions run from scripts (bench, demo) where there is no Temporal context to report to.
import { cancellationSignal, heartbeat } from '../../lib/activityContext';

export { cancellationSignal, heartbeat };

/**
 * Keeps heartbeating every `everyMs` while `work` runs, so a long silent step (a torch import, a
 * quantizer pass) does not look like a dead worker; the latest progress line rides along.
 */
export async function withHeartbeat<T>(stage: string, work: (progress: (line: string) => void) => Promise<T>, everyMs = 5000): Promise<T> {
  let last = `${stage}: started`;
  heartbeat({ stage, progress: last });
  const timer = setInterval(() => heartbeat({ stage, progress: last }), everyMs);
  try {
    return await work((line) => {
      last = line;
      heartbeat({ stage, progress: line });
    });
  } finally {
    clearInterval(timer);
  }
}
