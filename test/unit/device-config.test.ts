// device.json: the packaged example is valid, every problem of a bad file is listed (with its
// fix), the device-side EdgeDevice and Temporal connection derive from it, and the container
// restart method's argv reaches the program exactly as configured, without a shell.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { restartRuntime } from '../../activities/edge/restart';
import { PROJECT_ROOT } from '../../lib/paths';
import { checkModelDir, formatLine } from '../../device/check';
import { DeviceConfigError, edgeDeviceOf, loadDeviceConfig, parseDeviceConfig, unreadableFiles, type DeviceConfig } from '../../device/config';
import { connectionValuesOf, resolveDeviceConnection } from '../../device/connection';
import { canWriteDir, lookupUser } from '../../device/serviceUser';
import { describeTemporalFailure } from '../../device/temporalProblem';

const example = (): Record<string, unknown> => JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'packaging', 'device.example.json'), 'utf8')) as Record<string, unknown>;
const minimal = { id: 'pi-01', target: 'cpu-int8', temporal: { address: 'temporal.example.com:7233' } };

function problems(raw: unknown): string[] {
  try {
    parseDeviceConfig(raw, '/etc/edgeship/device.json');
  } catch (err) {
    assert.ok(err instanceof DeviceConfigError, String(err));
    return err.problems;
  }
  return [];
}

