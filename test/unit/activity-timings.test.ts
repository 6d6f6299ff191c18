// Activity timings from a run's history (clients/activityTimings.ts), on a recorded history
// whose edge worker was gone: the time before any attempt is named as waiting for a worker.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { activityTimingsFromHistory, renderActivityTimings } from '../../clients/activityTimings';
import { historyFromJSON } from '../helpers/historyJson';

const load = (name: string) => historyFromJSON(JSON.parse(readFileSync(path.resolve(__dirname, '..', 'histories', 'v2', `${name}.json`), 'utf8'))).events ?? [];

describe('activity timings from the history', () => {
  it('names a worker that never came as waiting for a worker, and times every completed attempt', () => {
    const timings = activityTimingsFromHistory(load('worker-lost'));
    const ghostSwap = timings.find((t) => t.activityType === 'swapModel' && (t.summary ?? '').includes('ghost-01'));
    assert.ok(ghostSwap, JSON.stringify(timings.map((t) => t.summary)));
    assert.equal(ghostSwap.outcome, 'timed-out');
    assert.equal(ghostSwap.attempts, 0);
    assert.equal(ghostSwap.lastAttemptMs, undefined);
    assert.match(ghostSwap.beforeLastAttempt, /waiting for a worker \(no attempt started\)/);
    assert.ok(ghostSwap.beforeLastAttemptMs >= 1000, `waited ${ghostSwap.beforeLastAttemptMs} ms`);
    const done = timings.filter((t) => t.outcome === 'completed');
    assert.ok(done.length >= 5);
    for (const t of done) {
      assert.equal(t.attempts, 1);
      assert.ok((t.lastAttemptMs ?? -1) >= 0);
      assert.match(t.beforeLastAttempt, /schedule-to-start/);
    }
    assert.match(renderActivityTimings(timings), /waiting for a worker/);
  });
});
