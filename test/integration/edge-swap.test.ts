// swapModel, restoreBackup and discardStaged against the REAL runtime (edge/cli.ts, onnxruntime)
// of simulated devices, whose restart command really stops and starts that runtime process.
// Models are real ONNX encoders exported by PyTorch (test/fixtures/make_test_models.py).
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { copyFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createEdgeActivities } from '../../activities/edge';
import { waitForServedSha } from '../../activities/edge/health';
import { newJournal, readJournal, writeJournal } from '../../activities/edge/journal';
import { backupPath, readCurrent, releasePath, sha256File, switchCurrent } from '../../activities/edge/modelDir';
import { runRestartCommand } from '../../activities/edge/restart';
import { createPushArtifact } from '../../activities/gpu/pushArtifact';
import type { EdgeActivities, ModelMetadata, SwapFailureDetails, SwapModelInput, SwapModelResult } from '../../common/contracts';
import type { DeviceSpec } from '../../lib/inventory';
import { readPid } from '../../sim/pidfile';
import { startSimulatedFleet, type SimDevice, type SimulatedFleet } from '../../sim/fleet';
import { buildTestModels, type TestModel, type TestModels } from '../helpers/edgeModels';
import { runActivity } from '../helpers/sshPushCases';

const HEALTH_TIMEOUT_MS = 4000;
const activityOptions = { pollIntervalMs: 100, restartTimeoutMs: 60_000 };

async function health(device: DeviceSpec): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(device.healthUrl);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function stage(device: DeviceSpec, model: TestModel): Promise<void> {
  const staged = path.join(device.modelDir, 'staging', `${model.sha256}.onnx`);
  await copyFile(model.path, staged);
  await copyFile(model.metadataPath, `${staged}.meta.json`);
}

/** Bytes that hash correctly and carry valid metadata, but are no ONNX model. */
async function corruptModel(dir: string, goodMeta: ModelMetadata): Promise<TestModel> {
  const bytes = randomBytes(4096);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const file = path.join(dir, `${sha256}.onnx`);
  await writeFile(file, bytes);
  await writeFile(`${file}.meta.json`, JSON.stringify({ ...goodMeta, sha256, sizeBytes: bytes.length }));
  return { path: file, metadataPath: `${file}.meta.json`, sha256 };
}

/** Every failure of swapModel says whether `current` had been switched by the run. */
function switchedOf(f: ApplicationFailure): boolean | undefined {
  return (f.details?.[0] as SwapFailureDetails | undefined)?.switched;
}

const R1 = 'run-1';
const R2 = 'run-2';

/**
 * The same encoder as `model` with another sha: an ONNX ModelProto with a doc_string (field 6)
 * appended, which protobuf reads as just another field. A third loadable version for tests.
 */
async function relabelled(model: TestModel, dir: string, label: string): Promise<TestModel> {
  const text = Buffer.from(label, 'utf8');
  const bytes = Buffer.concat([await readFile(model.path), Buffer.from([0x32, text.length]), text]);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const file = path.join(dir, `${sha256}.onnx`);
  await writeFile(file, bytes);
  const meta = JSON.parse(await readFile(model.metadataPath, 'utf8')) as ModelMetadata;
  await writeFile(`${file}.meta.json`, JSON.stringify({ ...meta, sha256, sizeBytes: bytes.length }));
  return { path: file, metadataPath: `${file}.meta.json`, sha256 };
}

function failsWith(type: string, check: (f: ApplicationFailure) => void = () => undefined) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, type, err.message);
    check(err);
    return true;
  };
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await work();
  return { value, ms: Math.round(performance.now() - t0) };
}

const figures: Record<string, number> = {};

