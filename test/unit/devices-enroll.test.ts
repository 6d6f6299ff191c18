// edgeship devices add's logic (clients/enrollment.ts): the entry it writes, and every refusal
// leaving the inventory file byte for byte as it was. The host key fetch is replaced here by a
// function returning a generated key (replacedFetchKey); the real fetch over SSH is exercised
// against a closed port below and against OpenSSH in test/integration/devices-enroll-check.test.ts.
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { enrollDevice, EnrollmentError, type EnrollOptions, type EnrollIo } from '../../clients/enrollment';
import { keyTypeOf, type PresentedHostKey } from '../../clients/hostKey';
import { loadInventory } from '../../lib/inventory';
import { sshFingerprint } from '../../lib/sshFingerprint';
import { generateEd25519KeyPair } from '../../sim/keys';

function generatedHostKey(): PresentedHostKey {
  const blob = Buffer.from(generateEd25519KeyPair().public.split(' ')[1], 'base64');
  return { keyType: 'ssh-ed25519', key: blob, fingerprint: sshFingerprint(blob) };
}

describe('edgeship devices add (enrollment logic)', () => {
  let dir: string;
  let inventory: string;
  let keyFile: string;
  const deviceKey = generatedHostKey();
  let fetched: string[];
  /** Stands in for the SSH handshake: the device at any address presents deviceKey. */
  const replacedFetchKey = async (host: string, port: number): Promise<PresentedHostKey> => {
    fetched.push(`${host}:${port}`);
    return deviceKey;
  };
  const withFingerprint: EnrollIo = { fetchKey: replacedFetchKey };

  function options(overrides: Partial<EnrollOptions> = {}): EnrollOptions {
    return {
      inventory, id: 'pi-07', host: '10.0.4.17', port: 22, user: 'deploy', target: 'hailo8', key: keyFile,
      hostKeyFingerprint: deviceKey.fingerprint,
      modelDir: '/var/lib/edgeship/models', healthUrl: 'http://127.0.0.1:9000/healthz', inferenceUrl: 'http://127.0.0.1:9000/infer',
      restartCommand: ['/usr/bin/sudo', '-n', '/usr/bin/systemctl', 'restart', 'edgeship-runtime.service'],
      ...overrides,
    };
  }

  const existing = () => ({
    devices: [{
      id: 'pi-01', target: 'cpu-int8',
      ssh: { host: '10.0.4.11', user: 'deploy', privateKeyPath: 'keys/id_ed25519', knownHosts: `10.0.4.11 ssh-ed25519 ${generatedHostKey().key.toString('base64')}` },
      modelDir: '/var/lib/edgeship/models', restartCommand: ['/bin/true'], healthUrl: 'http://127.0.0.1:9000/healthz', inferenceUrl: 'http://127.0.0.1:9000/infer',
    }],
  });

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'edgeship-enroll-'));
    inventory = path.join(dir, 'inventory.json');
    keyFile = path.join(dir, 'id_ed25519');
    writeFileSync(keyFile, 'not read by enrollment, only required to exist\n');
    fetched = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** The refusal's type, exit code and message; the file's bytes unchanged (or still absent). */
  async function refused(o: EnrollOptions, io: EnrollIo, pattern: RegExp, exitCode?: 1 | 2): Promise<EnrollmentError> {
    const before = existsSync(inventory) ? readFileSync(inventory) : null;
    const err = await enrollDevice(o, io).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof EnrollmentError, `expected an EnrollmentError, got ${String(err)}`);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'), 'one line');
    if (exitCode) assert.equal(err.exitCode, exitCode);
    if (before === null) assert.equal(existsSync(inventory), false, 'no inventory file was created');
    else assert.ok(readFileSync(inventory).equals(before), 'the inventory file is unchanged byte for byte');
    return err;
  }

  it('creates the inventory with a schema-valid entry: pinned known_hosts line, absolute key path, package defaults', async () => {
    const result = await enrollDevice(options(), withFingerprint);
    assert.deepEqual(fetched, ['10.0.4.17:22']);
    assert.equal(result.confirmedBy, 'fingerprint-flag');
    assert.equal(result.devices, 1);
    const inv = loadInventory(inventory);
    const d = inv.devices[0];
    assert.equal(d.id, 'pi-07');
    assert.equal(d.ssh.knownHosts, `10.0.4.17 ssh-ed25519 ${deviceKey.key.toString('base64')}`);
    assert.equal(d.ssh.privateKeyPath, keyFile);
    assert.equal(d.modelDir, '/var/lib/edgeship/models');
    assert.equal(keyTypeOf(deviceKey.key), 'ssh-ed25519');
  });

  it('appends to an existing inventory, keeping the other entries as they were written; a non-22 port pins [host]:port', async () => {
    writeFileSync(inventory, `${JSON.stringify(existing(), null, 2)}\n`);
    await enrollDevice(options({ port: 2222 }), withFingerprint);
    const raw = JSON.parse(readFileSync(inventory, 'utf8')) as { devices: Array<{ id: string; ssh: { privateKeyPath: string; knownHosts: string } }> };
    assert.deepEqual(raw.devices.map((d) => d.id), ['pi-01', 'pi-07']);
    assert.equal(raw.devices[0].ssh.privateKeyPath, 'keys/id_ed25519', 'relative path of the existing entry kept');
    assert.match(raw.devices[1].ssh.knownHosts, /^\[10\.0\.4\.17\]:2222 ssh-ed25519 /);
    assert.equal(loadInventory(inventory).devices.length, 2);
  });

  it('asks the operator when no fingerprint is given; yes pins, no writes nothing', async () => {
    const asked: string[] = [];
    const no: EnrollIo = { fetchKey: replacedFetchKey, confirm: async (p, where) => (asked.push(`${where} ${p.fingerprint}`), false) };
    await refused(options({ hostKeyFingerprint: undefined }), no, /not confirmed: nothing written/, 1);
    assert.deepEqual(asked, [`10.0.4.17:22 ${deviceKey.fingerprint}`]);
    const yes: EnrollIo = { fetchKey: replacedFetchKey, confirm: async () => true };
    const r = await enrollDevice(options({ hostKeyFingerprint: undefined }), yes);
    assert.equal(r.confirmedBy, 'operator');
  });

  it('refuses a duplicate id before contacting the device', async () => {
    writeFileSync(inventory, `${JSON.stringify(existing(), null, 2)}\n`);
    await refused(options({ id: 'pi-01' }), withFingerprint, /device pi-01 is already in .*10\.0\.4\.11:22.*remove its entry first/, 2);
    assert.deepEqual(fetched, []);
  });

  it('refuses a fingerprint mismatch, naming both fingerprints', async () => {
    writeFileSync(inventory, `${JSON.stringify(existing(), null, 2)}\n`);
    const other = generatedHostKey().fingerprint;
    const err = await refused(options({ hostKeyFingerprint: other }), withFingerprint, /host key mismatch: 10\.0\.4\.17:22 presents ssh-ed25519 SHA256:/, 1);
    assert.ok(err.message.includes(deviceKey.fingerprint) && err.message.includes(other));
  });

  it('without a terminal and without --host-key-fingerprint: refused, naming the flag, device not contacted', async () => {
    await refused(options({ hostKeyFingerprint: undefined }), { fetchKey: replacedFetchKey }, /pass --host-key-fingerprint SHA256:/, 2);
    assert.deepEqual(fetched, []);
  });

  it('refuses bad flags before contacting the device', async () => {
    writeFileSync(inventory, `${JSON.stringify(existing(), null, 2)}\n`);
    await refused(options({ id: 'Pi_07' }), withFingerprint, /invalid device id/, 2);
    await refused(options({ target: 'tpu' }), withFingerprint, /--target "tpu" is not one of/, 2);
    await refused(options({ port: 70000 }), withFingerprint, /--port 70000/, 2);
    await refused(options({ hostKeyFingerprint: 'SHA256:short' }), withFingerprint, /--host-key-fingerprint .* is not an OpenSSH SHA256 fingerprint/, 2);
    await refused(options({ key: path.join(dir, 'missing') }), withFingerprint, /no private key at .*missing: pass --key/, 2);
    await refused(options({ modelDir: 'models' }), withFingerprint, /modelDir: must be an absolute path/, 2);
    await refused(options({ healthUrl: 'ftp://x/healthz' }), withFingerprint, /healthUrl/, 2);
    await refused(options({ user: 'a b' }), withFingerprint, /ssh\.user/, 2);
    await refused(options({ host: 'a;b' }), withFingerprint, /ssh\.host/, 2);
    assert.deepEqual(fetched, []);
  });

  it('refuses to add to an inventory that is invalid or not JSON', async () => {
    writeFileSync(inventory, '{"devices": [');
    await refused(options(), withFingerprint, /is not valid JSON .*fix it before adding a device/, 1);
    writeFileSync(inventory, JSON.stringify({ devices: [{ id: 'x' }] }));
    await refused(options(), withFingerprint, /not a valid edgeship inventory.*fix it before adding a device/, 1);
  });

  it('refuses when the inventory changed while the device was contacted, keeping the other change', async () => {
    writeFileSync(inventory, `${JSON.stringify(existing(), null, 2)}\n`);
    const meddling: EnrollIo = {
      fetchKey: async (host, port) => {
        const other = existing();
        other.devices[0].id = 'pi-02';
        writeFileSync(inventory, JSON.stringify(other));
        return replacedFetchKey(host, port);
      },
    };
    const err = await enrollDevice(options(), meddling).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof EnrollmentError);
    assert.match(err.message, /changed while pi-07 was being enrolled: nothing written; run the command again/);
    assert.deepEqual(loadInventory(inventory).devices.map((d) => d.id), ['pi-02']);
  });

  it('a host that does not answer SSH (real fetch, closed port): one line naming the fix, nothing written', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    await refused(options({ host: '127.0.0.1', port }), {}, new RegExp(`no SSH server answered at 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\): check --host and --port`), 1);
  });
});
