// The rollout plan's pure rules (workflows/fleet/plan.ts) and the request schema's `rollout`.
import assert from 'node:assert/strict';
import { InvalidDeployRequest, parseDeployRequest, type DeployRequestInput } from '../../common/request';
import type { WaveResult } from '../../common/rollout';
import { mergeWaveResults } from '../../workflows/fleet/fleetRollout';
import { haltCriteriaOf, haltFigure, haltReason, planWaves } from '../../workflows/fleet/plan';

const devices = Array.from({ length: 20 }, (_, i) => `d-${String(i + 1).padStart(2, '0')}`);

function request(rollout: DeployRequestInput['rollout'], extra: Partial<DeployRequestInput> = {}): ReturnType<typeof parseDeployRequest> {
  return parseDeployRequest({ modelName: 'm', source: { kind: 'checkpoint', checkpointPath: '/c.pt' }, target: 'cpu-int8', devices, rollout, ...extra });
}

function refusal(rollout: unknown, extra: Record<string, unknown> = {}): string {
  try {
    request(rollout as DeployRequestInput['rollout'], extra as Partial<DeployRequestInput>);
  } catch (err) {
    assert.ok(err instanceof InvalidDeployRequest);
    return err.issues.join('\n');
  }
  assert.fail('the request was accepted');
}

