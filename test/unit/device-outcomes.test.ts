import assert from 'node:assert/strict';
import type { RestoreBackupResult, ValidationReport } from '../../common/contracts';
import type { FleetDeviceRow } from '../../common/rollout';
import type { DeviceState } from '../../workflows/report';
import {
  deployFailed,
  deviceRolloutFailed,
  measuredValidation,
  ownerOutcomeOfDevice,
  ownerOutcomeOfRow,
  phaseAfterDiscard,
  phaseAfterRestore,
  restoreChangedDevice,
  rowFailure,
  rowPhase,
  stageOfStep,
  stepPhase,
  swapMayHaveSwitched,
  validationFigures,
} from '../../workflows/device/outcomes';

const restore = (outcome: RestoreBackupResult['outcome'], extra: Partial<RestoreBackupResult> = {}): RestoreBackupResult => ({
  deviceId: 'pi-01',
  outcome,
  restoredSha256: outcome === 'first-install-removed' ? null : 'b'.repeat(64),
  servedSha256Prefix: null,
  durationMs: 1,
  ...extra,
});

const row = (r: Partial<FleetDeviceRow>): FleetDeviceRow => ({ deviceId: 'pi-01', wave: 'canary', outcome: 'pending', ...r });

const report = (): ValidationReport =>
  ({
    passed: false,
    failures: ['p95 41 ms > 30 ms'],
    servedSha256Prefix: 'a'.repeat(16),
    latencyMs: { count: 200, p50: 10, p95: 41, p99: 50 },
    throughput: { rps: 120 },
    outputs: { minReferenceCosine: 0.999 },
    durationMs: 3200,
  }) as unknown as ValidationReport;

