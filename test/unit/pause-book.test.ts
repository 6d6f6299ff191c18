// Pause and resume of a fleet rollout: the pure rules the deployment's signal handlers apply, and
// how watch and status show a pause.
import assert from 'node:assert/strict';
import { newRolloutWatchState, pauseLine, rolloutUpdates, updateLines } from '../../clients/fleetFormat';
import type { RolloutReport } from '../../common/rollout';
import { PauseBook } from '../../workflows/fleet/pauseBook';
import type { DeploymentStatus } from '../../workflows/report';

describe('PauseBook', () => {
  it('pauses once, names who and why, and resumes once', () => {
    const book = new PauseBook();
    assert.equal(book.paused, false);
    assert.equal(book.pause({ by: ' ops ', reason: 'latency alarm' }, 't1'), undefined);
    assert.deepEqual(book.current, { by: 'ops', at: 't1', reason: 'latency alarm' });
    assert.match(book.pause({ by: 'bob' }, 't2') ?? '', /already paused by ops since t1/);
    assert.equal(book.resume({ by: 'bob' }, 't3'), undefined);
    assert.equal(book.paused, false);
    assert.match(book.resume({ by: 'bob' }, 't4') ?? '', /not paused/);
    assert.deepEqual(book.history, [{ by: 'ops', at: 't1', reason: 'latency alarm', resumedBy: 'bob', resumedAt: 't3' }]);
  });

  it('refuses a pause or resume that names nobody', () => {
    const book = new PauseBook();
    assert.match(book.pause({}, 't') ?? '', /names who pauses/);
    assert.match(book.pause({ by: '  ' }, 't') ?? '', /names who pauses/);
    assert.match(book.pause('ops', 't') ?? '', /names who pauses/);
    assert.match(book.resume(null, 't') ?? '', /names who resumes/);
    assert.equal(book.paused, false);
  });
});

describe('a pause as watch and status show it', () => {
  const rollout = (pauses: RolloutReport['pauses']): DeploymentStatus =>
    ({ deploymentId: 'deploy-m', rollout: { waves: [], devices: [], tally: { done: 0, failed: 0, offline: 0 }, plan: { onHalt: 'revert-all' }, pauses } }) as unknown as DeploymentStatus;

  it('says how to resume while paused, and who resumed after', () => {
    assert.equal(pauseLine({ by: 'ops', at: 't1', reason: 'alarm' }, 'deploy-m'), 'PAUSED by ops since t1 (alarm): no new device starts; devices in flight finish — edgeship resume deploy-m');
    assert.equal(pauseLine({ by: 'ops', at: 't1', resumedBy: 'bob', resumedAt: 't2' }), 'paused by ops t1 → resumed by bob t2');
  });

  it('watch prints the pause once, then the resume once', () => {
    const state = newRolloutWatchState();
    const paused = rollout([{ by: 'ops', at: 't1' }]);
    assert.deepEqual(updateLines(rolloutUpdates(state, paused)), ['  PAUSED by ops since t1: no new device starts; devices in flight finish — edgeship resume deploy-m']);
    assert.deepEqual(rolloutUpdates(state, paused), []);
    const resumed = rollout([{ by: 'ops', at: 't1', resumedBy: 'ops', resumedAt: 't2' }]);
    assert.deepEqual(updateLines(rolloutUpdates(state, resumed)), ['  paused by ops t1 → resumed by ops t2']);
  });
});
