// `edgeship start`'s fleet-rollout flags (clients/rolloutFlags.ts): flag → request `rollout`,
// merged over the request file's, and bad values refused with a message naming the flag. The
// last cases run bin/edgeship --dry-run: exit 2, one message, no stack trace, no Temporal.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { InvalidDeployRequest, parseDeployRequest } from '../../common/request';
import { applyRolloutFlags, RolloutFlagError, rolloutFromFlags, withFlagName, type RolloutFlags } from '../../clients/rolloutFlags';
import { buildRawRequest } from '../../clients/commands/start';
import { planWaves } from '../../workflows/fleet/plan';

const devices = ['pi-01', 'pi-02', 'pi-03', 'pi-04', 'pi-05', 'pi-06', 'pi-07', 'pi-08'];
const base = (): Record<string, unknown> => ({ modelName: 'm', source: { kind: 'checkpoint', checkpointPath: '/c.pt' }, target: 'cpu-int8', devices });

function flagError(flags: RolloutFlags, raw: Record<string, unknown> = base()): string {
  try {
    applyRolloutFlags(raw, flags);
  } catch (err) {
    assert.ok(err instanceof RolloutFlagError, String(err));
    return err.message;
  }
  assert.fail('the flags were accepted');
}

function schemaIssues(flags: RolloutFlags): string[] {
  try {
    parseDeployRequest(applyRolloutFlags(base(), flags));
  } catch (err) {
    assert.ok(err instanceof InvalidDeployRequest, String(err));
    return err.issues.map((i) => withFlagName(i, flags));
  }
  assert.fail('the request was accepted');
}

describe('edgeship start: rollout flags → request.rollout', () => {
  it('no rollout flag: no plan (and a file\'s plan is left as it is)', () => {
    assert.equal(rolloutFromFlags({}), undefined);
    assert.equal(rolloutFromFlags({ approveEachWave: false }), undefined);
    const raw = { ...base(), rollout: { canary: { count: 2 } } };
    assert.deepEqual(applyRolloutFlags(raw, {}).rollout, { canary: { count: 2 } });
    assert.equal(parseDeployRequest(applyRolloutFlags(base(), {})).rollout, undefined);
  });

  it('any one flag turns the plan on; the rest take the schema defaults', () => {
    const plan = parseDeployRequest(applyRolloutFlags(base(), { maxParallel: '3' })).rollout;
    assert.ok(plan);
    assert.equal(plan.maxParallel, 3);
    assert.deepEqual(plan.canary, { count: 1 });
    assert.deepEqual(plan.waves, []);
    assert.equal(plan.onHalt, 'revert-all');
    assert.equal(plan.approval, 'after-canary');
    assert.equal(plan.offlineAfter, 30_000);
    const on = parseDeployRequest(applyRolloutFlags(base(), { approveEachWave: true })).rollout;
    assert.equal(on?.approval, 'every-wave');
  });

  it('every flag maps to its field', () => {
    const rollout = rolloutFromFlags({
      canary: '2',
      waves: '2,25%,50%',
      maxParallel: '4',
      soak: '90s',
      haltMaxFailed: '1',
      haltMaxFailedPercent: '12.5',
      haltMinDone: '4',
      onHalt: 'keep-validated',
      approveEachWave: true,
      offline: 'catch-up',
      offlineAfter: '45s',
      rolloutDeadline: '2h',
    });
    assert.deepEqual(rollout, {
      canary: { count: 2 },
      waves: [2, '25%', '50%'],
      maxParallel: 4,
      soak: '90s',
      halt: { maxFailed: 1, maxFailedPercent: 12.5, minDoneForPercent: 4 },
      onHalt: 'keep-validated',
      approval: 'every-wave',
      offline: 'catch-up',
      offlineAfter: '45s',
      deadline: '2h',
    });
    const plan = parseDeployRequest({ ...base(), rollout }).rollout;
    assert.ok(plan);
    assert.equal(plan.soak, 90_000);
    assert.equal(plan.offlineAfter, 45_000);
    assert.equal(plan.deadline, 7_200_000);
    assert.deepEqual(planWaves(devices, plan).map((w) => w.devices.length), [2, 2, 2, 2]);
  });

  it('--canary: a number is a count, anything else comma-separated ids', () => {
    assert.deepEqual(rolloutFromFlags({ canary: '3' })?.canary, { count: 3 });
    assert.deepEqual(rolloutFromFlags({ canary: 'pi-04' })?.canary, ['pi-04']);
    assert.deepEqual(rolloutFromFlags({ canary: 'pi-04, pi-07' })?.canary, ['pi-04', 'pi-07']);
    const plan = parseDeployRequest(applyRolloutFlags(base(), { canary: 'pi-04,pi-07' })).rollout;
    assert.ok(plan);
    assert.deepEqual(planWaves(devices, plan)[0].devices, ['pi-04', 'pi-07']);
  });

  it('durations: digits are milliseconds, "0" means no soak, ms strings go to the schema', () => {
    assert.equal(rolloutFromFlags({ soak: '0' })?.soak, 0);
    assert.equal(rolloutFromFlags({ soak: '0s' })?.soak, 0);
    assert.equal(rolloutFromFlags({ soak: '1500' })?.soak, 1500);
    assert.equal(rolloutFromFlags({ offlineAfter: '2m' })?.offlineAfter, '2m');
    assert.equal(parseDeployRequest(applyRolloutFlags(base(), { soak: '0' })).rollout?.soak, 0);
  });

  it('flags go over the request file\'s rollout, halt field by field', () => {
    const raw = { ...base(), rollout: { canary: ['pi-08'], waves: [3], halt: { maxFailed: 2, countOffline: true }, onHalt: 'keep-validated' } };
    const out = applyRolloutFlags(raw, { haltMinDone: '5', waves: '50%' });
    assert.deepEqual(out.rollout, { canary: ['pi-08'], waves: ['50%'], halt: { maxFailed: 2, countOffline: true, minDoneForPercent: 5 }, onHalt: 'keep-validated' });
  });

  it('the same, through buildRawRequest with a request file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edgeship-rollout-flags-'));
    const file = path.join(dir, 'deploy.json');
    writeFileSync(file, JSON.stringify({ ...base(), rollout: { canary: { count: 2 }, maxParallel: 7 } }));
    const { raw } = buildRawRequest({ request: file, waves: '3', onHalt: 'keep-validated' });
    const plan = parseDeployRequest(raw).rollout;
    assert.ok(plan);
    assert.deepEqual(plan.canary, { count: 2 });
    assert.equal(plan.maxParallel, 7);
    assert.deepEqual(plan.waves, [3]);
    assert.equal(plan.onHalt, 'keep-validated');
  });

  it('bad shapes are refused naming the flag and the value', () => {
    assert.match(flagError({ maxParallel: 'abc' }), /^--max-parallel: expected a whole number, got "abc"$/);
    assert.match(flagError({ maxParallel: '2.5' }), /^--max-parallel: /);
    assert.match(flagError({ haltMaxFailed: '-1' }), /^--halt-max-failed: /);
    assert.match(flagError({ haltMinDone: 'ten' }), /^--halt-min-done: /);
    assert.match(flagError({ haltMaxFailedPercent: 'lots' }), /^--halt-max-failed-percent: expected a number/);
    assert.match(flagError({ waves: '2,x' }), /^--waves: .*"x"/);
    assert.match(flagError({ waves: '2,,3' }), /^--waves: .*empty/);
    assert.match(flagError({ canary: 'pi-01,' }), /^--canary: .*empty/);
    assert.match(flagError({ soak: 'soon' }), /^--soak: .*"soon"/);
    assert.match(flagError({ offlineAfter: '0' }), /^--offline-after: expected a positive duration/);
    assert.match(flagError({ rolloutDeadline: 'forever' }), /^--rollout-deadline: /);
    assert.match(flagError({ onHalt: 'panic' }), /^--on-halt: expected one of revert-all, keep-validated; got "panic"$/);
    assert.match(flagError({ offline: 'wait' }), /^--offline: expected one of skip, catch-up; got "wait"$/);
    assert.match(flagError({ approveEachWave: true }, { ...base(), approval: { required: false } }), /^--approve-each-wave .*approval is turned off/);
  });

  it('well-shaped but bad values are the schema\'s to refuse, the issue naming the flag', () => {
    assert.deepEqual(schemaIssues({ maxParallel: '0' }), ['rollout.maxParallel (--max-parallel): Too small: expected number to be >=1']);
    assert.deepEqual(schemaIssues({ canary: 'pi-09' }), ['rollout.canary (--canary): not in devices: pi-09']);
    assert.deepEqual(schemaIssues({ canary: '9' }), ['rollout.canary.count (--canary): 9 canary devices asked, 8 listed']);
    assert.deepEqual(schemaIssues({ waves: '150%' }), ['rollout.waves.0 (--waves): a percentage such as "25%"']);
    assert.deepEqual(schemaIssues({ haltMaxFailedPercent: '101' }), ['rollout.halt.maxFailedPercent (--halt-max-failed-percent): Too big: expected number to be <=100']);
    assert.equal(withFlagName('devices: list at least one device id', { canary: '1' }), 'devices: list at least one device id');
  });
});

