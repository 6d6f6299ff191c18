// Settings shared by the edge activities of one device, and the lock that keeps them from
// changing the model directory at the same time.
import { ErrorType } from '../../common/errors';
import type { DeviceTrust } from '../../edge/trust';
import { edgeFailure } from './failures';

export interface EdgeActivityOptions {
  /** Bound on the device's restart command (default 120 s). */
  restartTimeoutMs?: number;
  /** Pause between /healthz polls (default 250 ms). */
  pollIntervalMs?: number;
  /** Clock for backup and journal stamps (tests). */
  now?: () => Date;
  /**
   * The device's trusted release keys and whether it requires signatures (edge/trust.ts,
   * loadDeviceTrust). Absent: no check, as before signing existed.
   */
  trust?: DeviceTrust;
}

export const DEFAULT_HEALTH_TIMEOUT_MS = 60_000;
export const DEFAULT_RESTART_TIMEOUT_MS = 120_000;

export function resolveOptions(o: EdgeActivityOptions = {}): Required<Omit<EdgeActivityOptions, 'trust'>> & Pick<EdgeActivityOptions, 'trust'> {
  return {
    restartTimeoutMs: o.restartTimeoutMs ?? DEFAULT_RESTART_TIMEOUT_MS,
    pollIntervalMs: o.pollIntervalMs ?? 250,
    now: o.now ?? (() => new Date()),
    trust: o.trust,
  };
}

export function healthTimeoutOf(value: unknown): number {
  if (value === undefined) return DEFAULT_HEALTH_TIMEOUT_MS;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 100 || value > 3_600_000) {
    throw edgeFailure(ErrorType.InvalidRequest, `healthTimeoutMs must be an integer between 100 and 3600000, got ${JSON.stringify(value)}`);
  }
  return value;
}

// One edge worker serves one device, but nothing stops Temporal from handing it a swap and a
// restore (of different deployments) at once: they must not interleave on the same directory.
const locks = new Map<string, Promise<unknown>>();

export async function withModelDirLock<T>(modelDir: string, work: () => Promise<T>): Promise<T> {
  const previous = locks.get(modelDir) ?? Promise.resolve();
  const run = previous.then(work, work);
  const tail = run.catch(() => undefined);
  locks.set(modelDir, tail);
  try {
    return await run;
  } finally {
    if (locks.get(modelDir) === tail) locks.delete(modelDir);
  }
}
