// Test fault injection on a simulated device (sim/faults.ts): fleet.injectFault makes the
// device's real restart command fail, so the real swapModel fails (RestartCommandFailed, switched)
// and the real restoreBackup brings the device back (which spends a reject-new-model fault);
// restart-fails-once fails one restart and the next swap attempt succeeds.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createEdgeActivities } from '../../activities/edge';
import { waitForServedSha } from '../../activities/edge/health';
import type { EdgeActivities, SwapFailureDetails } from '../../common/contracts';
import { startSimulatedFleet, type SimDevice, type SimulatedFleet } from '../../sim/fleet';
import { testFaultOnRestart } from '../../sim/faults';
import { isAlive, readPid } from '../../sim/pidfile';
import { buildTestModels, type TestModel, type TestModels } from '../helpers/edgeModels';
import { runActivity } from '../helpers/sshPushCases';

async function stage(sim: SimDevice, model: TestModel): Promise<void> {
  const staged = path.join(sim.spec.modelDir, 'staging', `${model.sha256}.onnx`);
  await copyFile(model.path, staged);
  await copyFile(model.metadataPath, `${staged}.meta.json`);
}

describe('simulated fleet: test fault injection', function () {
  this.timeout(180_000);
  let models: TestModels;
  let work: string;
  let fleet: SimulatedFleet;
  let sim: SimDevice;
  let acts: EdgeActivities;

  before(async () => {
    models = (await buildTestModels('tiny', ['good', 'constant'])) as TestModels;
    work = await mkdtemp(path.join(tmpdir(), 'edgeship-sim-fault-'));
    fleet = await startSimulatedFleet({ count: 2, baseDir: path.join(work, 'fleet'), sshServer: 'embedded', baseline: { modelPath: models.good.path, metadataPath: models.good.metadataPath } });
    sim = fleet.devices[1];
    acts = createEdgeActivities(sim.spec, { pollIntervalMs: 100, restartTimeoutMs: 60_000 });
    await waitForServedSha({ healthUrl: sim.spec.healthUrl, sha256: models.good.sha256, timeoutMs: 30_000 });
  });

  after(async () => {
    await fleet?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('reject-new-model: every swap attempt fails at the restart; the restore brings the device back and spends the fault', async () => {
    assert.throws(() => fleet.injectFault('sim-9', 'reject-new-model'), /no simulated device sim-9/);
    const fault = fleet.injectFault(sim.id, 'reject-new-model');
    assert.equal(fault.allowSha256, models.good.sha256, 'only the model served at injection loads');
    assert.equal(fleet.faultOf(fleet.devices[0].id), undefined, 'the other device has no fault');
    await stage(sim, models.constant);
    const run = { deploymentId: 'dep-fault', runId: 'run-1' };
    const swapFails = (err: unknown): boolean => {
      assert.ok(err instanceof ApplicationFailure, String(err));
      assert.equal(err.type, 'RestartCommandFailed');
      assert.equal(err.nonRetryable, false, 'retryable, as a real restart failure is: the retries fail too');
      assert.match(err.message, /test fault injection \(reject-new-model\)/);
      assert.equal((err.details?.[0] as SwapFailureDetails).switched, true, 'current was switched: the rollout must restore');
      return true;
    };
    const swap = () => runActivity(() => acts.swapModel({ ...run, sha256: models.constant.sha256, ext: 'onnx', healthTimeoutMs: 5000 }));
    await assert.rejects(swap(), swapFails);
    const pid = readPid(sim.layout.runtimePid);
    assert.ok(pid === undefined || !isAlive(pid), "the runtime is down, as after a crash on load");
    await assert.rejects(swap(), swapFails, 'a retry of the swap fails the same way');
    assert.ok(fleet.faultOf(sim.id), 'the fault holds until the device is back on its model');
    assert.match(await readFile(sim.layout.runtimeLog, 'utf8'), /test fault injection/);

    const restored = await runActivity(() => acts.restoreBackup({ ...run, backup: null, healthTimeoutMs: 30_000 }));
    assert.equal(restored.outcome, 'restored');
    assert.equal(restored.restoredSha256, models.good.sha256);
    assert.equal(fleet.faultOf(sim.id), undefined, 'the restore spent the fault');
    await waitForServedSha({ healthUrl: sim.spec.healthUrl, sha256: models.good.sha256, timeoutMs: 10_000 });
  });

  it('restart-fails-once: one failed restart, then the same swap run succeeds', async () => {
    fleet.injectFault(sim.id, 'restart-fails-once');
    await stage(sim, models.constant);
    const input = { deploymentId: 'dep-flaky', runId: 'run-1', sha256: models.constant.sha256, ext: 'onnx' as const, healthTimeoutMs: 30_000 };
    await assert.rejects(runActivity(() => acts.swapModel(input)), (err: unknown) => err instanceof ApplicationFailure && err.type === 'RestartCommandFailed' && /restart-fails-once/.test(err.message));
    assert.equal(fleet.faultOf(sim.id), undefined, 'spent by the one restart');
    const swapped = await runActivity(() => acts.swapModel(input));
    assert.equal(swapped.servedSha256Prefix, models.constant.sha256.slice(0, 16));
    assert.equal(swapped.backup?.sha256, models.good.sha256);
  });

  it('clearFault removes an unspent fault; restarts are normal again', () => {
    fleet.injectFault(sim.id, 'reject-new-model');
    assert.equal(fleet.clearFault(sim.id), true);
    assert.equal(fleet.clearFault(sim.id), false);
    assert.equal(testFaultOnRestart(sim.dir), undefined);
  });
});
