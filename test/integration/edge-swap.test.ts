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
import { readJournal } from '../../activities/edge/journal';
import { readCurrent, releasePath, sha256File } from '../../activities/edge/modelDir';
import type { EdgeActivities, ModelMetadata, SwapModelInput, SwapModelResult } from '../../common/contracts';
import type { DeviceSpec } from '../../common/inventory';
import { readPid } from '../../scripts/sim/pidfile';
import { startSimulatedFleet, type SimDevice, type SimulatedFleet } from '../../scripts/sim/fleet';
import { buildTestModels, type TestModel, type TestModels } from '../helpers/edgeModels';

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
  const fleets: SimulatedFleet[] = [];

  before(async () => {
    models = (await buildTestModels('tiny')) as TestModels;
    goodMeta = JSON.parse(await readFile(models.good.metadataPath, 'utf8')) as ModelMetadata;
    work = await mkdtemp(path.join(tmpdir(), 'edgeship-swap-'));
    corrupt = await corruptModel(work, goodMeta);
  });

  after(async () => {
    await Promise.all(fleets.map((f) => f.stop()));
    await rm(work, { recursive: true, force: true });
    if (Object.keys(figures).length) console.log('      measured (ms):', JSON.stringify(figures));
  });

  async function device(id: string, baseline?: TestModel): Promise<{ sim: SimDevice; spec: DeviceSpec; acts: EdgeActivities }> {
    const fleet = await startSimulatedFleet({
      count: 1,
      ids: [id],
      baseDir: path.join(work, id),
      sshServer: 'embedded', // SSH is not used here; the embedded server is the cheapest to run
      baseline: baseline && { modelPath: baseline.path, metadataPath: baseline.metadataPath },
    });
    fleets.push(fleet);
    const sim = fleet.devices[0];
    return { sim, spec: sim.spec, acts: createEdgeActivities(sim.spec, activityOptions) };
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
      await assert.rejects(acts.swapModel({ deploymentId: 'dep-missing', sha256: missing, ext: 'onnx' }), failsWith('ArtifactNotStaged', (f) => assert.equal(f.nonRetryable, true)));
      await copyFile(models.nan.path, path.join(spec.modelDir, 'staging', `${missing}.onnx`));
      await assert.rejects(acts.swapModel({ deploymentId: 'dep-missing', sha256: missing, ext: 'onnx' }), failsWith('ArtifactShaMismatch', (f) => assert.equal(f.nonRetryable, true)));
      await assert.rejects(acts.swapModel({ deploymentId: 'dep-x', sha256: '../../etc', ext: 'onnx' }), failsWith('InvalidRequest'));
      assert.equal((await readCurrent(spec.modelDir))?.file, releasePath(spec.modelDir, A.sha256, 'onnx'));
      assert.deepEqual(await backups(), []);
      assert.equal(await readJournal(spec.modelDir, 'dep-missing'), null);
      await acts.discardStaged({ sha256: missing, ext: 'onnx' });
    });

    it('swaps to B: a real backup of A, atomic switch, restart, /healthz reports B', async () => {
      await stage(spec, B);
      const pidBefore = runtimePid();
      const env = new MockActivityEnvironment();
      const beats: Array<Record<string, unknown>> = [];
      env.on('heartbeat', (d: Record<string, unknown>) => beats.push(d));
      const input: SwapModelInput = { deploymentId: 'dep-b', sha256: B.sha256, ext: 'onnx', healthTimeoutMs: 30_000 };
      const { value, ms } = await timed(() => env.run<[SwapModelInput], SwapModelResult, EdgeActivities['swapModel']>(acts.swapModel, input));
      swapToB = value;
      figures.swapTotal = ms;
      figures.swapRestart = value.restartMs;
      figures.swapHealthyAfter = value.healthyAfterMs;

      assert.equal(value.reused, false);
      assert.equal(value.servedSha256Prefix, B.sha256.slice(0, 16));
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
      assert.equal((await readJournal(spec.modelDir, 'dep-b'))?.phase, 'healthy');
      const stages = new Set(beats.map((b) => String(b.stage)));
      assert.ok(stages.has('restart') || [...stages].some((s) => s.startsWith('health')), `heartbeats: ${[...stages].join(', ')}`);
    });

    it('a re-run of the same deployment reuses the swap: no new backup, no restart', async () => {
      const pid = runtimePid();
      const before = await backups();
      const again = await acts.swapModel({ deploymentId: 'dep-b', sha256: B.sha256, ext: 'onnx', healthTimeoutMs: 5000 });
      assert.equal(again.reused, true);
      assert.deepEqual(again.backup, swapToB.backup);
      assert.equal(again.servedSha256Prefix, B.sha256.slice(0, 16));
      assert.equal(runtimePid(), pid);
      assert.deepEqual(await backups(), before);
    });

    it('a model the runtime cannot load fails its health check within the bound; restoreBackup brings B back, twice safely', async () => {
      await stage(spec, corrupt);
      const t0 = performance.now();
      await assert.rejects(
        acts.swapModel({ deploymentId: 'dep-corrupt', sha256: corrupt.sha256, ext: 'onnx', healthTimeoutMs: HEALTH_TIMEOUT_MS }),
        failsWith('HealthCheckTimeout', (f) => {
          assert.match(f.message, /onnxruntime cannot load/);
          assert.equal((f.details?.[0] as { lastStatus: number }).lastStatus, 503);
        }),
      );
      const failedAfter = performance.now() - t0;
      figures.failedSwapTotal = Math.round(failedAfter);
      assert.ok(failedAfter < HEALTH_TIMEOUT_MS + 15_000, `failed after ${failedAfter} ms`);
      assert.equal((await health(spec)).status, 503);

      // The workflow never got a result from the failed swap: the journal names the backup.
      const first = await timed(() => acts.restoreBackup({ deploymentId: 'dep-corrupt', backup: null, healthTimeoutMs: 30_000 }));
      figures.restoreTotal = first.ms;
      assert.equal(first.value.restoredSha256, B.sha256);
      assert.equal(first.value.servedSha256Prefix, B.sha256.slice(0, 16));
      assert.equal((await health(spec)).body.sha256, B.sha256);
      assert.equal((await readCurrent(spec.modelDir))?.file, releasePath(spec.modelDir, B.sha256, 'onnx'));

      const journal = await readJournal(spec.modelDir, 'dep-corrupt');
      assert.equal(journal?.phase, 'restored');
      assert.equal(journal?.backup?.sha256, B.sha256);
      const pid = runtimePid();
      const second = await timed(() => acts.restoreBackup({ deploymentId: 'dep-corrupt', backup: journal?.backup ?? null, healthTimeoutMs: 30_000 }));
      figures.restoreAgain = second.ms;
      assert.equal(second.value.restoredSha256, B.sha256);
      assert.equal(runtimePid(), pid, 'already restored: no second restart');
    });

    it('restores a release that went missing from its backup copy, verified by sha', async () => {
      const journal = await readJournal(spec.modelDir, 'dep-corrupt');
      assert.ok(journal?.backup);
      // Someone deleted B's release: the restore must rebuild it from the backup copy.
      await rm(releasePath(spec.modelDir, B.sha256, 'onnx'));
      const r = await acts.restoreBackup({ deploymentId: 'dep-corrupt', backup: journal.backup, healthTimeoutMs: 30_000 });
      assert.equal(r.restoredSha256, B.sha256);
      assert.equal(await sha256File(releasePath(spec.modelDir, B.sha256, 'onnx')), B.sha256);
      assert.equal((await health(spec)).body.sha256, B.sha256);
      await assert.rejects(
        acts.restoreBackup({ deploymentId: 'dep-corrupt', backup: { ...journal.backup, backupPath: '/etc/passwd' } }),
        failsWith('InvalidRequest', (f) => assert.equal(f.nonRetryable, true)),
      );
    });

    it('a failing restart command stops the swap halfway; the retried swap keeps the first backup; restore undoes it', async () => {
      const broken: DeviceSpec = { ...spec, restartCommand: [process.execPath, '-e', 'console.error("systemd: edge-runtime.service failed"); process.exit(1)'] };
      const pid = runtimePid();
      const brokenActs = createEdgeActivities(broken, activityOptions);
      // Back to A (still installed in releases/): no push needed.
      await assert.rejects(
        brokenActs.swapModel({ deploymentId: 'dep-a', sha256: A.sha256, ext: 'onnx', healthTimeoutMs: HEALTH_TIMEOUT_MS }),
        failsWith('RestartCommandFailed', (f) => {
          assert.equal(f.nonRetryable, false);
          assert.match(f.message, /edge-runtime\.service failed/);
        }),
      );
      assert.equal((await readJournal(spec.modelDir, 'dep-a'))?.phase, 'switched');
      assert.equal((await readCurrent(spec.modelDir))?.file, releasePath(spec.modelDir, A.sha256, 'onnx'));
      assert.equal(runtimePid(), pid);
      assert.equal((await health(spec)).body.sha256, B.sha256, 'still serving B: the restart never ran');
      const backupsAfterFirstTry = await backups();

      const retried = await acts.swapModel({ deploymentId: 'dep-a', sha256: A.sha256, ext: 'onnx', healthTimeoutMs: 30_000 });
      assert.equal(retried.backup?.sha256, B.sha256, 'the retry must not back up A (already current) as "previous"');
      assert.equal(retried.servedSha256Prefix, A.sha256.slice(0, 16));
      assert.deepEqual(await backups(), backupsAfterFirstTry, 'no second backup');

      const restored = await acts.restoreBackup({ deploymentId: 'dep-a', backup: null, healthTimeoutMs: 30_000 });
      assert.equal(restored.restoredSha256, B.sha256);
      assert.equal((await health(spec)).body.sha256, B.sha256);
    });

    it('discardStaged removes the staged artifact and its metadata, and is idempotent', async () => {
      await stage(spec, models.nan);
      const first = await acts.discardStaged({ sha256: models.nan.sha256, ext: 'onnx' });
      assert.equal(first.removed.length, 2);
      assert.deepEqual(await readdir(path.join(spec.modelDir, 'staging')), []);
      const second = await acts.discardStaged({ sha256: models.nan.sha256, ext: 'onnx' });
      assert.deepEqual(second.removed, []);
      assert.equal((await health(spec)).body.sha256, B.sha256);
    });
  });

  describe('a device with no model yet (first install)', () => {
    it('installs A; restoring removes `current` and proves the runtime serves nothing', async () => {
      const { spec, acts } = await device('fresh-dev');
      assert.equal((await health(spec)).status, 503);
      await stage(spec, models.good);
      const swapped = await acts.swapModel({ deploymentId: 'dep-first', sha256: models.good.sha256, ext: 'onnx', healthTimeoutMs: 30_000 });
      assert.equal(swapped.backup, null);
      assert.equal((await health(spec)).body.sha256, models.good.sha256);

      // A deployment that never reached the switch (no journal) must leave the live model alone.
      const untouched = await acts.restoreBackup({ deploymentId: 'dep-never-swapped', backup: null, healthTimeoutMs: 5000 });
      assert.equal(untouched.restoredSha256, models.good.sha256);
      assert.equal((await health(spec)).body.sha256, models.good.sha256);

      const restored = await acts.restoreBackup({ deploymentId: 'dep-first', backup: null, healthTimeoutMs: 30_000 });
      assert.deepEqual([restored.restoredSha256, restored.servedSha256Prefix], [null, null]);
      assert.equal(await readCurrent(spec.modelDir), null);
      const h = await health(spec);
      assert.equal(h.status, 503);
      assert.match(String(h.body.reason), /no model installed/);
      const again = await acts.restoreBackup({ deploymentId: 'dep-first', backup: null, healthTimeoutMs: 5000 });
      assert.equal(again.restoredSha256, null);
    });
  });
});
