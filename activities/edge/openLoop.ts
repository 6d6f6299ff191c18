// Open-loop load at a fixed offered rate (MLPerf LoadGen's Server scenario): request i is due at
// start + i / rate whatever happened to the requests before it, and its latency is measured from
// that *scheduled* time, not from when it was actually sent. A closed loop (loadTest.ts's
// measureConcurrent) waits for an answer before sending more, so when the server stalls it stops
// offering load and records one slow request where users would have seen many: coordinated
// omission. Here the requests that queue behind a stall are all charged for it.
//
// Bounded: exactly round(rate × duration) requests are scheduled, at most `maxOutstanding` are in
// flight (a send due while that many are outstanding is dropped and counted, never delayed), and
// the drain after the last send waits at most `drainTimeoutMs`.
import type { LatencyFigures } from '../../common/contracts';
import { summarizeLatencies } from '../../common/percentiles';

export interface OpenLoopOptions {
  ratePerSec: number;
  durationMs: number;
  /** Requests in flight at most; a send due beyond it is dropped (default 256). */
  maxOutstanding?: number;
  /** A send this much after its scheduled time counts as late (default 2 ms). */
  lateThresholdMs?: number;
  /** How long to wait for outstanding answers after the last send (default 10 s). */
  drainTimeoutMs?: number;
  signal?: AbortSignal;
}

/** What one request did; times in ms on the loop's clock. */
export interface OpenLoopSample {
  scheduledMs: number;
  sentMs: number;
  doneMs: number;
  ok: boolean;
}

export interface OpenLoopResult {
  offeredRps: number;
  /** Successful answers per second over the run (first scheduled send to the last answer). */
  achievedRps: number;
  scheduled: number;
  sent: number;
  completed: number;
  errors: number;
  dropped: number;
  /** Answers still outstanding when the drain timed out (also counted in errors). */
  unfinished: number;
  late: number;
  lateThresholdMs: number;
  maxSendLagMs: number;
  /** From the scheduled send time: what a client sending at this rate experiences. */
  latencyMs: LatencyFigures | null;
  /** From the actual send time: what a closed-loop tool would have reported for the same requests. */
  serviceMs: LatencyFigures | null;
  elapsedMs: number;
  firstError?: string;
}

/** Requests in a run: the schedule is by index, so the count never depends on timer accuracy. */
export function scheduledCount(ratePerSec: number, durationMs: number): number {
  return Math.max(0, Math.round((ratePerSec * durationMs) / 1000));
}

/** Offset of request `i` from the start of the run. */
export function scheduledOffsetMs(i: number, ratePerSec: number): number {
  return (i * 1000) / ratePerSec;
}

/** How many requests (indices 0 … n-1) are due `elapsedMs` after the start, capped at `total`. */
export function dueCount(elapsedMs: number, ratePerSec: number, total: number): number {
  if (elapsedMs < 0) return 0;
  // The small epsilon absorbs float error, so request i is due exactly at its own offset.
  return Math.min(total, Math.floor((elapsedMs * ratePerSec) / 1000 + 1e-9) + 1);
}

export function summarizeOpenLoop(
  samples: readonly OpenLoopSample[],
  run: { ratePerSec: number; scheduled: number; dropped: number; unfinished: number; lateThresholdMs: number; startMs: number; endMs: number; firstError?: string },
): OpenLoopResult {
  const ok = samples.filter((s) => s.ok);
  const lags = samples.map((s) => s.sentMs - s.scheduledMs);
  const elapsedMs = run.endMs - run.startMs;
  return {
    offeredRps: run.ratePerSec,
    achievedRps: elapsedMs > 0 ? ok.length / (elapsedMs / 1000) : 0,
    scheduled: run.scheduled,
    sent: samples.length + run.unfinished,
    completed: ok.length,
    errors: samples.length - ok.length + run.unfinished,
    dropped: run.dropped,
    unfinished: run.unfinished,
    late: lags.filter((l) => l > run.lateThresholdMs).length,
    lateThresholdMs: run.lateThresholdMs,
    maxSendLagMs: lags.length ? Math.max(...lags) : 0,
    latencyMs: ok.length ? summarizeLatencies(ok.map((s) => s.doneMs - s.scheduledMs)) : null,
    serviceMs: ok.length ? summarizeLatencies(ok.map((s) => s.doneMs - s.sentMs)) : null,
    elapsedMs,
    firstError: run.firstError,
  };
}

/** The clock and timer the loop runs on: real ones in production, a virtual pair in the unit test. */
export interface LoopTime {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realTime: LoopTime = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * Runs the schedule, calling `send(i)` for each request that is due. `send` resolves to null on
 * success or a short description of the failure (it must not reject; a rejection counts as an error).
 */
export async function runOpenLoop(send: (i: number) => Promise<string | null>, opts: OpenLoopOptions, time: LoopTime = realTime): Promise<OpenLoopResult> {
  if (!(opts.ratePerSec > 0)) throw new RangeError('ratePerSec must be > 0');
  const total = scheduledCount(opts.ratePerSec, opts.durationMs);
  const maxOutstanding = opts.maxOutstanding ?? 256;
  const lateThresholdMs = opts.lateThresholdMs ?? 2;
  const drainTimeoutMs = opts.drainTimeoutMs ?? 10_000;
  const samples: OpenLoopSample[] = [];
  const inFlight = new Set<Promise<void>>();
  let dropped = 0;
  let firstError: string | undefined;
  let next = 0;
  const startMs = time.now();

  const issue = (i: number, scheduledMs: number): void => {
    const sentMs = time.now();
    const done = send(i)
      .catch((err: unknown) => (err as Error).message ?? String(err))
      .then((failure) => {
        samples.push({ scheduledMs, sentMs, doneMs: time.now(), ok: failure === null });
        if (failure !== null) firstError ??= failure;
        inFlight.delete(done);
      });
    inFlight.add(done);
  };

  while (next < total) {
    opts.signal?.throwIfAborted();
    const due = dueCount(time.now() - startMs, opts.ratePerSec, total);
    for (; next < due; next++) {
      const scheduledMs = startMs + scheduledOffsetMs(next, opts.ratePerSec);
      if (inFlight.size >= maxOutstanding) dropped += 1;
      else issue(next, scheduledMs);
    }
    if (next < total) await time.sleep(Math.max(0, startMs + scheduledOffsetMs(next, opts.ratePerSec) - time.now()));
  }

  // Drain in short steps, so no long timer outlives the run once everything has answered.
  const drainDeadline = time.now() + drainTimeoutMs;
  while (inFlight.size > 0 && time.now() < drainDeadline) {
    await Promise.race([Promise.all(inFlight), time.sleep(Math.min(50, Math.max(0, drainDeadline - time.now())))]);
  }
  const unfinished = inFlight.size;
  if (unfinished > 0) firstError ??= `${unfinished} requests unanswered ${drainTimeoutMs} ms after the last send`;
  // The run lasts its scheduled duration, or until the last answer if that came later.
  const endMs = samples.reduce((m, s) => Math.max(m, s.doneMs), startMs + opts.durationMs);
  return summarizeOpenLoop(samples, { ratePerSec: opts.ratePerSec, scheduled: total, dropped, unfinished, lateThresholdMs, startMs, endMs, firstError });
}