describe('device config (device.json)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'edgeship-device-config-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts the packaged example and fills defaults for a minimal one', () => {
    const c = parseDeviceConfig(example());
    assert.equal(c.restart.method, 'self-reload');
    assert.equal(c.trust.requireSignatures, true);
    const m = parseDeviceConfig(minimal);
    assert.equal(m.modelDir, '/var/lib/edgeship/models');
    assert.deepEqual(m.runtime, { host: '127.0.0.1', port: 9000 });
    assert.deepEqual(m.restart, { method: 'self-reload' });
    assert.equal(m.keepBackups, 3);
    assert.deepEqual(m.trust, { publicKeyFiles: [], requireSignatures: false });
  });

  it('lists every problem at once, each naming its field', () => {
    const found = problems({
      id: 'Pi_01', target: 'gpu', modelDir: '/var/lib/../models', runtime: { port: 70000 }, restart: { method: 'command', argv: ['docker', 'compose'] }, keepBackups: 0,
      temporal: { address: 'no-port', tls: { clientCertFile: '/etc/edgeship/c.pem' }, profile: 'edge' }, trust: { publicKeyFiles: [], requireSignatures: true }, sshKey: '/root/.ssh/id',
    });
    const expect = [/^id: 1-63 lowercase/, /^target must be one of/, /^modelDir must be normalized/, /^runtime\.port: /, /^restart\.argv\.?0? ?.*absolute path|restart\.argv\[0\] must be an absolute path/, /^keepBackups: /,
      /^temporal\.address must be host:port/, /^temporal\.tls\.clientCertFile and clientKeyFile go together/, /^temporal\.profile needs temporal\.configFile/, /requireSignatures is true but trust\.publicKeyFiles is empty/, /^unknown field sshKey/];
    for (const re of expect) assert.ok(found.some((p) => re.test(p)), `no problem matching ${re} in:\n${found.join('\n')}`);
    assert.equal(found.length, expect.length, found.join('\n'));
  });

  it('refuses a missing file, bad JSON and a missing temporal section with the fix', () => {
    assert.throws(() => loadDeviceConfig(path.join(dir, 'absent.json')), /absent\.json: cannot read it \(ENOENT\): create it from \/usr\/share\/doc\/edgeship-device\/device\.example\.json/);
    writeFileSync(path.join(dir, 'broken.json'), '{"id": "pi-01",');
    assert.throws(() => loadDeviceConfig(path.join(dir, 'broken.json')), /not valid JSON .*: fix the syntax/);
    assert.ok(problems({ id: 'pi-01', target: 'cpu-int8' }).some((p) => /^temporal: /.test(p)));
  });

  it('derives the edge device (URLs from runtime host/port; self-reload = no restart command) and carries no SSH', () => {
    const d = edgeDeviceOf(parseDeviceConfig({ ...minimal, runtime: { host: '::1', port: 9100 } }));
    assert.deepEqual(d, { id: 'pi-01', target: 'cpu-int8', modelDir: '/var/lib/edgeship/models', healthUrl: 'http://[::1]:9100/healthz', inferenceUrl: 'http://[::1]:9100/infer', keepBackups: 3, restartCommand: null });
  });

  it('builds the Temporal connection from the config only (API key read from its file, never from the environment)', () => {
    const key = path.join(dir, 'api-key');
    writeFileSync(key, 'secret-key\n');
    const c = parseDeviceConfig({ ...minimal, temporal: { address: 'ns.tmprl.cloud:7233', namespace: 'edge.acct', apiKeyFile: key } });
    assert.equal(connectionValuesOf(c).apiKey, 'secret-key');
    process.env.TEMPORAL_ADDRESS = 'elsewhere:1';
    try {
      const r = resolveDeviceConnection(c);
      assert.equal(r.address, 'ns.tmprl.cloud:7233');
      assert.equal(r.namespace, 'edge.acct');
      assert.equal(r.tls, true, 'an API key implies TLS');
    } finally {
      delete process.env.TEMPORAL_ADDRESS;
    }
    const plain = resolveDeviceConnection(parseDeviceConfig({ ...minimal, temporal: { address: '10.0.0.5:7233', tls: {} } }));
    assert.equal(plain.tls, true, 'an empty tls section means TLS with the system CAs');
  });

  it('lists the files it names that cannot be read', () => {
    const c = parseDeviceConfig({ ...minimal, temporal: { address: 'h:7233', tls: { clientCertFile: path.join(dir, 'nope.pem'), clientKeyFile: path.join(dir, 'nope.key') } }, trust: { publicKeyFiles: [path.join(dir, 'k.pub')], requireSignatures: true } });
    const found = unreadableFiles(c);
    assert.equal(found.length, 3, found.join('\n'));
    assert.match(found[0], /^temporal\.tls\.clientCertFile: cannot read .*nope\.pem \(ENOENT\): put the file there or fix the path$/);
    assert.match(found[2], /^trust\.publicKeyFiles\[0\]: /);
  });

  it('container restart method: the configured argv reaches the program exactly, no shell in between', async () => {
    const record = path.join(dir, 'argv.json');
    const fakeDocker = path.join(dir, 'docker');
    // Stands in for /usr/bin/docker: records the argv it was given.
    writeFileSync(fakeDocker, `#!${process.execPath}\nrequire('fs').writeFileSync(${JSON.stringify(record)}, JSON.stringify(process.argv.slice(2)));\n`);
    chmodSync(fakeDocker, 0o755);
    const argv = [fakeDocker, 'compose', '-f', '/opt/edgeinfer/compose.yml', 'restart', 'edgeinfer; touch /tmp/pwned'];
    const c = parseDeviceConfig({ ...minimal, restart: { method: 'command', argv } });
    const device = edgeDeviceOf(c);
    assert.deepEqual(device.restartCommand, argv);
    const result = await restartRuntime(device.restartCommand, { timeoutMs: 30_000, deviceId: c.id });
    assert.equal(result.exitCode, 0);
    assert.deepEqual(JSON.parse(readFileSync(record, 'utf8')), argv.slice(1));
  });

  it('check: the model directory line judges the service user by owner, group and mode', () => {
    const models = path.join(dir, 'models');
    for (const d of ['', 'releases', 'backups', 'staging']) mkdirSync(path.join(models, d), { recursive: true });
    chmodSync(path.join(models, 'staging'), 0o2775);
    const c: DeviceConfig = parseDeviceConfig({ ...minimal, modelDir: models });
    const self = { name: 'me', current: true as const };
    assert.equal(checkModelDir(c, self).ok, true);
    const stranger = { name: 'edgeship', uid: 4242, gid: 4242, groups: [4242] };
    const line = checkModelDir(c, stranger);
    assert.equal(line.ok, false);
    assert.match(formatLine(line), /^FAIL {2}model dir .* is not writable by edgeship.* — fix: mkdir -p .* && chown edgeship:edgeship -R/);
    chmodSync(path.join(models, 'staging'), 0o755);
    assert.match(checkModelDir(c, self).detail, /staging is not setgid and group-writable \(mode 755\)/);
    assert.equal(canWriteDir(stranger, { uid: 1, gid: 4242, mode: 0o2775 }), true, 'group-writable staging');
    assert.equal(canWriteDir(stranger, { uid: 1, gid: 4242, mode: 0o750 }), false);
    assert.equal(lookupUser('root')?.uid, 0);
    assert.equal(lookupUser('no-such-user-edgeship'), null);
  });

  it('names the fix for a Temporal connection failure', () => {
    const c = parseDeviceConfig({ ...minimal, temporal: { address: 'h:7233', tls: { serverCaFile: '/etc/edgeship/ca.pem' } } });
    assert.match(describeTemporalFailure(new Error('invalid peer certificate: UnknownIssuer'), c, 'h:7233'), /^TLS with h:7233 failed .*: check that temporal\.tls\.serverCaFile/);
    assert.match(describeTemporalFailure(new Error('InvalidMessage(InvalidContentType)'), c, 'h:7233'), /does not answer TLS there .*: remove temporal\.tls/);
    assert.match(describeTemporalFailure(new Error('Request unauthorized'), c, 'h:7233'), /refused these credentials/);
    assert.match(describeTemporalFailure(new Error('Connection refused (os error 111)'), parseDeviceConfig(minimal), 'h:7233'), /^cannot reach Temporal at h:7233 .*: check temporal\.address/);
  });
});