describe('rollout plan', () => {
  it('defaults: a one-device canary, then one wave with the rest, 10 at once, revert-all, approval after the canary', () => {
    const plan = request({}).rollout;
    assert.ok(plan);
    assert.deepEqual(plan.canary, { count: 1 });
    assert.equal(plan.maxParallel, 10);
    assert.equal(plan.onHalt, 'revert-all');
    assert.equal(plan.approval, 'after-canary');
    assert.equal(plan.offline, 'skip');
    assert.equal(plan.offlineAfter, 30_000);
    assert.equal(plan.soak, 0);
    const waves = planWaves(devices, plan);
    assert.deepEqual(waves.map((w) => [w.name, w.devices.length]), [['canary', 1], ['wave-1', 19]]);
    assert.deepEqual(haltCriteriaOf(plan), { maxFailed: 0, minDoneForPercent: 10, countOffline: false });
  });

  it('no plan keeps the one-by-one path: the field stays absent', () => {
    assert.equal(request(undefined).rollout, undefined);
  });

  it('waves by count and by percentage of the fleet (rounded up), what is left forms a last wave', () => {
    const plan = request({ canary: ['d-05', 'd-01'], waves: [3, '25%'] }).rollout;
    assert.ok(plan);
    const waves = planWaves(devices, plan);
    assert.deepEqual(waves[0], { name: 'canary', devices: ['d-05', 'd-01'] });
    assert.deepEqual(waves[1], { name: 'wave-1', devices: ['d-02', 'd-03', 'd-04'] });
    assert.equal(waves[2].devices.length, 5); // 25 % of 20
    assert.equal(waves[3].devices.length, 20 - 2 - 3 - 5);
    assert.equal(new Set(waves.flatMap((w) => w.devices)).size, 20, 'every device exactly once');
  });

  it('waves past the end of the fleet are dropped; a wave never comes out empty', () => {
    const plan = request({ canary: { count: 18 }, waves: [5, 5, '50%'] }).rollout;
    assert.ok(plan);
    assert.deepEqual(planWaves(devices, plan).map((w) => w.devices.length), [18, 2]);
  });

  it('halts: the canary on any failure; a count; a percentage only once enough are done; offline only when counted', () => {
    const byCount = { maxFailed: 2, minDoneForPercent: 10, countOffline: false };
    assert.match(haltReason(byCount, { done: 1, failed: 1, offline: 0 }, true) ?? '', /canary/);
    assert.equal(haltReason(byCount, { done: 9, failed: 2, offline: 5 }, false), undefined);
    assert.match(haltReason(byCount, { done: 9, failed: 3, offline: 0 }, false) ?? '', /3 devices failed, more than maxFailed 2/);
    const byPercent = { maxFailedPercent: 10, minDoneForPercent: 10, countOffline: false };
    assert.equal(haltReason(byPercent, { done: 9, failed: 5, offline: 0 }, false), undefined, 'not before 10 are done');
    assert.equal(haltReason(byPercent, { done: 10, failed: 1, offline: 0 }, false), undefined, '10 % is not above 10 %');
    assert.match(haltReason(byPercent, { done: 10, failed: 2, offline: 0 }, false) ?? '', /2 of 10 devices done failed \(20\.0 %\)/);
    const counted = { maxFailed: 0, minDoneForPercent: 10, countOffline: true };
    assert.match(haltReason(counted, { done: 1, failed: 0, offline: 1 }, false) ?? '', /1 devices failed/);
    assert.equal(haltFigure(byPercent, { done: 10, failed: 1, offline: 0 }), '1 of 10 done failed (10.0 %), halts above 10 % once 10 are done');
  });

  it('a percentage alone: no count criterion is added', () => {
    const plan = request({ halt: { maxFailedPercent: 5 } }).rollout;
    assert.ok(plan);
    assert.deepEqual(haltCriteriaOf(plan), { maxFailedPercent: 5, minDoneForPercent: 10, countOffline: false });
  });

  it('takes percentages that cover the fleet exactly once', () => {
    const plan = request({ canary: { count: 2 }, waves: ['50%', '50%'] }).rollout;
    assert.ok(plan);
    assert.deepEqual(planWaves(devices, plan).map((w) => w.devices.length), [2, 10, 8]);
  });

  it('refuses bad plans with the path of each problem', () => {
    assert.match(refusal({ canary: ['d-01', 'nope'] }), /rollout\.canary: not in devices: nope/);
    assert.match(refusal({ canary: ['d-01', 'd-01'] }), /each canary device may be listed once/);
    assert.match(refusal({ canary: { count: 21 } }), /rollout\.canary\.count: 21 canary devices asked, 20 listed/);
    assert.match(refusal({ waves: ['150%'] }), /rollout\.waves\.0/);
    assert.match(refusal({ waves: [0] }), /rollout\.waves\.0/);
    assert.match(refusal({ waves: ['60%', '60%'] }), /rollout\.waves: the percentages add up to 120% of the fleet \(60% \+ 60%\); at most 100%/);
    assert.match(refusal({ waves: [2, '70%', '30.5%'] }), /add up to 100\.5%/);
    assert.match(refusal({ maxParallel: 0 }), /rollout\.maxParallel/);
    assert.match(refusal({ onHalt: 'shrug' }), /rollout\.onHalt/);
    assert.match(refusal({ offline: 'ignore' }), /rollout\.offline/);
    assert.match(refusal({ soak: 'soon' }), /rollout\.soak/);
    assert.match(refusal({ halt: { maxFailedPercent: 120 } }), /rollout\.halt\.maxFailedPercent/);
    assert.match(refusal({ surprise: true }), /rollout/);
    assert.match(refusal(undefined, { edge: { sharedTaskQueue: 'q' } }), /edge\.sharedTaskQueue: only with a rollout plan/);
  });

  it('a big wave run as parts reads as one wave: counts added, rows in order, the last part\'s tally and halt', () => {
    const part = (ids: string[], failed: number, tally: WaveResult['tally'], halted?: WaveResult['halted']): WaveResult => ({
      name: 'wave-1', mode: 'deploy', startedAt: 't0', finishedAt: `t-${ids[0]}`,
      counts: { total: ids.length, pending: 0, running: 0, validated: ids.length - failed, failed, skipped: 0, reverted: 0, cancelled: 0 },
      devices: ids.map((deviceId) => ({ deviceId, wave: 'wave-1', outcome: 'validated' as const })), notReached: [], tally, ...(halted ? { halted } : {}),
    });
    const halt = { wave: 'wave-1', reason: '2 devices failed, more than maxFailed 1', tally: { done: 4, failed: 2, offline: 0 } };
    const merged = mergeWaveResults(part(['a', 'b'], 1, { done: 2, failed: 1, offline: 0 }), part(['c', 'd'], 1, { done: 4, failed: 2, offline: 0 }, halt));
    assert.deepEqual(merged.devices.map((d) => d.deviceId), ['a', 'b', 'c', 'd']);
    assert.equal(merged.counts.total, 4);
    assert.equal(merged.counts.failed, 2);
    assert.deepEqual(merged.tally, { done: 4, failed: 2, offline: 0 });
    assert.equal(merged.halted, halt);
    assert.equal(merged.startedAt, 't0');
    assert.equal(merged.finishedAt, 't-c');
  });
});
