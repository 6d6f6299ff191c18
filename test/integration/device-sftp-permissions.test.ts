// The packaged device's permission scheme against REAL OpenSSH: the deploy user's sshd block
// `ForceCommand internal-sftp -u 0002` and a setgid, group-writable staging/ (as the package's
// postinst makes it). What OpenSSH does there, checked here:
// - every exec (pushArtifact's `sha256sum`) runs the SFTP server instead, which ends at once
//   with code 0 and no output: pushArtifact must read the upload back over SFTP instead;
// - files and directories created over SFTP take staging/'s group (setgid), and the claims
//   directory is 2775 (mkdir 0775, umask 0002), so the service user of that group can delete the
//   claims and the upload;
// - installRelease copies an upload it does not own (the deploy user's) instead of renaming it,
//   so no live release belongs to the deploy user.
// Here the deploy user is root (the simulated device's sshd logs in only root) and "another
// owner" is made with chown; on a real device they are edgeship-deploy and edgeship
// (docs/install-device.md: what the arm64 proof verifies with two real users).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, closeSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { installRelease } from '../../activities/edge/releases';
import { createPushArtifact } from '../../activities/gpu/pushArtifact';
import { connectDevice } from '../../activities/gpu/ssh';
import { startSimulatedFleet, type SimulatedFleet } from '../../sim/fleet';
import { waitForPort } from '../../sim/net';
import { findSshd } from '../../sim/opensshServer';
import { lookupGroupId } from '../helpers/unixGroups';
import { buildTestModels, type TestModels } from '../helpers/edgeModels';
import { claimFile, runActivity } from '../helpers/sshPushCases';

const RUN = { deploymentId: 'deploy-perm', runId: 'run-1' };

describe('device permissions over OpenSSH (ForceCommand internal-sftp -u 0002, setgid staging)', function () {
  this.timeout(120_000);
  let fleet: SimulatedFleet;
  let work: string;
  let models: TestModels;
  let group: number;

  before(async function () {
    if (!findSshd() || process.getuid?.() !== 0) {
      console.log('      skipped: needs OpenSSH sshd and root (the simulated device logs in as root)');
      this.skip();
    }
    models = (await buildTestModels('tiny')) as TestModels;
    work = await mkdtemp(path.join(tmpdir(), 'edgeship-perm-'));
    fleet = await startSimulatedFleet({ count: 1, ids: ['perm-dev'], baseDir: work, sshServer: 'openssh' });
    const d = fleet.devices[0];
    // The deploy user's block, as docs/install-device.md recommends it.
    await d.stopSsh();
    const config = `${readFileSync(d.layout.sshdConfig, 'utf8')}\nMatch User root\n    ForceCommand internal-sftp -u 0002\n`;
    writeFileSync(d.layout.sshdConfig, config);
    const log = openSync(d.layout.sshdLog, 'a');
    const child = spawn(findSshd() as string, ['-D', '-e', '-f', d.layout.sshdConfig], { stdio: ['ignore', log, log], detached: true });
    closeSync(log);
    child.unref();
    writeFileSync(d.layout.sshdPid, `${child.pid}\n`); // fleet.stop() ends it like its own
    assert.ok(await waitForPort(d.sshPort, 15_000), 'sshd with the Match block did not start');
    // staging/ as the postinst leaves it, with a group that is not root's own.
    group = lookupGroupId('users') ?? 100;
    const staging = path.join(d.spec.modelDir, 'staging');
    chownSync(staging, 0, group);
    chmodSync(staging, 0o2775);
  });

  after(async () => {
    await fleet?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('an exec is refused: its only output is "This service allows sftp connections only."', async () => {
    const ssh = await connectDevice(fleet.devices[0].spec);
    try {
      const res = await ssh.execCommand('sha256sum -- /etc/hostname');
      assert.equal(res.stdout.trim(), 'This service allows sftp connections only.');
      assert.equal(res.stderr, '');
      assert.equal(res.code, 1);
    } finally {
      ssh.dispose();
    }
  });

  it('pushArtifact stages (read-back verification); what it creates takes the staging group, the claims directory is 2775', async () => {
    const d = fleet.devices[0];
    const m = models.good;
    const push = createPushArtifact(fleet.inventory);
    const result = await runActivity(() => push({ deviceId: d.id, artifact: { path: m.path, sha256: m.sha256, sizeBytes: statSync(m.path).size }, metadataPath: m.metadataPath, ...RUN }));
    assert.equal(result.reused, false);
    const staged = path.join(d.spec.modelDir, 'staging', `${m.sha256}.onnx`);
    assert.equal(result.stagedPath, staged);
    for (const f of [staged, `${staged}.meta.json`, claimFile(staged, RUN)]) assert.equal(statSync(f).gid, group, `${f} group`);
    const claims = statSync(`${staged}.claims`);
    assert.equal(claims.gid, group);
    assert.equal((claims.mode & 0o7777).toString(8), '2775');
    assert.equal(statSync(staged).mode & 0o002, 0, 'nothing world-writable');

    // The service user installs an upload it does not own: a copy that is its own, the upload gone.
    chownSync(staged, 4242, group);
    chownSync(`${staged}.meta.json`, 4242, group);
    const installed = await installRelease(d.spec.modelDir, m.sha256, 'onnx', RUN);
    assert.equal(installed.from, 'staging');
    assert.equal(statSync(installed.release).uid, 0, 'the release belongs to the service, not to the uploader');
    assert.equal(statSync(`${installed.release}.meta.json`).uid, 0);
    assert.throws(() => statSync(staged), /ENOENT/);
    assert.throws(() => statSync(`${staged}.claims`), /ENOENT/);
  });
});
