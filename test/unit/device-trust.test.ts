// The device config's `trust` section as the packaged runtime and edge worker use it: the release
// keys loaded by their ids (what `edgeship-device check` prints), none when no key is listed, and a
// key file that is not a public key named with its fix.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseDeviceConfig } from '../../device/config';
import { describeTrust, deviceTrustOf } from '../../device/trust';
import { runtimeOptionsOf } from '../../device/runtime';
import { makeTestKey } from '../helpers/releaseKeys';

const base = { id: 'pi-01', target: 'cpu-int8', temporal: { address: 'temporal.example.com:7233' } };

describe('device trust (device.json trust → runtime and edge activities)', () => {
  it('loads every listed release key by its id, and the runtime requires signatures as configured', () => {
    const old = makeTestKey('old');
    const next = makeTestKey('next');
    const c = parseDeviceConfig({ ...base, trust: { publicKeyFiles: [old.publicKeyPath, next.publicKeyPath], requireSignatures: true } });
    const trust = deviceTrustOf(c);
    assert.deepEqual([...(trust?.keys.keys() ?? [])].sort(), [old.keyId, next.keyId].sort());
    assert.equal(trust?.requireSignatures, true);
    assert.equal(runtimeOptionsOf(c).trust?.keys.size, 2);
    const said = describeTrust(c);
    assert.equal(said.ok, true);
    assert.match(said.detail, new RegExp(`release keys .*${old.keyId.replace(/[:]/g, '\\:')}.*; requireSignatures true`));
  });

  it('trusts nothing (unsigned releases install) when no key is listed', () => {
    const c = parseDeviceConfig(base);
    assert.equal(deviceTrustOf(c), undefined);
    assert.equal(runtimeOptionsOf(c).trust, undefined);
    assert.match(describeTrust(c).detail, /no release keys configured: unsigned releases install/);
  });

  it('names a key file that is not an Ed25519 public key, with the fix', () => {
    const bad = path.join(mkdtempSync(path.join(tmpdir(), 'edgeship-trust-')), 'not-a-key.pub');
    writeFileSync(bad, 'hello\n');
    const c = parseDeviceConfig({ ...base, trust: { publicKeyFiles: [bad], requireSignatures: true } });
    const said = describeTrust(c);
    assert.equal(said.ok, false);
    assert.match(said.detail, /not-a-key\.pub.*edgeship keys create/);
    assert.throws(() => deviceTrustOf(c), /not-a-key\.pub/);
  });
});
