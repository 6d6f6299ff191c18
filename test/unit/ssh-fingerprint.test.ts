// Host key fingerprints as OpenSSH prints them, and the HostKeyMismatch message built from them.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { hostKeyMismatchMessage } from '../../activities/gpu/ssh';
import { parseInventory, parseKnownHostsLine, type DeviceSpec } from '../../lib/inventory';
import { keyscanCommand, sshFingerprint } from '../../lib/sshFingerprint';
import { findExecutable, generateEd25519KeyPair } from '../../sim/keys';

function blobOf(publicKeyLine: string): Buffer {
  return Buffer.from(publicKeyLine.trim().split(/\s+/)[1], 'base64');
}

function device(knownHosts: string): DeviceSpec {
  return parseInventory({
    devices: [{
      id: 'pi-01', target: 'cpu-int8',
      ssh: { host: '10.0.0.5', port: 2222, user: 'root', privateKeyPath: '/keys/id', knownHosts },
      modelDir: '/srv/model', restartCommand: ['/bin/true'], healthUrl: 'http://10.0.0.5:9000/healthz', inferenceUrl: 'http://10.0.0.5:9000/infer',
    }],
  }).devices[0];
}

describe('SSH host key fingerprints', () => {
  const keygen = findExecutable('ssh-keygen');

  for (const type of ['ed25519', 'ecdsa', 'rsa'] as const) {
    it(`equals ssh-keygen -lf for a generated ${type} key`, () => {
      assert.ok(keygen, 'ssh-keygen is missing: `npm test` installs openssh-client (scripts/install-system-packages.sh)');
      const dir = mkdtempSync(path.join(tmpdir(), 'edgeship-fp-'));
      try {
        const key = path.join(dir, 'key');
        execFileSync(keygen!, ['-q', '-t', type, '-N', '', '-C', 'test', '-f', key]);
        const expected = execFileSync(keygen!, ['-lf', `${key}.pub`], { encoding: 'utf8' }).split(' ')[1];
        assert.match(expected, /^SHA256:[A-Za-z0-9+/]{43}$/);
        assert.equal(sshFingerprint(blobOf(readFileSync(`${key}.pub`, 'utf8'))), expected);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('names the keyscan algorithm family', () => {
    assert.equal(keyscanCommand('10.0.0.5', 2222, 'ssh-ed25519'), 'ssh-keyscan -p 2222 -t ed25519 10.0.0.5 | ssh-keygen -lf -');
    assert.equal(keyscanCommand('h', 22, 'ecdsa-sha2-nistp384'), 'ssh-keyscan -p 22 -t ecdsa h | ssh-keygen -lf -');
    assert.equal(keyscanCommand('h', 22, 'ssh-rsa'), 'ssh-keyscan -p 22 -t rsa h | ssh-keygen -lf -');
  });

  it('the HostKeyMismatch message shows both distinct fingerprints and the keyscan line', () => {
    const pinned = generateEd25519KeyPair().public;
    const presented = generateEd25519KeyPair().public;
    // Why prefixes were useless: two ed25519 keys share their first 24 base64 characters.
    assert.equal(pinned.split(' ')[1].slice(0, 24), presented.split(' ')[1].slice(0, 24));
    const d = device(`[10.0.0.5]:2222 ${pinned.split(' ').slice(0, 2).join(' ')}`);
    const entry = parseKnownHostsLine(d.ssh.knownHosts);
    const msg = hostKeyMismatchMessage('pi-01 (root@10.0.0.5:2222)', d, entry.keyType, entry.key, blobOf(presented));
    const fpPinned = sshFingerprint(blobOf(pinned));
    const fpPresented = sshFingerprint(blobOf(presented));
    assert.notEqual(fpPinned, fpPresented);
    assert.ok(msg.includes(`pinned:    ssh-ed25519 ${fpPinned}`), msg);
    assert.ok(msg.includes(`presented: ssh-ed25519 ${fpPresented}`), msg);
    assert.ok(msg.includes('ssh-keyscan -p 2222 -t ed25519 10.0.0.5 | ssh-keygen -lf -'), msg);
  });

  it('an inventory line pinned for another host names its key by fingerprint', () => {
    const pub = generateEd25519KeyPair().public.split(' ').slice(0, 2).join(' ');
    assert.throws(() => device(`[10.0.0.6]:2222 ${pub}`), (err: Error) => {
      assert.ok(err.message.includes(sshFingerprint(blobOf(pub))), err.message);
      assert.match(err.message, /ssh-keyscan -p 2222 -t ed25519 10\.0\.0\.5/);
      return true;
    });
  });
});
