// pushArtifact / resolveDevices against a simulated device, shared by the OpenSSH suite and the
// embedded-server suite so both servers are held to exactly the same behaviour.
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { copyFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { utils } from 'ssh2';
import { createFleetActivities } from '../../activities/gpu/fleet';
import { createPushArtifact } from '../../activities/gpu/pushArtifact';
import type { PushArtifactInput, PushArtifactResult } from '../../common/contracts';
import type { DeviceSpec, Inventory } from '../../lib/inventory';
import { startDropProxy } from '../../sim/dropProxy';
import { startSimulatedFleet, type SimulatedFleet } from '../../sim/fleet';
import { freePort } from '../../sim/net';
import { generateEd25519KeyPair } from '../../sim/keys';

export function sha256Of(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** A random artifact of `size` bytes with a metadata sidecar that names its sha256. */
export function makeArtifact(dir: string, size: number, name = 'model'): PushArtifactInput['artifact'] & { metadataPath: string } {
  const file = path.join(dir, `${name}.onnx`);
  writeFileSync(file, randomBytes(size));
  const sha256 = sha256Of(file);
  writeFileSync(`${file}.meta.json`, JSON.stringify({ schema: 'edgeship.model/1', modelName: name, format: 'onnx', sha256, sizeBytes: size }));
  return { path: file, sha256, sizeBytes: size, metadataPath: `${file}.meta.json` };
}

export const TEST_RUN = { deploymentId: 'deploy-test', runId: 'run-1' } as const;

export function pushInput(deviceId: string, a: ReturnType<typeof makeArtifact>, run: { deploymentId: string; runId: string } = TEST_RUN): PushArtifactInput {
  return { deviceId, artifact: { path: a.path, sha256: a.sha256, sizeBytes: a.sizeBytes }, metadataPath: a.metadataPath, ...run };
}

/** The claim a run leaves next to a staged file: staging/<name>.claims/<sha256(deploymentId \n runId)>.json. */
export function claimFile(stagedPath: string, run: { deploymentId: string; runId: string } = TEST_RUN): string {
  return path.join(`${stagedPath}.claims`, `${createHash('sha256').update(`${run.deploymentId}\n${run.runId}`).digest('hex')}.json`);
}

export async function expectFailure(p: Promise<unknown>, type: string, nonRetryable: boolean, message?: RegExp): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `expected ApplicationFailure ${type}, got ${String(err)}`);
    assert.equal(err.type, type, err.message);
    assert.equal(err.nonRetryable, nonRetryable, `nonRetryable of ${type}`);
    if (message) assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected ${type}, but it succeeded`);
}

/** Runs an activity function in a mock activity context, collecting its heartbeats. */
export async function runActivity<T>(fn: () => Promise<T>, beats: unknown[] = []): Promise<T> {
  // Failures are asserted by the tests; the activity logger would only repeat them.
  const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR', () => undefined) });
  env.on('heartbeat', (d: unknown) => beats.push(d));
  return env.run(fn);
}

function withDevice(inventory: Inventory, id: string, change: (d: DeviceSpec) => DeviceSpec): Inventory {
  return { devices: inventory.devices.map((d) => (d.id === id ? change(structuredClone(d)) : d)) };
}

function stagingEntries(fleet: SimulatedFleet): string[] {
  return readdirSync(path.join(fleet.devices[0].spec.modelDir, 'staging')).sort();
}

export function describeSshPush(kind: 'openssh' | 'embedded'): void {
  describe(`pushArtifact over SFTP (${kind} server)`, function () {
    let fleet: SimulatedFleet;
    let work: string;
    let artifact: ReturnType<typeof makeArtifact>;
    let device: DeviceSpec;

    before(async function () {
      work = mkdtempSync(path.join(tmpdir(), `edgeship-push-${kind}-`));
      fleet = await startSimulatedFleet({ count: 1, baseDir: path.join(work, 'fleet'), sshServer: kind, startRuntimes: false });
      assert.equal(fleet.sshServerKind, kind);
      device = fleet.devices[0].spec;
      artifact = makeArtifact(work, 1024 * 1024);
    });
    after(async function () {
      await fleet?.stop();
      rmSync(work, { recursive: true, force: true });
    });
    afterEach(function () {
      for (const f of readdirSync(path.join(device.modelDir, 'staging'))) rmSync(path.join(device.modelDir, 'staging', f), { recursive: true });
    });

    it('stages the artifact and its metadata, verified on the device, heartbeating progress', async function () {
      const beats: unknown[] = [];
      const push = createFleetActivities(fleet.inventory).pushArtifact;
      const r = await runActivity(() => push(pushInput(device.id, artifact)), beats);
      const name = `${artifact.sha256}.onnx`;
      assert.deepEqual({ ...r, durationMs: 0 }, {
        deviceId: device.id, stagedPath: `${device.modelDir}/staging/${name}`, stagedMetadataPath: `${device.modelDir}/staging/${name}.meta.json`,
        sha256: artifact.sha256, bytesSent: artifact.sizeBytes + statSync(artifact.metadataPath).size, reused: false, durationMs: 0,
        servedSha256: null, // no `current` link: the device serves nothing
      } satisfies PushArtifactResult);
      assert.ok(r.durationMs > 0);
      assert.equal(sha256Of(r.stagedPath), artifact.sha256);
      assert.deepEqual(readFileSync(r.stagedMetadataPath), readFileSync(artifact.metadataPath));
      assert.deepEqual(stagingEntries(fleet), [name, `${name}.claims`, `${name}.meta.json`], 'nothing but the two staged files and the claims');
      assert.deepEqual(readdirSync(`${r.stagedPath}.claims`), [path.basename(claimFile(r.stagedPath))], 'one claim, no temporary file');
      const claim = JSON.parse(readFileSync(claimFile(r.stagedPath), 'utf8')) as Record<string, unknown>;
      assert.deepEqual([claim.deploymentId, claim.runId, claim.sha256], [TEST_RUN.deploymentId, TEST_RUN.runId, artifact.sha256]);
      for (const dir of ['releases', 'staging', 'backups']) assert.ok(statSync(path.join(device.modelDir, dir)).isDirectory());
      const uploads = beats.filter((b) => (b as { phase?: string }).phase === 'upload') as Array<{ bytes: number; total: number }>;
      assert.ok(uploads.length >= 1, 'upload progress heartbeats');
      assert.equal(uploads.at(-1)?.bytes, artifact.sizeBytes);
    });

    it('reports which release `current` names (what the candidate replaces), and unknown for a link edgeship did not make', async function () {
      const push = createPushArtifact(fleet.inventory);
      const champion = 'c'.repeat(64);
      const link = path.join(device.modelDir, 'current');
      try {
        symlinkSync(`releases/${champion}.onnx`, link);
        assert.equal((await runActivity(() => push(pushInput(device.id, artifact)))).servedSha256, champion);
        rmSync(link);
        symlinkSync('/opt/models/whatever.onnx', link);
        assert.equal((await runActivity(() => push(pushInput(device.id, artifact)))).servedSha256, undefined);
      } finally {
        rmSync(link, { force: true });
      }
    });

    it('does not send an artifact again that is already staged, or already released', async function () {
      const push = createPushArtifact(fleet.inventory);
      const first = await runActivity(() => push(pushInput(device.id, artifact)));
      const again = await runActivity(() => push(pushInput(device.id, artifact)));
      assert.equal(again.reused, true);
      assert.equal(again.bytesSent, 0);
      assert.equal(again.stagedPath, first.stagedPath);

      // Only the missing piece travels: a staged model whose metadata went missing.
      rmSync(first.stagedMetadataPath);
      const metaOnly = await runActivity(() => push(pushInput(device.id, artifact)));
      assert.equal(metaOnly.reused, true);
      assert.equal(metaOnly.bytesSent, statSync(artifact.metadataPath).size);
      assert.deepEqual(readFileSync(first.stagedMetadataPath), readFileSync(artifact.metadataPath));

      // What swapModel leaves behind: the release in releases/, staging empty.
      const release = path.join(device.modelDir, 'releases', `${artifact.sha256}.onnx`);
      await copyFile(first.stagedPath, release);
      await copyFile(first.stagedMetadataPath, `${release}.meta.json`);
      rmSync(first.stagedPath);
      rmSync(first.stagedMetadataPath);
      try {
        const released = await runActivity(() => push(pushInput(device.id, artifact)));
        assert.equal(released.reused, true);
        assert.equal(released.bytesSent, 0);
        assert.equal(released.stagedPath, release);
        assert.deepEqual(stagingEntries(fleet), [`${path.basename(release)}.claims`], 'nothing staged but the run\'s claim');
      } finally {
        rmSync(release, { force: true });
        rmSync(`${release}.meta.json`, { force: true });
      }
    });

    it('claims the staged artifact once per deployment run: a retry keeps one claim, another run adds its own', async function () {
      const push = createPushArtifact(fleet.inventory);
      const other = { deploymentId: 'deploy-other-model', runId: 'run-9' };
      const first = await runActivity(() => push(pushInput(device.id, artifact)));
      await runActivity(() => push(pushInput(device.id, artifact)));
      assert.deepEqual(readdirSync(`${first.stagedPath}.claims`), [path.basename(claimFile(first.stagedPath))]);
      const second = await runActivity(() => push(pushInput(device.id, artifact, other)));
      assert.equal(second.bytesSent, 0, 'the bytes are already staged');
      assert.deepEqual(readdirSync(`${first.stagedPath}.claims`).sort(), [claimFile(first.stagedPath), claimFile(first.stagedPath, other)].map((f) => path.basename(f)).sort());
      await expectFailure(runActivity(() => push(pushInput(device.id, artifact, { deploymentId: 'd', runId: 'two\nlines' }))), 'InvalidRequest', true, /runId/);
    });

    it('never rewrites the metadata of an installed release: a different sidecar is staged for swapModel', async function () {
      const push = createPushArtifact(fleet.inventory);
      const release = path.join(device.modelDir, 'releases', `${artifact.sha256}.onnx`);
      await copyFile(artifact.path, release);
      // The release the device may be serving right now, with a sidecar that differs from the push's.
      const liveMeta = JSON.stringify({ ...JSON.parse(readFileSync(artifact.metadataPath, 'utf8')), note: 'installed earlier' });
      writeFileSync(`${release}.meta.json`, liveMeta);
      try {
        const r = await runActivity(() => push(pushInput(device.id, artifact)));
        assert.equal(r.reused, true);
        assert.equal(r.stagedPath, release);
        assert.equal(readFileSync(`${release}.meta.json`, 'utf8'), liveMeta, 'staging touched the live release');
        const stagedMeta = path.join(device.modelDir, 'staging', `${artifact.sha256}.onnx.meta.json`);
        assert.equal(r.stagedMetadataPath, stagedMeta);
        assert.deepEqual(readFileSync(stagedMeta), readFileSync(artifact.metadataPath));
        assert.equal(r.bytesSent, statSync(artifact.metadataPath).size);
      } finally {
        for (const f of [release, `${release}.meta.json`, path.join(device.modelDir, 'staging', `${artifact.sha256}.onnx.meta.json`)]) rmSync(f, { force: true });
      }
    });

    it('replaces a staged file whose content does not match its name', async function () {
      const staged = path.join(device.modelDir, 'staging', `${artifact.sha256}.onnx`);
      await writeFile(staged, 'not the model');
      const r = await runActivity(() => createPushArtifact(fleet.inventory)(pushInput(device.id, artifact)));
      assert.equal(r.reused, false);
      assert.equal(sha256Of(staged), artifact.sha256);
    });

    it('refuses a device whose host key differs from the pinned one (HostKeyMismatch, non-retryable)', async function () {
      const other = generateEd25519KeyPair().public.split(' ').slice(0, 2).join(' ');
      const inv = withDevice(fleet.inventory, device.id, (d) => ({ ...d, ssh: { ...d.ssh, knownHosts: `[127.0.0.1]:${d.ssh.port} ${other}` } }));
      await expectFailure(runActivity(() => createPushArtifact(inv)(pushInput(device.id, artifact))), 'HostKeyMismatch', true, /does not match the pinned key/);
      assert.deepEqual(stagingEntries(fleet), []);
    });

    it('refuses a device that has no host key of the pinned type (HostKeyMismatch, non-retryable)', async function () {
      // The device only has an ed25519 host key: a pinned ECDSA key can never be presented, so
      // retrying is pointless (the inventory or the device is wrong), exactly like a different key.
      const ecdsa = utils.generateKeyPairSync('ecdsa', { bits: 256 }).public.split(' ').slice(0, 2).join(' ');
      const inv = withDevice(fleet.inventory, device.id, (d) => ({ ...d, ssh: { ...d.ssh, knownHosts: `[127.0.0.1]:${d.ssh.port} ${ecdsa}` } }));
      await expectFailure(runActivity(() => createPushArtifact(inv)(pushInput(device.id, artifact))), 'HostKeyMismatch', true, /ecdsa-sha2-nistp256/);
      assert.deepEqual(stagingEntries(fleet), []);
    });

    it('reports a key the device does not accept as SshAuthFailed (non-retryable)', async function () {
      const keyFile = path.join(work, 'stranger');
      writeFileSync(keyFile, generateEd25519KeyPair().private, { mode: 0o600 });
      const inv = withDevice(fleet.inventory, device.id, (d) => ({ ...d, ssh: { ...d.ssh, privateKeyPath: keyFile } }));
      await expectFailure(runActivity(() => createPushArtifact(inv)(pushInput(device.id, artifact))), 'SshAuthFailed', true);
    });

    it('reports a private key that cannot be read as InvalidInventory (non-retryable), naming the fix', async function () {
      const keyFile = path.join(work, 'not-a-key');
      writeFileSync(keyFile, '-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5\n-----END OPENSSH PRIVATE KEY-----\n', { mode: 0o600 });
      const inv = withDevice(fleet.inventory, device.id, (d) => ({ ...d, ssh: { ...d.ssh, privateKeyPath: keyFile } }));
      await expectFailure(runActivity(() => createPushArtifact(inv)(pushInput(device.id, artifact))), 'InvalidInventory', true, /ssh-keygen -t ed25519/);
      assert.deepEqual(stagingEntries(fleet), []);
    });

    it('reports a closed port and a stopped SSH server as DeviceUnreachable (retryable)', async function () {
      const port = await freePort();
      const inv = withDevice(fleet.inventory, device.id, (d) => ({ ...d, ssh: { ...d.ssh, port, knownHosts: d.ssh.knownHosts.replace(/:\d+ /, `:${port} `) } }));
      await expectFailure(runActivity(() => createPushArtifact(inv)(pushInput(device.id, artifact))), 'DeviceUnreachable', false);

      await fleet.devices[0].stopSsh();
      try {
        await expectFailure(runActivity(() => createPushArtifact(fleet.inventory)(pushInput(device.id, artifact))), 'DeviceUnreachable', false);
      } finally {
        await fleet.devices[0].startSsh();
      }
      const r = await runActivity(() => createPushArtifact(fleet.inventory)(pushInput(device.id, artifact)));
      assert.equal(r.reused, false);
    });

    it('survives a connection dropped mid-upload: the retry completes and nothing partial is visible', async function () {
      const big = makeArtifact(work, 4 * 1024 * 1024, 'big');
      const proxy = await startDropProxy({ targetPort: device.ssh.port, dropAfterBytes: 1024 * 1024, dropConnections: 1 });
      try {
        // Same host key behind the proxy: only the address changes.
        const inv = withDevice(fleet.inventory, device.id, (d) => ({ ...d, ssh: { ...d.ssh, port: proxy.port } }));
        const push = createPushArtifact(inv);
        const name = `${big.sha256}.onnx`;
        await expectFailure(runActivity(() => push(pushInput(device.id, big))), 'DeviceUnreachable', false);
        assert.equal(proxy.dropped, 1);
        assert.ok(!existsSync(path.join(device.modelDir, 'staging', name)), 'no file under the final name after the drop');
        const r = await runActivity(() => push(pushInput(device.id, big)));
        assert.equal(r.reused, false);
        assert.equal(sha256Of(r.stagedPath), big.sha256);
        assert.deepEqual(stagingEntries(fleet), [name, `${name}.claims`, `${name}.meta.json`], 'the retry left no temporary file');
      } finally {
        await proxy.stop();
      }
    });

    it('discards an upload that does not hash to its sha256 on the device (ArtifactShaMismatch, retryable)', async function () {
      let corrupted = '';
      const push = createPushArtifact(fleet.inventory, {
        afterUpload: async (_d, remoteTemp) => {
          corrupted = remoteTemp;
          await writeFile(remoteTemp, Buffer.alloc(16, 1), { flag: 'r+' }); // device and test share this disk
        },
      });
      await expectFailure(runActivity(() => push(pushInput(device.id, artifact))), 'ArtifactShaMismatch', false, /discarded/);
      assert.match(path.basename(corrupted), /^\..*\.partial$/);
      assert.deepEqual(stagingEntries(fleet), [], 'nothing staged, no temporary left');
    });

    it('rejects a local artifact that does not match its declared sha256 before connecting', async function () {
      const input = pushInput(device.id, artifact);
      input.artifact.sha256 = 'f'.repeat(64);
      await expectFailure(runActivity(() => createPushArtifact(fleet.inventory)(input)), 'ArtifactShaMismatch', true, /artifact store/);
      await expectFailure(runActivity(() => createPushArtifact(fleet.inventory)({ ...pushInput(device.id, artifact), metadataPath: path.join(work, 'missing.json') })), 'InvalidRequest', true);
    });

    it('rejects bad and unknown device ids', async function () {
      const { pushArtifact, resolveDevices } = createFleetActivities(fleet.inventory);
      for (const bad of ['../etc', 'a;rm -rf /', '$(reboot)', 'SIM-1']) {
        await expectFailure(runActivity(() => pushArtifact(pushInput(bad, artifact))), 'InvalidIdentifier', true);
        await expectFailure(resolveDevices({ deviceIds: [bad] }), 'InvalidIdentifier', true);
      }
      await expectFailure(runActivity(() => pushArtifact(pushInput('nope', artifact))), 'DeviceNotFound', true);
      await expectFailure(resolveDevices({ deviceIds: [device.id, 'nope'] }), 'DeviceNotFound', true, /known: sim-1/);
      await expectFailure(resolveDevices({ deviceIds: [] }), 'InvalidRequest', true);
      await expectFailure(resolveDevices({ deviceIds: [device.id, device.id] }), 'InvalidRequest', true);
      const [info] = await resolveDevices({ deviceIds: [device.id] });
      assert.deepEqual(info, { id: device.id, target: device.target, host: '127.0.0.1', port: device.ssh.port, modelDir: device.modelDir, healthUrl: device.healthUrl, inferenceUrl: device.inferenceUrl });
      assert.ok(!('ssh' in info) && !JSON.stringify(info).includes('privateKey'), 'no key material in DeviceInfo');
    });
  });
}