describe('edge swap and restore on the real runtime', function () {
  this.timeout(120_000);
  let models: TestModels;
  let goodMeta: ModelMetadata;
  let work: string;
  let corrupt: TestModel;
  let third: TestModel; // loadable, neither models.good nor models.constant
  const fleets: SimulatedFleet[] = [];

  before(async () => {
    models = (await buildTestModels('tiny')) as TestModels;
    goodMeta = JSON.parse(await readFile(models.good.metadataPath, 'utf8')) as ModelMetadata;
    work = await mkdtemp(path.join(tmpdir(), 'edgeship-swap-'));
    corrupt = await corruptModel(work, goodMeta);
    third = await relabelled(models.good, work, 'edgeship test: a third version');
  });

  after(async () => {
    await Promise.all(fleets.map((f) => f.stop()));
    await rm(work, { recursive: true, force: true });
    if (Object.keys(figures).length) console.log('      measured (ms):', JSON.stringify(figures));
  });

  async function device(id: string, baseline?: TestModel): Promise<{ sim: SimDevice; spec: DeviceSpec; acts: EdgeActivities; fleet: SimulatedFleet }> {
    const fleet = await startSimulatedFleet({
      count: 1,
      ids: [id],
      baseDir: path.join(work, id),
      sshServer: 'embedded', // SSH is not used here; the embedded server is the cheapest to run
      baseline: baseline && { modelPath: baseline.path, metadataPath: baseline.metadataPath },
    });
    fleets.push(fleet);
    const sim = fleet.devices[0];
    return { sim, spec: sim.spec, acts: createEdgeActivities(sim.spec, activityOptions), fleet };
  }

  describe('a device serving model A', () => {
    let sim: SimDevice;
    let spec: DeviceSpec;
    let acts: EdgeActivities;
    let A: TestModel;
    let B: TestModel;
    let swapToB: SwapModelResult;

    before(async () => {
      A = models.good;
      B = models.constant; // a different, loadable encoder: another sha
      ({ sim, spec, acts } = await device('swap-dev', A));
      await waitForServedSha({ healthUrl: spec.healthUrl, sha256: A.sha256, timeoutMs: 30_000 }); // the baseline loads
    });

    const runtimePid = (): number | undefined => readPid(sim.layout.runtimePid);
    const backups = async (): Promise<string[]> => (await readdir(path.join(spec.modelDir, 'backups'))).filter((n) => !n.endsWith('.meta.json'));

    it('rejects a swap whose artifact is not staged, or staged with other bytes, and touches nothing', async () => {
      const missing = 'e'.repeat(64);
      const untouched = (f: ApplicationFailure): void => {
        assert.equal(f.nonRetryable, true);
        assert.equal(switchedOf(f), false, 'the failure says nothing was switched');
      };
      await assert.rejects(acts.swapModel({ deploymentId: 'dep-missing', runId: R1, sha256: missing, ext: 'onnx' }), failsWith('ArtifactNotStaged', untouched));
      await copyFile(models.nan.path, path.join(spec.modelDir, 'staging', `${missing}.onnx`));
      await assert.rejects(acts.swapModel({ deploymentId: 'dep-missing', runId: R1, sha256: missing, ext: 'onnx' }), failsWith('ArtifactShaMismatch', untouched));
      await assert.rejects(acts.swapModel({ deploymentId: 'dep-x', runId: R1, sha256: '../../etc', ext: 'onnx' }), failsWith('InvalidRequest', untouched));
      await assert.rejects(acts.swapModel({ deploymentId: 'dep-x', runId: '', sha256: A.sha256, ext: 'onnx' }), failsWith('InvalidRequest', untouched));
      assert.equal((await readCurrent(spec.modelDir))?.file, releasePath(spec.modelDir, A.sha256, 'onnx'));
      assert.deepEqual(await backups(), []);
      assert.equal(await readJournal(spec.modelDir, 'dep-missing', R1), null);
      await acts.discardStaged({ deploymentId: 'dep-missing', runId: R1, sha256: missing, ext: 'onnx' });
    });

    it('swaps to B: a real backup of A, atomic switch, restart, /healthz reports B', async () => {
      await stage(spec, B);
      const pidBefore = runtimePid();
      const env = new MockActivityEnvironment();
      const beats: Array<Record<string, unknown>> = [];
      env.on('heartbeat', (d: Record<string, unknown>) => beats.push(d));
      const input: SwapModelInput = { deploymentId: 'dep-b', runId: R1, sha256: B.sha256, ext: 'onnx', healthTimeoutMs: 30_000 };
      const { value, ms } = await timed(() => env.run<[SwapModelInput], SwapModelResult, EdgeActivities['swapModel']>(acts.swapModel, input));
      swapToB = value;
      figures.swapTotal = ms;
      figures.swapRestart = value.restartMs;
      figures.swapHealthyAfter = value.healthyAfterMs;

      assert.equal(value.reused, false);
      assert.equal(value.servedSha256Prefix, B.sha256.slice(0, 16));
      assert.deepEqual(value.backupsOnDevice, [A.sha256]);
      assert.notEqual(runtimePid(), pidBefore, 'the runtime process was really restarted');
      const h = await health(spec);
      assert.equal(h.status, 200);
      assert.equal(h.body.sha256, B.sha256);

      const backup = value.backup;
      assert.ok(backup);
      assert.equal(backup.sha256, A.sha256);
      assert.equal(backup.releasePath, releasePath(spec.modelDir, A.sha256, 'onnx'));
      assert.equal(path.dirname(backup.backupPath), path.join(spec.modelDir, 'backups'));
      assert.equal(await sha256File(backup.backupPath), A.sha256);
      assert.notEqual((await stat(backup.backupPath)).ino, (await stat(backup.releasePath)).ino, 'a copy, not a link');
      assert.deepEqual(JSON.parse(await readFile(`${backup.backupPath}.meta.json`, 'utf8')), JSON.parse(await readFile(A.metadataPath, 'utf8')));

      assert.equal((await readCurrent(spec.modelDir))?.file, releasePath(spec.modelDir, B.sha256, 'onnx'));
      assert.deepEqual(await readdir(path.join(spec.modelDir, 'staging')), [], 'the staged artifact became the release');
      assert.equal((await readJournal(spec.modelDir, 'dep-b', R1))?.phase, 'healthy');
      const stages = new Set(beats.map((b) => String(b.stage)));
      assert.ok(stages.has('restart') || [...stages].some((s) => s.startsWith('health')), `heartbeats: ${[...stages].join(', ')}`);
    });

    it('a retry of the same run reuses the swap: no new backup, no restart', async () => {
      const pid = runtimePid();
      const before = await backups();
      const again = await acts.swapModel({ deploymentId: 'dep-b', runId: R1, sha256: B.sha256, ext: 'onnx', healthTimeoutMs: 5000 });
      assert.equal(again.reused, true);
      assert.deepEqual(again.backup, swapToB.backup);
      assert.equal(again.servedSha256Prefix, B.sha256.slice(0, 16));
      assert.deepEqual(again.backupsOnDevice, [A.sha256]);
      assert.equal(runtimePid(), pid);
      assert.deepEqual(await backups(), before);
    });

    it('a re-run of the deployment id (a new run) swaps on its own, and its rollback restores its own backup', async () => {
      // The device serves B (run 1 of dep-b). Run 2 of dep-b deploys B again: what it replaces is
      // B, so B is what its rollback must bring back, never run 1's backup (A, two models old).
      const pid = runtimePid();
      const rerun = await acts.swapModel({ deploymentId: 'dep-b', runId: R2, sha256: B.sha256, ext: 'onnx', healthTimeoutMs: 30_000 });
      assert.equal(rerun.reused, false, 'an independent swap, not run 1 reused');
      assert.equal(rerun.backup?.sha256, B.sha256);
      assert.notEqual(runtimePid(), pid, 'restarted by its own swap');
      assert.deepEqual(rerun.backupsOnDevice, [B.sha256, A.sha256]);
      // Within one run a deployment still names one model.
      await assert.rejects(
        acts.swapModel({ deploymentId: 'dep-b', runId: R2, sha256: A.sha256, ext: 'onnx', healthTimeoutMs: 5000 }),
        failsWith('InvalidRequest', (f) => {
          assert.equal(f.nonRetryable, true);
          assert.equal(typeof switchedOf(f), 'boolean');
        }),
      );

      const restored = await acts.restoreBackup({ deploymentId: 'dep-b', runId: R2, backup: rerun.backup, healthTimeoutMs: 30_000 });
      assert.equal(restored.outcome, 'restored');
      assert.equal(restored.restoredSha256, B.sha256);
      assert.equal((await health(spec)).body.sha256, B.sha256, 'still B: the rollback restored what run 2 replaced');
      assert.equal((await readCurrent(spec.modelDir))?.file, releasePath(spec.modelDir, B.sha256, 'onnx'));
      assert.equal((await readJournal(spec.modelDir, 'dep-b', R1))?.phase, 'healthy', 'run 1\'s journal is untouched');
      assert.equal((await readJournal(spec.modelDir, 'dep-b', R2))?.phase, 'restored');
    });

    it('a model the runtime cannot load fails its health check within the bound; restoreBackup brings B back, twice safely', async () => {
      await stage(spec, corrupt);
      const t0 = performance.now();
      await assert.rejects(
        acts.swapModel({ deploymentId: 'dep-corrupt', runId: R1, sha256: corrupt.sha256, ext: 'onnx', healthTimeoutMs: HEALTH_TIMEOUT_MS }),
        failsWith('HealthCheckTimeout', (f) => {
          assert.match(f.message, /onnxruntime cannot load/);
          assert.doesNotMatch(f.message, /out of range/);
          assert.equal(switchedOf(f), true);
          assert.equal((f.details?.[0] as { lastStatus: number }).lastStatus, 503);
        }),
      );
      const failedAfter = performance.now() - t0;
      figures.failedSwapTotal = Math.round(failedAfter);
      assert.ok(failedAfter < HEALTH_TIMEOUT_MS + 15_000, `failed after ${failedAfter} ms`);
      assert.equal((await health(spec)).status, 503);

      // The workflow never got a result from the failed swap: the journal names the backup.
      const first = await timed(() => acts.restoreBackup({ deploymentId: 'dep-corrupt', runId: R1, backup: null, healthTimeoutMs: 30_000 }));
      figures.restoreTotal = first.ms;
      assert.equal(first.value.outcome, 'restored');
      assert.equal(first.value.restoredSha256, B.sha256);
      assert.equal(first.value.servedSha256Prefix, B.sha256.slice(0, 16));
      assert.equal((await health(spec)).body.sha256, B.sha256);
      assert.equal((await readCurrent(spec.modelDir))?.file, releasePath(spec.modelDir, B.sha256, 'onnx'));

      const journal = await readJournal(spec.modelDir, 'dep-corrupt', R1);
      assert.equal(journal?.phase, 'restored');
      assert.equal(journal?.backup?.sha256, B.sha256);
      const pid = runtimePid();
      const second = await timed(() => acts.restoreBackup({ deploymentId: 'dep-corrupt', runId: R1, backup: journal?.backup ?? null, healthTimeoutMs: 30_000 }));
      figures.restoreAgain = second.ms;
      assert.equal(second.value.outcome, 'already-restored');
      assert.equal(second.value.restoredSha256, B.sha256);
      assert.equal(runtimePid(), pid, 'already restored: no second restart');
    });

    it('restores a release that went missing from its backup copy, verified by sha', async () => {
      const journal = await readJournal(spec.modelDir, 'dep-corrupt', R1);
      assert.ok(journal?.backup);
      // Someone deleted B's release: the restore must rebuild it from the backup copy.
      await rm(releasePath(spec.modelDir, B.sha256, 'onnx'));
      const r = await acts.restoreBackup({ deploymentId: 'dep-corrupt', runId: R1, backup: journal.backup, healthTimeoutMs: 30_000 });
      assert.equal(r.restoredSha256, B.sha256);
      assert.equal(await sha256File(releasePath(spec.modelDir, B.sha256, 'onnx')), B.sha256);
      assert.equal((await health(spec)).body.sha256, B.sha256);
      await assert.rejects(
        acts.restoreBackup({ deploymentId: 'dep-corrupt', runId: R1, backup: { ...journal.backup, backupPath: '/etc/passwd' } }),
        failsWith('InvalidRequest', (f) => assert.equal(f.nonRetryable, true)),
      );
      // A well-formed backup that is not the one this run journaled: the restore never picks its own.
      await assert.rejects(
        acts.restoreBackup({ deploymentId: 'dep-corrupt', runId: R1, backup: { ...journal.backup, backupPath: backupPath(spec.modelDir, B.sha256, 'onnx', new Date(0)) } }),
        failsWith('InvalidRequest', (f) => assert.match(f.message, /not the one run run-1 journaled/)),
      );
    });

    it('a failing restart command stops the swap halfway; the retried swap keeps the first backup; restore undoes it', async () => {
      const broken: DeviceSpec = { ...spec, restartCommand: [process.execPath, '-e', 'console.error("systemd: edge-runtime.service failed"); process.exit(1)'] };
      const pid = runtimePid();
      const brokenActs = createEdgeActivities(broken, activityOptions);
      // Back to A (still installed in releases/): no push needed.
      await assert.rejects(
        brokenActs.swapModel({ deploymentId: 'dep-a', runId: R1, sha256: A.sha256, ext: 'onnx', healthTimeoutMs: HEALTH_TIMEOUT_MS }),
        failsWith('RestartCommandFailed', (f) => {
          assert.equal(f.nonRetryable, false);
          assert.equal(switchedOf(f), true, '`current` was switched before the restart failed');
          assert.match(f.message, /edge-runtime\.service failed/);
        }),
      );
      assert.equal((await readJournal(spec.modelDir, 'dep-a', R1))?.phase, 'switched');
      assert.equal((await readCurrent(spec.modelDir))?.file, releasePath(spec.modelDir, A.sha256, 'onnx'));
      assert.equal(runtimePid(), pid);
      assert.equal((await health(spec)).body.sha256, B.sha256, 'still serving B: the restart never ran');
      const backupsAfterFirstTry = await backups();

      const retried = await acts.swapModel({ deploymentId: 'dep-a', runId: R1, sha256: A.sha256, ext: 'onnx', healthTimeoutMs: 30_000 });
      assert.equal(retried.backup?.sha256, B.sha256, 'the retry must not back up A (already current) as "previous"');
      assert.equal(retried.servedSha256Prefix, A.sha256.slice(0, 16));
      assert.deepEqual(await backups(), backupsAfterFirstTry, 'no second backup');

      const restored = await acts.restoreBackup({ deploymentId: 'dep-a', runId: R1, backup: null, healthTimeoutMs: 30_000 });
      assert.equal(restored.outcome, 'restored');
      assert.equal(restored.restoredSha256, B.sha256);
      assert.equal((await health(spec)).body.sha256, B.sha256);
    });

    it('a restore of a run that never switched (no journal, or only `prepared`) is nothing-switched: the device is left alone', async () => {
      const pid = runtimePid();
      const none = await acts.restoreBackup({ deploymentId: 'dep-never', runId: R1, backup: null, healthTimeoutMs: 5000 });
      assert.equal(runtimePid(), pid, 'no restart');
      assert.equal(none.outcome, 'nothing-switched');
      assert.match(String(none.reason), /no swap journal/);
      assert.equal(none.restoredSha256, B.sha256);

      // What a swap leaves when it stops between its journal and the switch (a crash, a lost
      // worker): backup made and journaled, `current` not moved.
      const at = new Date();
      const backup = { sha256: B.sha256, backupPath: backupPath(spec.modelDir, B.sha256, 'onnx', at), releasePath: releasePath(spec.modelDir, B.sha256, 'onnx') };
      await writeJournal(spec.modelDir, newJournal({ deploymentId: 'dep-prepared', runId: R1 }, spec.id, A.sha256, 'onnx', backup, at), 'prepared', at);
      const prepared = await acts.restoreBackup({ deploymentId: 'dep-prepared', runId: R1, backup, healthTimeoutMs: 5000 });
      assert.equal(runtimePid(), pid, 'no restart');
      assert.equal((await readCurrent(spec.modelDir))?.file, releasePath(spec.modelDir, B.sha256, 'onnx'));
      assert.equal((await health(spec)).body.sha256, B.sha256);
      assert.equal(prepared.outcome, 'nothing-switched');
      assert.match(String(prepared.reason), /never switched/);
      assert.equal((await readJournal(spec.modelDir, 'dep-prepared', R1))?.phase, 'prepared');
    });

    it('a worker killed between the switch and the journal write (`prepared`, current on the run\'s release) is restored', async () => {
      assert.equal((await health(spec)).body.sha256, B.sha256);
      const at = new Date();
      const backup = { sha256: B.sha256, backupPath: backupPath(spec.modelDir, B.sha256, 'onnx', at), releasePath: releasePath(spec.modelDir, B.sha256, 'onnx') };
      await writeJournal(spec.modelDir, newJournal({ deploymentId: 'dep-crash', runId: R1 }, spec.id, A.sha256, 'onnx', backup, at), 'prepared', at);
      // The crash window: `current` moved to A, the runtime restarted on it, the journal never said so.
      await switchCurrent(spec.modelDir, releasePath(spec.modelDir, A.sha256, 'onnx'));
      await runRestartCommand(spec.restartCommand, { timeoutMs: 60_000, deviceId: spec.id });
      await waitForServedSha({ healthUrl: spec.healthUrl, sha256: A.sha256, timeoutMs: 30_000 });
      const restored = await acts.restoreBackup({ deploymentId: 'dep-crash', runId: R1, backup: null, healthTimeoutMs: 30_000 });
      assert.equal(restored.outcome, 'restored');
      assert.equal(restored.restoredSha256, B.sha256);
      assert.equal((await health(spec)).body.sha256, B.sha256);
      assert.equal((await readJournal(spec.modelDir, 'dep-crash', R1))?.phase, 'restored');
    });

    it('discardStaged removes an unclaimed staged artifact (pushed by an older edgeship) and its metadata, and is idempotent', async () => {
      await stage(spec, models.nan);
      const discard = { deploymentId: 'dep-nan', runId: R1, sha256: models.nan.sha256, ext: 'onnx' } as const;
      const first = await acts.discardStaged(discard);
      assert.equal(first.removed.length, 2);
      assert.equal(first.otherClaims, 0);
      assert.deepEqual(await readdir(path.join(spec.modelDir, 'staging')), []);
      const second = await acts.discardStaged(discard);
      assert.deepEqual(second.removed, []);
      assert.equal((await health(spec)).body.sha256, B.sha256);
    });
  });

  describe('a rollback after another deployment swapped the device', () => {
    it('is superseded: the device keeps the newer deployment, untouched', async () => {
      const { sim, spec, acts } = await device('superseded-dev', models.good);
      await waitForServedSha({ healthUrl: spec.healthUrl, sha256: models.good.sha256, timeoutMs: 30_000 });
      const [A, B, C] = [models.good, models.constant, third];
      // dep-p: A → B. Then dep-q: B → C. dep-p's rollback must not take C away from dep-q.
      await stage(spec, B);
      const p = await acts.swapModel({ deploymentId: 'dep-p', runId: R1, sha256: B.sha256, ext: 'onnx', healthTimeoutMs: 30_000 });
      assert.equal(p.backup?.sha256, A.sha256);
      await stage(spec, C);
      await acts.swapModel({ deploymentId: 'dep-q', runId: R1, sha256: C.sha256, ext: 'onnx', healthTimeoutMs: 30_000 });
      const pid = readPid(sim.layout.runtimePid);

      const r = await acts.restoreBackup({ deploymentId: 'dep-p', runId: R1, backup: p.backup, healthTimeoutMs: 5000 });
      assert.equal(readPid(sim.layout.runtimePid), pid, 'no restart');
      assert.equal((await readCurrent(spec.modelDir))?.file, releasePath(spec.modelDir, C.sha256, 'onnx'));
      assert.equal((await health(spec)).body.sha256, C.sha256, 'still serving dep-q\'s model');
      assert.equal(r.outcome, 'superseded');
      assert.match(String(r.reason), /another deployment swapped since/);
      assert.deepEqual([r.restoredSha256, r.servedSha256Prefix], [C.sha256, C.sha256.slice(0, 16)], 'reports what the device serves now');
      assert.equal((await readJournal(spec.modelDir, 'dep-p', R1))?.phase, 'healthy', 'dep-p restored nothing');
    });
  });

  describe('staging claims: one artifact staged for two deployment runs', () => {
    it('discard by one run keeps the file the other run claims, whose swap then works; a swap keeps what another run claims', async () => {
      const { spec, acts, fleet } = await device('claims-dev', models.good);
      await waitForServedSha({ healthUrl: spec.healthUrl, sha256: models.good.sha256, timeoutMs: 30_000 });
      const push = createPushArtifact(fleet.inventory);
      /** pushArtifact over the device's (embedded) SFTP server, as the GPU worker does it. */
      const pushFor = async (model: TestModel, deploymentId: string) => {
        const artifact = { path: model.path, sha256: model.sha256, sizeBytes: (await stat(model.path)).size };
        return runActivity(() => push({ deviceId: spec.id, artifact, metadataPath: model.metadataPath, deploymentId, runId: R1 }));
      };
      const stagingDir = path.join(spec.modelDir, 'staging');
      const B = models.constant;

      // The same bytes under two model names: two deployments stage one file.
      const staged = await pushFor(B, 'deploy-encoder-a');
      await pushFor(B, 'deploy-encoder-b');
      const discardA = await acts.discardStaged({ deploymentId: 'deploy-encoder-a', runId: R1, sha256: B.sha256, ext: 'onnx' });
      assert.equal(await sha256File(staged.stagedPath), B.sha256, 'the staged file stays for run b');
      assert.equal(discardA.otherClaims, 1);
      assert.equal(discardA.removed.length, 1, `only run a's claim goes: ${discardA.removed.join(', ')}`);
      const swapB = await acts.swapModel({ deploymentId: 'deploy-encoder-b', runId: R1, sha256: B.sha256, ext: 'onnx', healthTimeoutMs: 30_000 });
      assert.equal(swapB.servedSha256Prefix, B.sha256.slice(0, 16));
      assert.deepEqual(await readdir(stagingDir), [], 'installed by rename, its claim dropped, nothing left');

      // Both runs stage C; run c swaps first: the staged copy must survive for run d.
      const C = third;
      const stagedC = await pushFor(C, 'deploy-encoder-c');
      await pushFor(C, 'deploy-encoder-d');
      await acts.swapModel({ deploymentId: 'deploy-encoder-c', runId: R1, sha256: C.sha256, ext: 'onnx', healthTimeoutMs: 30_000 });
      assert.equal(await sha256File(stagedC.stagedPath), C.sha256, 'copied into releases/, the staged file kept for run d');
      assert.equal(await sha256File(releasePath(spec.modelDir, C.sha256, 'onnx')), C.sha256);
      assert.equal((await readdir(`${stagedC.stagedPath}.claims`)).length, 1, 'run c dropped its claim');
      const discardD = await acts.discardStaged({ deploymentId: 'deploy-encoder-d', runId: R1, sha256: C.sha256, ext: 'onnx' });
      assert.equal(discardD.otherClaims, 0);
      assert.equal(discardD.removed.length, 3, `claim, model, metadata: ${discardD.removed.join(', ')}`);
      assert.deepEqual(await readdir(stagingDir), []);
      assert.equal((await health(spec)).body.sha256, C.sha256, 'the live release of the same sha is untouched');
    });
  });

  describe('backups hold the newest keepBackups distinct versions', () => {
    it('repeated swaps between the same versions keep one backup per version and the oldest version', async () => {
      const { spec, acts } = await device('backups-dev', models.good);
      assert.equal(spec.keepBackups, 3);
      await waitForServedSha({ healthUrl: spec.healthUrl, sha256: models.good.sha256, timeoutMs: 30_000 });
      const [A, B, C] = [models.good, models.constant, third];
      let last: SwapModelResult | undefined;
      // A → B → C → B → C: backups of A, B, C, B again: three versions, B twice.
      for (const [i, m] of [B, C, B, C].entries()) {
        if ((await sha256File(releasePath(spec.modelDir, m.sha256, 'onnx'))) !== m.sha256) await stage(spec, m);
        last = await acts.swapModel({ deploymentId: `dep-backups-${i}`, runId: R1, sha256: m.sha256, ext: 'onnx', healthTimeoutMs: 30_000 });
      }
      const files = (await readdir(path.join(spec.modelDir, 'backups'))).filter((n) => !n.endsWith('.meta.json'));
      const versions = files.map((f) => f.slice(-69, -5));
      assert.deepEqual(new Set(versions), new Set([A.sha256, B.sha256, C.sha256]), 'three versions kept, A (the oldest) included');
      assert.equal(files.length, 3, `one file per version: ${files.join(', ')}`);
      for (const f of files) assert.equal(await sha256File(path.join(spec.modelDir, 'backups', f)), f.slice(-69, -5), `${f} holds the bytes it names`);
      assert.deepEqual(last?.backupsOnDevice, [B.sha256, C.sha256, A.sha256], 'newest first');
      assert.equal(last?.backup?.sha256, B.sha256);
      assert.equal(await sha256File(last?.backup?.backupPath ?? ''), B.sha256, 'the journaled backup path is the kept copy');
    });
  });

  describe('a device with no model yet (first install)', () => {
    it('installs A; restoring removes `current` and proves the runtime serves nothing', async () => {
      const { spec, acts } = await device('fresh-dev');
      assert.equal((await health(spec)).status, 503);
      await stage(spec, models.good);
      const swapped = await acts.swapModel({ deploymentId: 'dep-first', runId: R1, sha256: models.good.sha256, ext: 'onnx', healthTimeoutMs: 30_000 });
      assert.equal(swapped.backup, null);
      assert.deepEqual(swapped.backupsOnDevice, []);
      assert.equal((await health(spec)).body.sha256, models.good.sha256);

      // A deployment that never reached the switch (no journal) must leave the live model alone.
      const untouched = await acts.restoreBackup({ deploymentId: 'dep-never-swapped', runId: R1, backup: null, healthTimeoutMs: 5000 });
      assert.equal(untouched.outcome, 'nothing-switched');
      assert.equal(untouched.restoredSha256, models.good.sha256);
      assert.equal((await health(spec)).body.sha256, models.good.sha256);

      const restored = await acts.restoreBackup({ deploymentId: 'dep-first', runId: R1, backup: null, healthTimeoutMs: 30_000 });
      assert.equal(restored.outcome, 'first-install-removed');
      assert.deepEqual([restored.restoredSha256, restored.servedSha256Prefix], [null, null]);
      assert.equal(await readCurrent(spec.modelDir), null);
      const h = await health(spec);
      assert.equal(h.status, 503);
      assert.match(String(h.body.reason), /no model installed/);
      const again = await acts.restoreBackup({ deploymentId: 'dep-first', runId: R1, backup: null, healthTimeoutMs: 5000 });
      assert.equal(again.outcome, 'already-restored');
      assert.equal(again.restoredSha256, null);
    });
  });
});
