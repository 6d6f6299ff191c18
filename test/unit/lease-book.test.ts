// The lease rules of one device (workflows/leaseBook.ts), as pure transitions.
import assert from 'node:assert/strict';
import type { LeaseRequest } from '../../common/ownership';
import { LeaseBook, emptyRecord } from '../../workflows/leaseBook';

const req = (deploymentId: string, runId = 'r1', onBusy: LeaseRequest['onBusy'] = 'queue'): LeaseRequest => ({ deploymentId, runId, modelName: `m-${deploymentId}`, onBusy });
const T = (n: number): string => new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString();
const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

describe('LeaseBook (one device, one holder)', () => {
  it('grants a free device, queues the next in arrival order, and answers a repeated request with the same standing', () => {
    const book = new LeaseBook(emptyRecord('pi-01', T(0)));
    assert.deepEqual(book.request(req('a'), T(1)).answer, { deviceId: 'pi-01', granted: true, position: 0, holder: { deploymentId: 'a', runId: 'r1', modelName: 'm-a', since: T(1) } });
    assert.equal(book.request(req('b'), T(2)).answer.position, 1);
    assert.equal(book.request(req('c'), T(3)).answer.position, 2);
    // A retried request (same run) changes nothing.
    assert.equal(book.request(req('b'), T(4)).answer.position, 1);
    assert.equal(book.request(req('a'), T(4)).answer.granted, true);
    assert.deepEqual(book.record.queue.map((q) => q.deploymentId), ['b', 'c']);
  });

  it('a re-run of the same workflow id is another run: it waits like anyone else', () => {
    const book = new LeaseBook(emptyRecord('pi-01', T(0)));
    book.request(req('a', 'run-1'), T(1));
    const rerun = book.request(req('a', 'run-2'), T(2));
    assert.equal(rerun.answer.granted, false);
    assert.equal(rerun.answer.position, 1);
  });

  it('onBusy "fail" is refused while held and not queued', () => {
    const book = new LeaseBook(emptyRecord('pi-01', T(0)));
    book.request(req('a'), T(1));
    const refused = book.request(req('b', 'r1', 'fail'), T(2));
    assert.equal(refused.kind, 'busy');
    assert.equal(refused.answer.holder?.deploymentId, 'a');
    assert.deepEqual(book.record.queue, []);
    // …and granted when the device is free.
    const free = new LeaseBook(emptyRecord('pi-02', T(0)));
    assert.equal(free.request(req('b', 'r1', 'fail'), T(1)).answer.granted, true);
  });

  it("the holder's release records what it did and hands the lease to the next; a waiting run can leave the queue", () => {
    const book = new LeaseBook(emptyRecord('pi-01', T(0)));
    book.request(req('a'), T(1));
    book.request(req('b'), T(2));
    book.request(req('c'), T(3));
    assert.deepEqual(book.release({ deploymentId: 'b', runId: 'r1' }, T(4)), { granted: null, applied: true });
    const handed = book.release({ deploymentId: 'a', runId: 'r1', outcome: { kind: 'deployed', servesSha256: SHA_A, backups: [SHA_B], deploymentStatus: 'completed' } }, T(5));
    assert.equal(handed.granted?.deploymentId, 'c');
    assert.equal(handed.granted?.grantedAt, T(5));
    assert.deepEqual(book.record.serves, { sha256: SHA_A, deploymentId: 'a', runId: 'r1', modelName: 'm-a', since: T(5), verified: true });
    assert.deepEqual(book.record.backups, [SHA_B]);
    // A duplicate release, or one from a run that neither holds nor waits, changes nothing.
    assert.deepEqual(book.release({ deploymentId: 'a', runId: 'r1', outcome: { kind: 'unknown', deploymentStatus: 'x' } }, T(6)), { granted: null, applied: false });
    assert.equal(book.record.serves?.verified, true);
    assert.equal(book.record.holder?.deploymentId, 'c');
  });

  it('rolled back keeps who put the restored model there; untouched changes nothing; unknown marks the record unverified', () => {
    const book = new LeaseBook(emptyRecord('pi-01', T(0)));
    book.request(req('a'), T(1));
    book.release({ deploymentId: 'a', runId: 'r1', outcome: { kind: 'deployed', servesSha256: SHA_A, deploymentStatus: 'completed' } }, T(2));
    book.request(req('b'), T(3));
    book.release({ deploymentId: 'b', runId: 'r1', outcome: { kind: 'rolled-back', servesSha256: SHA_A, deploymentStatus: 'rolled-back' } }, T(4));
    assert.equal(book.record.serves?.deploymentId, 'a', 'A put the restored model there');
    book.request(req('c'), T(5));
    book.release({ deploymentId: 'c', runId: 'r1', outcome: { kind: 'untouched', deploymentStatus: 'rejected' } }, T(6));
    assert.equal(book.record.serves?.deploymentId, 'a');
    book.request(req('d'), T(7));
    book.release({ deploymentId: 'd', runId: 'r1', outcome: { kind: 'unknown', deploymentStatus: 'rollback-failed', reason: 'restore timed out' } }, T(8));
    assert.equal(book.record.serves?.verified, false);
    assert.match(book.record.serves?.note ?? '', /d: restore timed out/);
    assert.deepEqual(book.record.history.map((h) => `${h.deploymentId}:${h.outcome}`), ['a:deployed', 'b:rolled-back', 'c:untouched', 'd:unknown']);
  });

  it('a holder that vanished passes the lease on and leaves the record unverified', () => {
    const book = new LeaseBook(emptyRecord('pi-01', T(0)));
    book.request(req('a'), T(1));
    book.release({ deploymentId: 'a', runId: 'r1', outcome: { kind: 'deployed', servesSha256: SHA_A, deploymentStatus: 'completed' } }, T(2));
    book.request(req('b'), T(3));
    book.request(req('c'), T(4));
    const next = book.abandonHolder('the run closed as TERMINATED without releasing the device', T(5));
    assert.equal(next?.deploymentId, 'c');
    assert.equal(book.record.serves?.verified, false);
    assert.equal(book.record.history.at(-1)?.outcome, 'abandoned');
  });

  it('keeps a bounded history', () => {
    const book = new LeaseBook(emptyRecord('pi-01', T(0)));
    for (let i = 0; i < 30; i++) {
      book.request(req(`d${i}`), T(i));
      book.release({ deploymentId: `d${i}`, runId: 'r1', outcome: { kind: 'untouched', deploymentStatus: 'rejected' } }, T(i));
    }
    assert.equal(book.record.history.length, 20);
    assert.equal(book.record.history[0].deploymentId, 'd10');
  });
});
