import assert from 'node:assert/strict';
import { Saga } from '../../workflows/saga';

describe('Saga (compensation stack)', () => {
  it('runs compensations newest first and reports each result', async () => {
    const ran: string[] = [];
    const saga = new Saga();
    for (const name of ['a', 'b', 'c']) saga.push(name, async () => { ran.push(name); return `${name} undone`; });
    assert.deepEqual(saga.pending(), ['c', 'b', 'a']);
    const outcomes = await saga.compensate();
    assert.deepEqual(ran, ['c', 'b', 'a']);
    assert.deepEqual(outcomes.map((o) => [o.label, o.ok, o.result]), [['c', true, 'c undone'], ['b', true, 'b undone'], ['a', true, 'a undone']]);
  });

  it('keeps going past a failed compensation and reports the error', async () => {
    const ran: string[] = [];
    const saga = new Saga();
    saga.push('restore pi-01', async () => { ran.push('pi-01'); });
    saga.push('restore pi-02', async () => { throw new Error('backup missing'); });
    saga.push('restore pi-03', async () => { ran.push('pi-03'); });
    const outcomes = await saga.compensate();
    assert.deepEqual(ran, ['pi-03', 'pi-01']);
    assert.deepEqual(outcomes.map((o) => o.ok), [true, false, true]);
    assert.equal((outcomes[1].error as Error).message, 'backup missing');
  });

  it('runs each compensation once, even when compensate() is called again', async () => {
    let count = 0;
    const saga = new Saga();
    saga.push('x', async () => { count++; });
    await saga.compensate();
    assert.deepEqual(await saga.compensate(), []);
    assert.equal(count, 1);
    assert.equal(saga.size, 0);
  });

  it('drop() forgets a superseded compensation and keeps the order of the rest', async () => {
    const ran: string[] = [];
    const saga = new Saga();
    for (const name of ['discard pi-01', 'discard pi-02', 'restore pi-01']) saga.push(name, async () => { ran.push(name); });
    assert.equal(saga.drop('discard pi-01'), true);
    assert.equal(saga.drop('discard pi-01'), false);
    await saga.compensate();
    assert.deepEqual(ran, ['restore pi-01', 'discard pi-02']);
  });

  it('a compensation pushed while compensating (none expected) still runs', async () => {
    const ran: string[] = [];
    const saga = new Saga();
    saga.push('outer', async () => { ran.push('outer'); saga.push('late', async () => { ran.push('late'); }); });
    await saga.compensate();
    assert.deepEqual(ran, ['outer', 'late']);
  });
});