describe('edgeship start --dry-run with rollout flags', function () {
  // Two CLI runs per case (tsx starts each): slow on a busy 2-core machine.
  this.timeout(240_000);
  const EDGESHIP = path.resolve(__dirname, '..', '..', 'bin', 'edgeship');
  const args = ['start', '--model', 'm', '--export-command', '["python","export.py"]', '--target', 'cpu-int8', '--devices', 'pi-01,pi-02,pi-03,pi-04', '--dry-run'];
  const edgeship = (extra: string[]): { status: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(EDGESHIP, [...args, ...extra], { encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it('prints the parsed plan and the waves it makes', () => {
    const r = edgeship(['--canary', '1', '--waves', '50%', '--max-parallel', '4', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { request: { rollout: { canary: unknown; waves: unknown; maxParallel: number } } };
    assert.deepEqual(out.request.rollout.canary, { count: 1 });
    assert.deepEqual(out.request.rollout.waves, ['50%']);
    assert.equal(out.request.rollout.maxParallel, 4);
    const text = edgeship(['--canary', '1', '--waves', '50%', '--max-parallel', '4']);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /fleet rollout: canary pi-01 → wave-1 \(2\) → wave-2 \(1\); 4 at once; approval after-canary; on halt revert-all/);
  });

  it('a bad value: exit 2, the flag named on one line, no stack trace', () => {
    const r = edgeship(['--max-parallel', 'lots']);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.trim(), 'edgeship: --max-parallel: expected a whole number, got "lots" (see `edgeship start --help`)');
    const s = edgeship(['--canary', 'pi-09']);
    assert.equal(s.status, 2, s.stderr);
    assert.match(s.stderr, /rollout\.canary \(--canary\): not in devices: pi-09/);
    assert.doesNotMatch(s.stderr, /\n\s+at /, 'no stack trace');
  });
});
