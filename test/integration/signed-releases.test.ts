// Signed releases on a real simulated device: OpenSSH sshd (pushArtifact over SFTP), the real
// runtime started with --trusted-key/--require-signatures (its restart command really restarts
// it), and the real edge activities with the device's trust. Manifests are signed by the GPU
// side's real signing code with real Ed25519 keys. Every refusal must leave the device exactly as
// it was: same `current`, same runtime process, same /healthz, nothing of the refused release in
// staging/.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readdir, readFile, rm, symlink, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createEdgeActivities } from '../../activities/edge';
import { waitForServedSha } from '../../activities/edge/health';
import { readCurrent, releasePath } from '../../activities/edge/modelDir';
import { runRestartCommand } from '../../activities/edge/restart';
import { createPushArtifact } from '../../activities/gpu/pushArtifact';
import type { EdgeActivities, SwapModelResult } from '../../common/contracts';
import type { DeviceSpec } from '../../lib/inventory';
import { loadDeviceTrust } from '../../edge/trust';
import { readPid } from '../../sim/pidfile';
import { startSimulatedFleet, type SimDevice, type SimulatedFleet } from '../../sim/fleet';
import { buildTestModels, type TestModel } from '../helpers/edgeModels';
import { makeTestKey, relabelledModel, signTestRelease, type TestKey } from '../helpers/releaseKeys';
import { runActivity } from '../helpers/sshPushCases';

type Release = TestModel & { manifestPath?: string; sequence?: number };
interface Health {
  status: number;
  body: Record<string, unknown>;
}

