// Where a deployment's wall time went (workflows/timing.ts): failed and retried activities count
// as time in activities, never as orchestration overhead; reuse measures no work.
import assert from 'node:assert/strict';
import type { CompensationRecord, StageRecord } from '../../workflows/report';
import { deploymentTiming } from '../../workflows/timing';

const stage = (s: Partial<StageRecord> & Pick<StageRecord, 'stage'>): StageRecord => ({ outcome: 'ok', startedAt: '2026-12-01T00:00:00.000Z', ...s });

describe('deployment timing', () => {
  it('a compile that failed after 6.9 s is 6.9 s in activities, not overhead', () => {
    const t = deploymentTiming(7_400, [stage({ stage: 'export', durationMs: 400, activityMs: 380 }), stage({ stage: 'compile', outcome: 'failed', durationMs: 6_900 })], [], 0);
    assert.equal(t.inActivitiesMs, 7_300);
    assert.equal(t.selfMeasuredMs, 380);
    assert.equal(t.overheadMs, 100);
  });

  it('a checkpoint retried three times (46 s of attempts and backoff) is not overhead', () => {
    const t = deploymentTiming(46_500, [stage({ stage: 'export', outcome: 'failed', durationMs: 46_300 })], [], 0);
    assert.equal(t.inActivitiesMs, 46_300);
    assert.equal(t.overheadMs, 200);
  });

  it('a reused swap measured no work; its stage time still counts where it was spent', () => {
    const t = deploymentTiming(40_000, [stage({ stage: 'swap', durationMs: 36_400, activityMs: 0, reused: true })], [], 0);
    assert.equal(t.inActivitiesMs, 36_400);
    assert.equal(t.selfMeasuredMs, 0);
    assert.equal(t.overheadMs, 3_600);
  });

  it('separates the approval wait, the device leases and the compensations', () => {
    const comp: CompensationRecord[] = [{ action: 'restore', deviceId: 'pi-01', ok: true, durationMs: 1_200, result: { deviceId: 'pi-01', outcome: 'restored', restoredSha256: null, servedSha256Prefix: null, durationMs: 900 } }];
    const t = deploymentTiming(20_000, [stage({ stage: 'lease', durationMs: 5_000 }), stage({ stage: 'approval', durationMs: 8_000 }), stage({ stage: 'swap', durationMs: 2_000, activityMs: 1_500 })], comp, 8_000);
    assert.deepEqual(t, { wallMs: 20_000, approvalWaitMs: 8_000, leaseMs: 5_000, inActivitiesMs: 3_200, selfMeasuredMs: 2_400, overheadMs: 3_800 });
  });
});
