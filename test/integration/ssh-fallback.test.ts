// pushArtifact against the embedded ssh2 SSH/SFTP server that simulated devices use where no
// sshd is installed, plus what only that server has to guarantee: key-only login, SFTP confined
// to the device directory, no command but `sha256sum -- <path>`.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { NodeSSH } from 'node-ssh';
import type { SFTPWrapper } from 'ssh2';
import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import { MockActivityEnvironment } from '@temporalio/testing';
import { connectDevice, shellQuote } from '../../activities/gpu/ssh';
import { createPushArtifact } from '../../activities/gpu/pushArtifact';
import type { PushArtifactResult } from '../../common/contracts';
import { parseKnownHostsLine } from '../../lib/inventory';
import { startSimulatedFleet, type SimulatedFleet } from '../../sim/fleet';
import { describeSshPush, expectFailure, makeArtifact, pushInput, runActivity, sha256Of } from '../helpers/sshPushCases';
import { splitQuotedWords } from '../../sim/embeddedSshServer';

describeSshPush('embedded');

function sftpStat(sftp: SFTPWrapper, p: string): Promise<unknown> {
  return new Promise((resolve, reject) => sftp.stat(p, (err, st) => (err ? reject(err) : resolve(st))));
}

describe('embedded SSH server guarantees', function () {
  let fleet: SimulatedFleet;
  let work: string;
  before(async function () {
    work = mkdtempSync(path.join(tmpdir(), 'edgeship-embedded-'));
    fleet = await startSimulatedFleet({ count: 1, baseDir: path.join(work, 'fleet'), sshServer: 'embedded', startRuntimes: false, embeddedExec: false });
  });
  after(async function () {
    await fleet?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('verifies by reading the file back over SFTP when the device cannot run sha256sum', async function () {
    const artifact = makeArtifact(work, 256 * 1024);
    const logs: LogEntry[] = [];
    const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('INFO', (e) => logs.push(e)) });
    const push = createPushArtifact(fleet.inventory);
    const r: PushArtifactResult = await env.run(() => push(pushInput('sim-1', artifact)));
    assert.equal(r.reused, false);
    assert.equal(sha256Of(r.stagedPath), artifact.sha256);
    assert.ok(logs.some((e) => e.meta?.hashMethod === 'sftp-readback'), 'read-back verification was used');

    // Read-back must really hash the device's bytes: corruption there is caught as well.
    const again = makeArtifact(work, 64 * 1024, 'other');
    const corrupting = createPushArtifact(fleet.inventory, { afterUpload: (_d, temp) => writeFile(temp, 'x', { flag: 'r+' }) });
    await expectFailure(runActivity(() => corrupting(pushInput('sim-1', again))), 'ArtifactShaMismatch', false);
  });

  it('confines SFTP to the device directory, symlinks included', async function () {
    const device = fleet.devices[0];
    writeFileSync(path.join(work, 'secret'), 'outside');
    symlinkSync(path.join(work, 'secret'), path.join(device.spec.modelDir, 'escape'));
    const ssh = await connectDevice(device.spec);
    try {
      const sftp = await ssh.requestSFTP();
      await sftpStat(sftp, `${device.spec.modelDir}/releases`); // inside: fine
      for (const p of ['/etc/passwd', `${device.dir}/../secret`, `${device.spec.modelDir}/escape`, '/']) {
        await assert.rejects(sftpStat(sftp, p), /outside the device/, p);
      }
    } finally {
      ssh.dispose();
    }
  });

  it('logs in with the authorized key only, and presents the pinned host key', async function () {
    const device = fleet.devices[0].spec;
    const pinned = parseKnownHostsLine(device.ssh.knownHosts).key;
    let presented: Buffer | undefined;
    const ssh = new NodeSSH();
    await assert.rejects(ssh.connect({
      host: device.ssh.host, port: device.ssh.port, username: 'root', password: 'root', tryKeyboard: true, readyTimeout: 5000,
      hostVerifier: (key: Buffer) => ((presented = key), true),
    }), /authentication methods failed/);
    ssh.dispose();
    assert.ok(presented?.equals(pinned));
  });
});

describe('embedded SSH server exec', function () {
  let fleet: SimulatedFleet;
  let work: string;
  before(async function () {
    work = mkdtempSync(path.join(tmpdir(), 'edgeship-embedded-exec-'));
    fleet = await startSimulatedFleet({ count: 1, baseDir: path.join(work, 'fleet'), sshServer: 'embedded', startRuntimes: false });
  });
  after(async function () {
    await fleet?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('runs only `sha256sum -- <path>` inside the device; everything else is refused', async function () {
    const device = fleet.devices[0];
    const file = path.join(device.spec.modelDir, "it's here");
    writeFileSync(file, 'abc');
    const ssh = await connectDevice(device.spec);
    try {
      const ok = await ssh.execCommand(`sha256sum -- ${shellQuote(file)}`);
      assert.equal(ok.code, 0);
      assert.equal(ok.stdout, `${sha256Of(file)}  ${file}`);
      for (const cmd of ['cat /etc/passwd', 'sha256sum /etc/passwd', `sha256sum -- ${shellQuote(file)}; id`, `sha256sum -- $(id)`]) {
        const r = await ssh.execCommand(cmd);
        assert.equal(r.code, 127, cmd);
      }
      const outside = await ssh.execCommand('sha256sum -- /etc/passwd');
      assert.equal(outside.code, 1);
      assert.match(outside.stderr, /outside the device/);
    } finally {
      ssh.dispose();
    }
  });

  it('parses only plain words and single-quoted strings', function () {
    assert.deepEqual(splitQuotedWords(`sha256sum -- '/a/it'\\''s'`), ['sha256sum', '--', "/a/it's"]);
    assert.deepEqual(splitQuotedWords(`sha256sum -- /a/b`), ['sha256sum', '--', '/a/b']);
    for (const bad of ['a;b', 'a $(b)', 'a "b"', "a 'b", 'a `b`', 'a|b']) assert.equal(splitQuotedWords(bad), null, bad);
  });
});
