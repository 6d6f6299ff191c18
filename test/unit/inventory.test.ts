import { strict as assert } from 'node:assert';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { InventoryError, knownHostsMatches, loadInventory, parseInventory, parseKnownHostsLine } from '../../lib/inventory';
import { generateEd25519KeyPair } from '../../sim/keys';

const hostKey = generateEd25519KeyPair().public.split(' ').slice(0, 2).join(' ');

function device(overrides: Record<string, unknown> = {}, ssh: Record<string, unknown> = {}) {
  return {
    id: 'dev-1',
    target: 'cpu-int8',
    ssh: { host: '127.0.0.1', port: 2201, user: 'root', privateKeyPath: '/keys/id_ed25519', knownHosts: `[127.0.0.1]:2201 ${hostKey}`, ...ssh },
    modelDir: '/srv/edgeship/dev-1/model',
    restartCommand: ['/usr/bin/systemctl', 'restart', 'edge-runtime'],
    healthUrl: 'http://127.0.0.1:9000/healthz',
    inferenceUrl: 'http://127.0.0.1:9000/infer',
    ...overrides,
  };
}

function rejects(raw: unknown, pattern: RegExp) {
  assert.throws(() => parseInventory(raw), (err: unknown) => {
    assert.ok(err instanceof InventoryError, `expected InventoryError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('inventory schema', () => {
  it('accepts a valid inventory and fills defaults', () => {
    const inv = parseInventory({ devices: [device()] });
    assert.equal(inv.devices[0].keepBackups, 3);
    assert.equal(inv.devices[0].ssh.port, 2201);
  });

  it('rejects unknown fields at every level', () => {
    rejects({ devices: [device({ sudo: true })] }, /devices\.0.*sudo/);
    rejects({ devices: [device({}, { password: 'x' })] }, /devices\.0\.ssh.*password/);
    rejects({ devices: [device()], extra: 1 }, /extra/);
  });

  for (const bad of ['../etc', 'a;rm', 'a b', 'Dev1', '-lead', 'trail-', '', 'a/b', '$(id)', 'x'.repeat(64)]) {
    it(`rejects device id ${JSON.stringify(bad)}`, () => rejects({ devices: [device({ id: bad })] }, /devices\.0\.id/));
  }

  it('rejects duplicate ids', () => rejects({ devices: [device(), device()] }, /duplicate device id dev-1/));
  it('rejects an empty fleet', () => rejects({ devices: [] }, /devices/));
  it('rejects unknown targets', () => rejects({ devices: [device({ target: 'tpu' })] }, /target/));

  it('rejects relative, unnormalized or odd model directories', () => {
    rejects({ devices: [device({ modelDir: 'model' })] }, /modelDir: must be an absolute path/);
    rejects({ devices: [device({ modelDir: '/srv/../etc' })] }, /modelDir: must be normalized/);
    rejects({ devices: [device({ modelDir: '/srv/model/' })] }, /modelDir: must be normalized/);
    rejects({ devices: [device({ modelDir: "/srv/m'; rm -rf /" })] }, /modelDir: may contain only/);
  });

  it('rejects bad host key lines', () => {
    const [type, b64] = hostKey.split(' ');
    rejects({ devices: [device({}, { knownHosts: 'garbage' })] }, /knownHosts: expected/);
    rejects({ devices: [device({}, { knownHosts: `[127.0.0.1]:2201 ssh-dss ${b64}` })] }, /unsupported key type ssh-dss/);
    rejects({ devices: [device({}, { knownHosts: `[127.0.0.1]:2201 ssh-rsa ${b64}` })] }, /not a ssh-rsa key/);
    rejects({ devices: [device({}, { knownHosts: `[127.0.0.1]:2201 ${type} ${b64.slice(0, 8)}` })] }, /not a ssh-ed25519 key/);
    rejects({ devices: [device({}, { knownHosts: `[127.0.0.1]:2201 ${type} not*base64` })] }, /not base64/);
    rejects({ devices: [device({}, { knownHosts: `@revoked [127.0.0.1]:2201 ${hostKey}` })] }, /markers/);
    rejects({ devices: [device({}, { knownHosts: `[127.0.0.1]:2201 ${hostKey}\n[127.0.0.1]:2201 ${hostKey}` })] }, /exactly one line/);
  });

  it('rejects a host key line for another host or port', () => {
    rejects({ devices: [device({}, { knownHosts: `[127.0.0.1]:2202 ${hostKey}` })] }, /line is for \[127\.0\.0\.1\]:2202, not for \[127\.0\.0\.1\]:2201/);
    rejects({ devices: [device({}, { knownHosts: `127.0.0.1 ${hostKey}` })] }, /not for/);
  });

  it('accepts hashed and multi-pattern host fields', () => {
    const salt = randomBytes(20);
    const hash = createHmac('sha1', salt).update('[10.0.0.5]:2222').digest('base64');
    const hashed = `|1|${salt.toString('base64')}|${hash}`;
    assert.ok(knownHostsMatches(hashed, '10.0.0.5', 2222));
    assert.ok(!knownHostsMatches(hashed, '10.0.0.5', 22));
    assert.ok(knownHostsMatches('edge-a,10.0.0.5', '10.0.0.5', 22));
    parseInventory({ devices: [device({}, { host: '10.0.0.5', port: 2222, knownHosts: `${hashed} ${hostKey}` })] });
  });

  it('parses the key blob of a known_hosts line', () => {
    const entry = parseKnownHostsLine(`h ${hostKey} comment`);
    assert.equal(entry.keyType, 'ssh-ed25519');
    assert.equal(entry.key.toString('base64'), hostKey.split(' ')[1]);
  });

  it('rejects bad URLs, ports, users and restart commands', () => {
    rejects({ devices: [device({ healthUrl: 'file:///etc/passwd' })] }, /healthUrl/);
    rejects({ devices: [device({}, { port: 70000, knownHosts: `[127.0.0.1]:70000 ${hostKey}` })] }, /ssh\.port/);
    rejects({ devices: [device({}, { user: 'root;id' })] }, /ssh\.user/);
    rejects({ devices: [device({ restartCommand: 'systemctl restart x' })] }, /restartCommand/);
    rejects({ devices: [device({ restartCommand: [] })] }, /restartCommand/);
  });

  it('resolves a relative private key path against the inventory file, and requires absolute without one', () => {
    rejects({ devices: [device({}, { privateKeyPath: 'keys/id' })] }, /privateKeyPath must be absolute/);
    const dir = mkdtempSync(path.join(tmpdir(), 'inv-'));
    try {
      const file = path.join(dir, 'inventory.json');
      writeFileSync(file, JSON.stringify({ devices: [device({}, { privateKeyPath: 'keys/id' })] }));
      assert.equal(loadInventory(file).devices[0].ssh.privateKeyPath, path.join(dir, 'keys/id'));
      writeFileSync(file, '{ not json');
      assert.throws(() => loadInventory(file), /not valid JSON/);
      assert.throws(() => loadInventory(path.join(dir, 'missing.json')), /cannot read inventory/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
