// The open-loop load helper on a virtual clock: its schedule, its drop rule and its latency math
// (from the scheduled send time) are exact here, so no assertion depends on this machine's timing.
import assert from 'node:assert/strict';
import { dueCount, runOpenLoop, scheduledCount, scheduledOffsetMs, summarizeOpenLoop, type LoopTime } from '../../activities/edge/openLoop';

/** Virtual time: sleeps and simulated work are timers on one ordered queue, advanced explicitly. */
class VirtualTime implements LoopTime {
  private t = 0;
  private timers: Array<{ at: number; seq: number; fire: () => void }> = [];
  private seq = 0;
  now(): number {
    return this.t;
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.timers.push({ at: this.t + ms, seq: this.seq++, fire: resolve }));
  }
  /** Runs `body` to completion, firing timers in time order whenever it is waiting on one. */
  async run<T>(body: Promise<T>): Promise<T> {
    let settled = false;
    const result = body.finally(() => (settled = true));
    while (!settled) {
      // Let every promise chain that can move without time passing do so first.
      for (let i = 0; i < 20; i++) await Promise.resolve();
      if (settled) break;
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers.shift();
      if (!next) throw new Error('deadlock: nothing scheduled and the body has not finished');
      this.t = Math.max(this.t, next.at);
      next.fire();
    }
    return result;
  }
}

/** A single-threaded FIFO server: each request takes `serviceMs(i)` once the previous one is done. */
function fifoServer(time: VirtualTime, serviceMs: (i: number) => number, fail: (i: number) => boolean = () => false) {
  let busyUntil = 0;
  return (i: number): Promise<string | null> => {
    const start = Math.max(time.now(), busyUntil);
    busyUntil = start + serviceMs(i);
    return time.sleep(busyUntil - time.now()).then(() => (fail(i) ? `HTTP 500 on ${i}` : null));
  };
}

describe('open-loop load (fixed offered rate)', () => {
  it('schedules by index: count, offsets and due requests are exact', () => {
    assert.equal(scheduledCount(250, 5000), 1250);
    assert.equal(scheduledCount(3, 1000), 3);
    assert.equal(scheduledOffsetMs(0, 250), 0);
    assert.equal(scheduledOffsetMs(250, 250), 1000);
    assert.equal(dueCount(-1, 250, 10), 0);
    assert.equal(dueCount(0, 250, 10), 1); // request 0 is due at the start
    assert.equal(dueCount(3.99, 250, 10), 1);
    assert.equal(dueCount(4, 250, 10), 2); // request 1 is due exactly at 4 ms
    assert.equal(dueCount(12, 1000 / 3, 100), 5); // 0, 3, 6, 9 and 12 ms: float error must not lose one
    assert.equal(dueCount(1e9, 250, 10), 10);
  });

  it('charges a stall to every request queued behind it (no coordinated omission)', async () => {
    const time = new VirtualTime();
    // 100 req/s for 1 s; every request takes 5 ms except request 20 (sent at 200 ms), which takes 100 ms.
    const send = fifoServer(time, (i) => (i === 20 ? 100 : 5));
    const r = await time.run(runOpenLoop(send, { ratePerSec: 100, durationMs: 1000 }, time));
    assert.equal(r.scheduled, 100);
    assert.equal(r.sent, 100);
    assert.equal(r.completed, 100);
    assert.equal(r.dropped, 0);
    assert.equal(r.late, 0);
    assert.equal(r.errors, 0);
    // Request 20 is done at 300; request 21 (due at 210) starts at 300 and is done at 305: 95 ms
    // from its schedule; request k is done at 305 + 5(k − 21), i.e. 200 − 5k ms late, until the
    // queue empties at request 39. Nineteen requests paid for the stall, ten of them over 50 ms.
    assert.ok(r.latencyMs && r.serviceMs);
    assert.equal(r.latencyMs.max, 100);
    assert.equal(r.latencyMs.p50, 5);
    assert.equal(r.latencyMs.p90, 50); // the 90th of 100 sorted latencies
    // What a tool timing from the actual send would have said: the same stall, from the send.
    assert.equal(r.serviceMs.max, 100);
    assert.equal(r.achievedRps, 100); // 100 answers in the scheduled second (the last at 995 ms)
  });

  it('measures latency from the scheduled time and service time from the actual send', () => {
    // The same history, as a client that sends only after each answer would have timed it.
    const samples = [
      { scheduledMs: 0, sentMs: 0, doneMs: 5, ok: true },
      { scheduledMs: 10, sentMs: 10, doneMs: 110, ok: true }, // stalled
      { scheduledMs: 20, sentMs: 110, doneMs: 115, ok: true }, // sent 90 ms late
      { scheduledMs: 30, sentMs: 115, doneMs: 120, ok: false },
    ];
    const r = summarizeOpenLoop(samples, { ratePerSec: 100, scheduled: 4, dropped: 0, unfinished: 0, lateThresholdMs: 2, startMs: 0, endMs: 200 });
    assert.deepEqual(r.latencyMs && [r.latencyMs.count, r.latencyMs.p50, r.latencyMs.max], [3, 95, 100]);
    assert.deepEqual(r.serviceMs && [r.serviceMs.p50, r.serviceMs.max], [5, 100]);
    assert.equal(r.late, 2);
    assert.equal(r.maxSendLagMs, 90);
    assert.equal(r.errors, 1);
    assert.equal(r.achievedRps, 15); // 3 answers in 0.2 s
  });

  it('drops sends due while maxOutstanding requests are in flight, and counts errors', async () => {
    const time = new VirtualTime();
    // 200 req/s (every 5 ms) against a server that needs 20 ms each: it falls behind at once.
    const send = fifoServer(time, () => 20, (i) => i === 0);
    const r = await time.run(runOpenLoop(send, { ratePerSec: 200, durationMs: 100, maxOutstanding: 2 }, time));
    assert.equal(r.scheduled, 20);
    assert.equal(r.sent + r.dropped, 20);
    assert.ok(r.dropped > 0);
    assert.equal(r.errors, 1);
    assert.equal(r.completed, r.sent - 1);
    assert.equal(r.firstError, 'HTTP 500 on 0');
  });

  it('gives up on answers after the drain timeout and reports them', async () => {
    const time = new VirtualTime();
    const send = fifoServer(time, (i) => (i === 1 ? 60_000 : 1));
    const r = await time.run(runOpenLoop(send, { ratePerSec: 10, durationMs: 300, drainTimeoutMs: 1000 }, time));
    assert.equal(r.scheduled, 3);
    assert.equal(r.completed, 1); // request 2 queues behind the hung request 1
    assert.equal(r.unfinished, 2);
    assert.equal(r.errors, 2);
    assert.match(r.firstError ?? '', /2 requests unanswered 1000 ms after the last send/);
  });
});