describe('What happened to a device, in the report’s words (workflows/device/outcomes.ts)', () => {
  describe('did the restore change the device?', () => {
    it('says yes when it put a backup back, removed a first install, or found it already restored', () => {
      for (const outcome of ['restored', 'first-install-removed', 'already-restored'] as const) {
        assert.equal(restoreChangedDevice(restore(outcome)), true, outcome);
        assert.equal(phaseAfterRestore(restore(outcome)), 'restored', outcome);
      }
    });

    it('says no when nothing of this run was switched or someone else swapped since, and the phase says skipped', () => {
      for (const outcome of ['nothing-switched', 'superseded'] as const) {
        assert.equal(restoreChangedDevice(restore(outcome)), false, outcome);
        assert.equal(phaseAfterRestore(restore(outcome)), 'restore-skipped', outcome);
      }
    });
  });

  describe('a plain deployment’s device phases', () => {
    it('names the phase of each step while it runs, after it succeeded and after it failed', () => {
      assert.deepEqual(['running', 'ok', 'failed'].map((e) => stepPhase('stage', e as 'running')), ['staging', 'staged', 'push-failed']);
      assert.deepEqual(['running', 'ok', 'failed'].map((e) => stepPhase('swap', e as 'running')), ['swapping', 'swapped', 'swap-failed']);
      assert.deepEqual(['running', 'ok', 'failed'].map((e) => stepPhase('validate', e as 'running')), ['validating', 'validated', 'validation-failed']);
      assert.deepEqual(['running', 'ok', 'failed'].map((e) => stepPhase('restore', e as 'running')), ['restoring', 'restored', 'restore-failed']);
    });

    it('calls a device discarded only when nothing was swapped on it', () => {
      assert.equal(phaseAfterDiscard('staged'), 'discarded');
      assert.equal(phaseAfterDiscard('push-failed'), 'discarded');
      assert.equal(phaseAfterDiscard('restore-skipped'), 'restore-skipped');
    });
  });

  describe('what a failed step says about the device', () => {
    it('takes a failed swap as possibly switched unless it says it switched nothing', () => {
      assert.equal(swapMayHaveSwitched({ details: { switched: false } }), false);
      assert.equal(swapMayHaveSwitched({ details: { switched: true } }), true);
      assert.equal(swapMayHaveSwitched({}), true, 'a timed-out or cancelled swap may have switched');
    });

    it('keeps the figures a failed validation measured, and nothing from a failure without them', () => {
      assert.equal(measuredValidation({ details: report() })?.failures[0], 'p95 41 ms > 30 ms');
      assert.equal(measuredValidation({ details: { reason: 'no worker' } }), undefined);
      assert.equal(measuredValidation({}), undefined);
      assert.deepEqual(validationFigures(report()), { servedSha256Prefix: 'a'.repeat(16), p50Ms: 10, p95Ms: 41, p99Ms: 50, rps: 120, minReferenceCosine: 0.999 });
    });

    it('puts a device step’s failure at the report stage it belongs to', () => {
      assert.deepEqual(['stage', 'swap', 'validate', 'soak', 'probe', 'restore'].map((s) => stageOfStep(s as 'stage')), ['stage', 'swap', 'validate', 'rollout', 'compensate', 'compensate']);
    });
  });

  describe('a fleet row', () => {
    it('shows a failed device as restored, skipped or discarded by what its undo did', () => {
      assert.equal(rowPhase(row({ outcome: 'failed', restore: { outcome: 'restored', restoredSha256: 'b' } }), 'leased'), 'restored');
      assert.equal(rowPhase(row({ outcome: 'failed', restore: { outcome: 'nothing-switched', restoredSha256: null } }), 'leased'), 'restore-skipped');
      assert.equal(rowPhase(row({ outcome: 'failed' }), 'leased'), 'discarded');
    });

    it('lets the revert have the last word on a validated device', () => {
      assert.equal(rowPhase(row({ outcome: 'validated', revert: 'reverted', restore: { outcome: 'superseded', restoredSha256: 'c' } }), 'validated'), 'restore-skipped');
      assert.equal(rowPhase(row({ outcome: 'validated', revert: 'revert-failed' }), 'validated'), 'restore-failed');
    });

    it('turns a row’s "<type>: <message>" back into a failure at the step’s stage', () => {
      assert.deepEqual(rowFailure(row({ outcome: 'failed', failedStep: 'soak', error: 'SoakDegraded: degraded during the soak: 5xx' })), { stage: 'rollout', deviceId: 'pi-01', type: 'SoakDegraded', message: 'degraded during the soak: 5xx' });
      assert.equal(rowFailure(row({ outcome: 'failed' })), undefined);
    });
  });

  describe('what the owner records when the lease goes back', () => {
    const device = (d: Partial<DeviceState>): DeviceState => ({ deviceId: 'pi-01', phase: 'leased', ...d });

    it('records a plain deployment’s device as rolled back only when the restore changed it', () => {
      assert.equal(ownerOutcomeOfDevice(device({ phase: 'restored', restore: restore('restored') }), 'rolled-back', 'a').kind, 'rolled-back');
      assert.deepEqual(ownerOutcomeOfDevice(device({ phase: 'restore-skipped', restore: restore('superseded', { reason: 'current is someone else’s' }) }), 'rolled-back', 'a'), { kind: 'untouched', deploymentStatus: 'rolled-back', reason: 'current is someone else’s' });
    });

    it('records a plain deployment’s device as deployed only when the run completed', () => {
      assert.equal(ownerOutcomeOfDevice(device({ phase: 'validated' }), 'completed', 'a').kind, 'deployed');
      assert.equal(ownerOutcomeOfDevice(device({ phase: 'validated' }), 'rollback-failed', 'a').kind, 'unknown');
      assert.equal(ownerOutcomeOfDevice(device({ phase: 'staged' }), 'rejected', 'a').kind, 'untouched');
    });

    it('records a fleet device by its row, with the revert first and the restore’s outcome as the reason it was left alone', () => {
      assert.deepEqual(ownerOutcomeOfRow(row({ outcome: 'validated' }), 'halted', 'a', ['b']), { kind: 'deployed', servesSha256: 'a', deploymentStatus: 'halted', backups: ['b'] });
      assert.deepEqual(ownerOutcomeOfRow(row({ outcome: 'validated', revert: 'reverted', restore: { outcome: 'nothing-switched', restoredSha256: null } }), 'rolled-back', 'a', undefined), { kind: 'untouched', deploymentStatus: 'rolled-back', reason: 'nothing-switched' });
      assert.deepEqual(ownerOutcomeOfRow(row({ outcome: 'failed', restore: { outcome: 'restored', restoredSha256: 'b' } }), 'halted', 'a', undefined), { kind: 'rolled-back', servesSha256: 'b', deploymentStatus: 'halted' });
      assert.equal(ownerOutcomeOfRow(row({ outcome: 'skipped-offline', error: 'DeviceOffline: gone' }), 'completed', 'a', undefined).kind, 'skipped-offline');
    });
  });

  describe('which outcomes count as failed', () => {
    it('a deploy failed when the device failed, restored or not; never for a validated, offline, reverted or pending device', () => {
      assert.deepEqual((['failed', 'failed-unrestored'] as const).map(deployFailed), [true, true]);
      assert.deepEqual((['validated', 'skipped-offline', 'reverted', 'revert-failed', 'cancelled', 'pending', 'not-reached', 'awaiting-catch-up'] as const).map(deployFailed), [false, false, false, false, false, false, false, false]);
    });

    it('a device rollout closes Failed when its deploy failed or its revert did', () => {
      assert.deepEqual((['failed', 'failed-unrestored', 'revert-failed'] as const).map(deviceRolloutFailed), [true, true, true]);
      assert.deepEqual((['validated', 'skipped-offline', 'reverted', 'cancelled'] as const).map(deviceRolloutFailed), [false, false, false, false]);
    });
  });
});