async function health(device: DeviceSpec): Promise<Health> {
  const res = await fetch(device.healthUrl);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** /healthz once the runtime's load attempt has finished (served, or refused with a reason). */
async function settledHealth(device: DeviceSpec, timeoutMs = 60_000): Promise<Health> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const h = await health(device);
    if (h.status === 200 || h.body.reason !== 'model loading' || Date.now() > deadline) return h;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('signed releases on a real device (SFTP, runtime, edge activities)', function () {
  this.timeout(240_000);
  let work: string;
  let store: string;
  let fleet: SimulatedFleet;
  let sim: SimDevice;
  let spec: DeviceSpec;
  let keyA: TestKey; // trusted
  let keyB: TestKey; // never trusted
  let keyC: TestKey; // the rotation's new key
  let baseline: Release; // serves first, sequence 1
  let v2: Release;
  let n = 0;
  const activities = (keys: TestKey[]): EdgeActivities =>
    createEdgeActivities(spec, { pollIntervalMs: 100, restartTimeoutMs: 60_000, trust: loadDeviceTrust({ publicKeyFiles: keys.map((k) => k.publicKeyPath), requireSignatures: true }) });
  let acts: EdgeActivities;

  /** A new version of the encoder, signed by `key` (undefined: unsigned). */
  async function release(label: string, key: TestKey | undefined, target: 'cpu-fp32' | 'hailo8' = 'cpu-fp32'): Promise<Release> {
    const m = relabelledModel(baseline, work, label);
    if (!key) return m;
    return { ...m, ...(await signTestRelease(store, key, m, 'tcn-test', target)) };
  }

  /** Stages over SFTP exactly as a deployment does (pushArtifact), with the manifest when signed. */
  async function stage(r: Release, run?: string): Promise<string> {
    const size = (await readFile(r.path)).length;
    const deploymentId = run ?? `dep-${++n}`;
    await runActivity(() => createPushArtifact(fleet.inventory)({ deviceId: spec.id, deploymentId, runId: 'r1', artifact: { path: r.path, sha256: r.sha256, sizeBytes: size }, metadataPath: r.metadataPath, ...(r.manifestPath ? { manifestPath: r.manifestPath } : {}) }));
    return deploymentId;
  }

  const staging = async (): Promise<string[]> => (await readdir(path.join(spec.modelDir, 'staging'))).sort();
  const stagedFile = (sha: string): string => path.join(spec.modelDir, 'staging', `${sha}.onnx`);

  before(async function () {
    this.timeout(180_000);
    work = await mkdtemp(path.join(tmpdir(), 'edgeship-signed-'));
    store = path.join(work, 'store');
    [keyA, keyB, keyC] = [makeTestKey('a'), makeTestKey('b'), makeTestKey('c')];
    const { good } = await buildTestModels('tiny');
    assert.ok(good);
    const b = relabelledModel(good, work, 'edgeship signed test: baseline');
    baseline = { ...b, ...(await signTestRelease(store, keyA, b)) };
    assert.equal(baseline.sequence, 1);
    fleet = await startSimulatedFleet({
      count: 1,
      ids: ['signed-dev'],
      baseDir: path.join(work, 'fleet'),
      sshServer: 'openssh',
      baseline: { modelPath: baseline.path, metadataPath: baseline.metadataPath, manifestPath: baseline.manifestPath },
      // The runtime trusts A and C (the rotation's old and new key) and requires signatures.
      trust: { publicKeyFiles: [keyA.publicKeyPath, keyC.publicKeyPath], requireSignatures: true },
    });
    sim = fleet.devices[0];
    spec = sim.spec;
    acts = activities([keyA]);
    await waitForServedSha({ healthUrl: spec.healthUrl, sha256: baseline.sha256, timeoutMs: 60_000 });
  });

  after(async function () {
    this.timeout(60_000);
    await fleet?.stop();
    await rm(work, { recursive: true, force: true });
    for (const k of [keyA, keyB, keyC]) if (k) await rm(path.dirname(k.privateKeyPath), { recursive: true, force: true });
  });

  it('the runtime serves the signed baseline and names its key and sequence', async () => {
    const h = await health(spec);
    assert.equal(h.status, 200);
    assert.equal(h.body.sha256, baseline.sha256);
    assert.equal(h.body.release_key_id, keyA.keyId);
    assert.equal(h.body.release_sequence, 1);
  });

  it('installs a release signed by a trusted key: pushed with its manifest over SFTP, verified before the swap', async () => {
    v2 = await release('v2', keyA);
    assert.equal(v2.sequence, 2);
    await stage(v2, 'dep-v2');
    assert.ok((await staging()).includes(`${v2.sha256}.onnx.manifest.json`), 'the manifest is staged beside the model');
    const swapped = await runActivity(() => acts.swapModel({ deploymentId: 'dep-v2', runId: 'r1', sha256: v2.sha256, ext: 'onnx', healthTimeoutMs: 30_000 }));
    assert.deepEqual(swapped.release, { signed: true, keyId: keyA.keyId, modelName: 'tcn-test', sequence: 2 });
    const h = await health(spec);
    assert.deepEqual([h.status, h.body.sha256, h.body.release_sequence], [200, v2.sha256, 2]);
    // The manifest went with the release, and the backup of the baseline kept its own.
    assert.equal(await readFile(`${releasePath(spec.modelDir, v2.sha256, 'onnx')}.manifest.json`, 'utf8'), await readFile(v2.manifestPath as string, 'utf8'));
    assert.ok(swapped.backup);
    assert.equal(await readFile(`${swapped.backup.backupPath}.manifest.json`, 'utf8'), await readFile(baseline.manifestPath as string, 'utf8'));
  });

  /**
   * Stages `r` (tamper: what an attacker changes on the device afterwards), swaps, and checks the
   * typed refusal and that the device is exactly as before.
   */
  async function refusedOnDevice(r: Release, type: 'SignatureInvalid' | 'DowngradeRefused', expect: { check: string; keyId?: string }, tamper?: () => Promise<void>, using = acts): Promise<ApplicationFailure> {
    const before = { health: await health(spec), pid: readPid(sim.layout.runtimePid), current: await readCurrent(spec.modelDir) };
    const run = await stage(r);
    await tamper?.();
    let failure: ApplicationFailure | undefined;
    try {
      await runActivity(() => using.swapModel({ deploymentId: run, runId: 'r1', sha256: r.sha256, ext: 'onnx', healthTimeoutMs: 10_000 }));
    } catch (err) {
      failure = err as ApplicationFailure;
    }
    assert.ok(failure instanceof ApplicationFailure, `expected ${type}, got ${String(failure ?? 'success')}`);
    assert.equal(failure.type, type, failure.message);
    assert.equal(failure.nonRetryable, true);
    const details = failure.details?.[0] as Record<string, unknown>;
    assert.equal(details.check, expect.check, failure.message);
    if (expect.keyId) assert.equal(details.keyId, expect.keyId);
    assert.equal(details.switched, false, 'the failure says nothing was switched');
    assert.deepEqual((await staging()).filter((f) => f.startsWith(r.sha256)), [], 'the staged copy is gone');
    assert.deepEqual(await readCurrent(spec.modelDir), before.current, '`current` unchanged');
    assert.equal(readPid(sim.layout.runtimePid), before.pid, 'the runtime was not restarted');
    const after = await health(spec);
    assert.deepEqual([after.status, after.body.sha256, after.body.release_sequence], [before.health.status, before.health.body.sha256, before.health.body.release_sequence], '/healthz unchanged');
    return failure;
  }

  it('refuses a byte flipped after signing (model-sha)', async () => {
    const r = await release('flipped', keyA);
    const f = await refusedOnDevice(r, 'SignatureInvalid', { check: 'model-sha', keyId: keyA.keyId }, async () => {
      const bytes = await readFile(stagedFile(r.sha256));
      bytes[bytes.length - 1] ^= 0x01;
      await writeFile(stagedFile(r.sha256), bytes);
    });
    assert.match(f.message, /model-sha/);
  });

  it('refuses a manifest signed by an untrusted key (unknown-key)', async () => {
    await refusedOnDevice(await release('untrusted', keyB), 'SignatureInvalid', { check: 'unknown-key', keyId: keyB.keyId });
  });

  it('refuses an unsigned artifact (missing-manifest)', async () => {
    await refusedOnDevice(await release('unsigned', undefined), 'SignatureInvalid', { check: 'missing-manifest' });
  });

  it('refuses a genuine manifest that names another file (model-sha)', async () => {
    const other = await release('other', keyA);
    await refusedOnDevice(await release('victim', keyA), 'SignatureInvalid', { check: 'model-sha', keyId: keyA.keyId }, async () => {
      const victimSha = (await staging()).find((f) => f.endsWith('.onnx.manifest.json'))?.split('.')[0] as string;
      await copyFile(other.manifestPath as string, `${stagedFile(victimSha)}.manifest.json`);
    });
  });

  it('refuses a release signed for another target (target)', async () => {
    await refusedOnDevice(await release('for-hailo', keyA, 'hailo8'), 'SignatureInvalid', { check: 'target', keyId: keyA.keyId });
  });

  it('refuses a downgrade: the baseline (sequence 1) while it serves sequence 2', async () => {
    const f = await refusedOnDevice(baseline, 'DowngradeRefused', { check: 'sequence', keyId: keyA.keyId });
    const d = f.details?.[0] as Record<string, unknown>;
    assert.deepEqual([d.sequence, d.servedSequence], [1, 2]);
  });

  it('refuses a replay of an older, genuinely signed release (DowngradeRefused)', async () => {
    // Serve sequence n+1 first, then an attacker re-sends v2 (genuine, sequence 2) with its manifest.
    const v3 = await release('v3', keyA);
    await stage(v3, 'dep-v3');
    const swapped = await runActivity(() => acts.swapModel({ deploymentId: 'dep-v3', runId: 'r1', sha256: v3.sha256, ext: 'onnx', healthTimeoutMs: 30_000 }));
    assert.equal(swapped.release?.signed && swapped.release.sequence, v3.sequence);
    await refusedOnDevice(v2, 'DowngradeRefused', { check: 'sequence', keyId: keyA.keyId });
    // The compensation of dep-v3 restores v2 (an older sequence): a run's own restore is never refused.
    const restored = await runActivity(() => acts.restoreBackup({ deploymentId: 'dep-v3', runId: 'r1', backup: swapped.backup, healthTimeoutMs: 30_000 }));
    assert.equal(restored.outcome, 'restored');
    const h = await health(spec);
    assert.deepEqual([h.status, h.body.sha256, h.body.release_sequence], [200, v2.sha256, 2], 'the runtime serves the restored, still verified v2');
  });

  it('allowDowngrade installs an older release and says so', async () => {
    await stage(baseline, 'dep-down');
    const down: SwapModelResult = await runActivity(() => acts.swapModel({ deploymentId: 'dep-down', runId: 'r1', sha256: baseline.sha256, ext: 'onnx', healthTimeoutMs: 30_000, allowDowngrade: true }));
    assert.deepEqual(down.release, { signed: true, keyId: keyA.keyId, modelName: 'tcn-test', sequence: 1, downgradeFrom: 2 });
    assert.equal((await health(spec)).body.release_sequence, 1);
    await runActivity(() => acts.restoreBackup({ deploymentId: 'dep-down', runId: 'r1', backup: down.backup, healthTimeoutMs: 30_000 }));
    assert.equal((await health(spec)).body.sha256, v2.sha256);
  });

  it('rotation: with A and C trusted either installs; with A removed, A-signed releases are refused', async () => {
    const both = activities([keyA, keyC]);
    const byC = await release('by-c', keyC);
    await stage(byC, 'dep-c');
    const swapped = await runActivity(() => both.swapModel({ deploymentId: 'dep-c', runId: 'r1', sha256: byC.sha256, ext: 'onnx', healthTimeoutMs: 30_000 }));
    assert.equal(swapped.release?.signed && swapped.release.keyId, keyC.keyId);
    assert.equal((await health(spec)).body.release_key_id, keyC.keyId);
    const onlyC = activities([keyC]);
    await refusedOnDevice(await release('old-key', keyA), 'SignatureInvalid', { check: 'unknown-key', keyId: keyA.keyId }, undefined, onlyC);
    const byC2 = await release('by-c-2', keyC);
    await stage(byC2, 'dep-c2');
    const next = await runActivity(() => onlyC.swapModel({ deploymentId: 'dep-c2', runId: 'r1', sha256: byC2.sha256, ext: 'onnx', healthTimeoutMs: 30_000 }));
    assert.equal(next.release?.signed && next.release.keyId, keyC.keyId);
  });

  it('the runtime does not serve a model copied into releases/ by hand (503 with the reason)', async () => {
    const byHand = relabelledModel(baseline, work, 'copied by hand');
    const dest = releasePath(spec.modelDir, byHand.sha256, 'onnx');
    await copyFile(byHand.path, dest);
    await copyFile(byHand.metadataPath, `${dest}.meta.json`);
    const before = await readCurrent(spec.modelDir);
    assert.ok(before);
    const tmp = path.join(spec.modelDir, '.current.byhand');
    await symlink(path.join('releases', path.basename(dest)), tmp);
    await rename(tmp, path.join(spec.modelDir, 'current'));
    try {
      await runRestartCommand(spec.restartCommand, { timeoutMs: 60_000, deviceId: spec.id });
      const h = await settledHealth(spec);
      assert.equal(h.status, 503);
      assert.match(String(h.body.reason), /not a verified release \(missing-manifest\)/);
    } finally {
      await symlink(before.link, tmp);
      await rename(tmp, path.join(spec.modelDir, 'current'));
      await runRestartCommand(spec.restartCommand, { timeoutMs: 60_000, deviceId: spec.id });
    }
    assert.equal((await settledHealth(spec)).status, 200);
  });

  it('pushArtifact refuses a manifest that is missing, malformed or describes another artifact, before touching the device', async () => {
    const r = await release('mismatch', keyA);
    const size = (await readFile(r.path)).length;
    await assert.rejects(
      runActivity(() => createPushArtifact(fleet.inventory)({ deviceId: spec.id, deploymentId: 'dep-mismatch', runId: 'r1', artifact: { path: r.path, sha256: r.sha256, sizeBytes: size }, metadataPath: r.metadataPath, manifestPath: v2.manifestPath })),
      (err: unknown) => err instanceof ApplicationFailure && err.type === 'InvalidRequest' && err.nonRetryable === true && /describes model/.test(err.message),
    );
    // A manifest path that does not exist, or a file that is no signed manifest.
    const notJson = path.join(work, 'not-a-manifest.json');
    await writeFile(notJson, '{"manifest": ');
    for (const [manifestPath, message] of [[path.join(work, 'absent.manifest.json'), /cannot be read/], [notJson, /is not JSON/], [r.metadataPath, /is not a signed release manifest/]] as const) {
      await assert.rejects(
        runActivity(() => createPushArtifact(fleet.inventory)({ deviceId: spec.id, deploymentId: 'dep-mismatch', runId: 'r1', artifact: { path: r.path, sha256: r.sha256, sizeBytes: size }, metadataPath: r.metadataPath, manifestPath })),
        (err: unknown) => err instanceof ApplicationFailure && err.type === 'InvalidRequest' && err.nonRetryable === true && message.test(err.message),
      );
    }
    assert.deepEqual((await staging()).filter((f) => f.startsWith(r.sha256)), []);
  });
});
