// The user-facing parts of signed releases: `edgeship keys create|id` (real CLI runs), the
// runtime's --trusted-key/--require-signatures, `allowDowngrade` in the request and `edgeship
// start --allow-downgrade`, and how the report shows the release and each device's check.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildRawRequest } from '../../clients/commands/start';
import { deviceLine, releaseLines } from '../../clients/format';
import { PROJECT_ROOT } from '../../lib/paths';
import { InvalidDeployRequest, parseDeployRequest } from '../../common/request';
import { parseRuntimeArgs, UsageError } from '../../edge/cli';
import { keyIdOf, parsePublicKeyPem } from '../../edge/releaseManifest';

const minimal = { modelName: 'tcn-vae', source: { kind: 'checkpoint', checkpointPath: '/ckpt/model.pt' }, target: 'cpu-int8', devices: ['pi-01'] };

function edgeship(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(path.join(PROJECT_ROOT, 'bin', 'edgeship'), args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('signed releases: keys, flags, request and report', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), 'edgeship-keys-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('edgeship keys create writes a 0600 private key and its public key, prints the id, never overwrites', () => {
    const out = path.join(dir, 'keys');
    const first = edgeship(['keys', 'create', '--out', out, '--json']);
    assert.equal(first.status, 0, first.stderr);
    const created = JSON.parse(first.stdout) as { keyId: string; privateKeyPath: string; publicKeyPath: string };
    assert.equal(statSync(created.privateKeyPath).mode & 0o777, 0o600);
    assert.equal(statSync(out).mode & 0o777, 0o700);
    assert.equal(created.keyId, keyIdOf(parsePublicKeyPem(readFileSync(created.publicKeyPath), 'pub')));
    assert.ok(!first.stdout.includes('PRIVATE KEY'), 'the key itself is never printed');
    const before = readFileSync(created.privateKeyPath);
    const again = edgeship(['keys', 'create', '--out', out]);
    assert.equal(again.status, 2);
    assert.match(again.stderr, /already exists .* refusing to overwrite/);
    assert.deepEqual(readFileSync(created.privateKeyPath), before, 'the existing key is untouched');
    for (const file of [created.privateKeyPath, created.publicKeyPath]) {
      const id = edgeship(['keys', 'id', file]);
      assert.deepEqual([id.status, id.stdout.trim()], [0, created.keyId]);
    }
    const bad = edgeship(['keys', 'id', path.join(PROJECT_ROOT, 'package.json')]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /not a PEM public key/);
  });

  it('runtime flags: repeatable --trusted-key (absolute), --require-signatures only with a key', () => {
    const o = parseRuntimeArgs(['--model-dir', '/m', '--port', '1', '--trusted-key', '/k/a.pem', '--trusted-key', '/k/c.pem', '--require-signatures']);
    assert.deepEqual(o.trustConfig, { publicKeyFiles: ['/k/a.pem', '/k/c.pem'], requireSignatures: true });
    assert.deepEqual(parseRuntimeArgs(['--model-dir', '/m', '--port', '1', '--trusted-key', '/k/a.pem']).trustConfig, { publicKeyFiles: ['/k/a.pem'], requireSignatures: false });
    assert.equal(parseRuntimeArgs(['--model-dir', '/m', '--port', '1']).trustConfig, undefined);
    assert.throws(() => parseRuntimeArgs(['--model-dir', '/m', '--port', '1', '--require-signatures']), UsageError);
    assert.throws(() => parseRuntimeArgs(['--model-dir', '/m', '--port', '1', '--trusted-key', 'rel.pem']), UsageError);
  });

  it('allowDowngrade: false by default, a boolean only, set by edgeship start --allow-downgrade', () => {
    assert.equal(parseDeployRequest(minimal).allowDowngrade, false);
    assert.equal(parseDeployRequest({ ...minimal, allowDowngrade: true }).allowDowngrade, true);
    assert.throws(() => parseDeployRequest({ ...minimal, allowDowngrade: 'yes' }), (err: unknown) => err instanceof InvalidDeployRequest && err.issues.some((i) => i.startsWith('allowDowngrade')));
    const { raw } = buildRawRequest({ model: 'tcn-vae', checkpoint: '/ckpt/model.pt', target: 'cpu-int8', devices: 'pi-01', allowDowngrade: true });
    assert.equal(parseDeployRequest(raw).allowDowngrade, true);
    assert.equal(buildRawRequest({ model: 'tcn-vae', checkpoint: '/ckpt/model.pt', target: 'cpu-int8', devices: 'pi-01' }).raw.allowDowngrade, undefined);
  });

  it('the report shows the signing, allowDowngrade, and each device\'s check', () => {
    assert.deepEqual(releaseLines(undefined), []);
    assert.deepEqual(releaseLines({ signed: true, keyId: 'ed25519:0123456789abcdef', sequence: 7, manifestSha256: 'ab'.repeat(32), allowDowngrade: true }), [
      'release: signed by ed25519:0123456789abcdef, sequence 7 (manifest abababababab)',
      'allowDowngrade: yes (devices may go to an older release than they serve)',
    ]);
    assert.match(releaseLines({ signed: false, reason: 'no release key is configured', allowDowngrade: false })[0], /^release: UNSIGNED — no release key/);
    assert.match(deviceLine({ deviceId: 'pi-01', phase: 'validated', release: { signed: true, keyId: 'ed25519:0123456789abcdef', modelName: 'm', sequence: 3, downgradeFrom: 5 } }), /verified ed25519:0123456789abcdef seq 3 \(DOWNGRADE from 5/);
    assert.match(deviceLine({ deviceId: 'pi-01', phase: 'validated', release: { signed: false, reason: 'unsigned' } }), /installed unsigned/);
  });
});
