// Release manifests: canonical form, Ed25519 sign/verify, every check of verifyRelease, device
// trust loading, the GPU side's sequence counter under concurrency and idempotent signing.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import * as path from 'node:path';
import { loadReleaseSigner } from '../../activities/gpu/releaseKey';
import { ReleaseSequences } from '../../activities/gpu/releaseSequence';
import { signRelease } from '../../activities/gpu/signRelease';
import { keyIdOf, manifestBytes, manifestPathOf, parseSignedManifest, signatureHolds, type ReleaseManifest } from '../../edge/releaseManifest';
import { loadDeviceTrust, ReleaseRefused, verifyRelease, type DeviceTrust, type TrustCheck } from '../../edge/trust';
import { makeTestKey, type TestKey } from '../helpers/releaseKeys';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

async function refused(p: Promise<unknown>, check: TrustCheck, keyId?: string): Promise<ReleaseRefused> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ReleaseRefused, String(err));
    assert.equal(err.check, check, err.message);
    if (keyId) assert.equal(err.keyId, keyId);
    return err;
  }
  return assert.fail(`expected refusal ${check}`);
}

describe('release manifests and device trust', () => {
  let dir: string;
  let keyA: TestKey;
  let keyB: TestKey;
  let model: { path: string; metadataPath: string; sha256: string; sizeBytes: number };
  let trustA: DeviceTrust;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'edgeship-manifest-'));
    keyA = makeTestKey('a');
    keyB = makeTestKey('b');
    const bytes = randomBytes(4096);
    const file = path.join(dir, 'model.onnx');
    writeFileSync(file, bytes);
    writeFileSync(`${file}.meta.json`, JSON.stringify({ sha256: sha(bytes) }));
    model = { path: file, metadataPath: `${file}.meta.json`, sha256: sha(bytes), sizeBytes: bytes.length };
    trustA = loadDeviceTrust({ publicKeyFiles: [keyA.publicKeyPath], requireSignatures: true });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const files = (over: Partial<Parameters<typeof verifyRelease>[1]> = {}) => ({ manifestFile: manifestPathOf(model.path), metadataFile: model.metadataPath, model: { file: model.path }, ...over });
  const sign = (key: TestKey, store = path.join(dir, 'store')) => signRelease(store, key.signer, { modelName: 'tcn', target: 'cpu-int8', artifact: model, metadataPath: model.metadataPath });

  it('key ids are ed25519: + 16 hex of sha256 over the raw public key', () => {
    assert.match(keyA.keyId, /^ed25519:[0-9a-f]{16}$/);
    assert.notEqual(keyA.keyId, keyB.keyId);
    const der = keyA.signer.publicKey.export({ format: 'der', type: 'spki' });
    assert.equal(keyA.keyId, `ed25519:${sha(der.subarray(der.length - 32)).slice(0, 16)}`);
    assert.equal(keyIdOf(keyA.signer.publicKey), keyA.keyId);
  });

  it('signs the canonical bytes: key order does not matter, any changed field breaks the signature', async () => {
    const r = await sign(keyA);
    assert.ok(r.signed);
    const signed = parseSignedManifest(JSON.parse(readFileSync(r.manifestPath, 'utf8')), r.manifestPath);
    const m = signed.manifest as ReleaseManifest;
    const reordered = Object.fromEntries(Object.entries(m).reverse()) as ReleaseManifest;
    assert.deepEqual(manifestBytes(reordered), manifestBytes(m));
    assert.ok(signatureHolds(signed, keyA.signer.publicKey));
    assert.ok(!signatureHolds(signed, keyB.signer.publicKey));
    assert.ok(!signatureHolds({ ...signed, manifest: { ...m, sequence: m.sequence + 1 } }, keyA.signer.publicKey));
    assert.ok(!signatureHolds({ ...signed, manifest: { ...m, target: 'hailo8' } }, keyA.signer.publicKey));
    const v = await verifyRelease(trustA, files({ expectedSha256: model.sha256, deviceTarget: 'cpu-fp32' }));
    assert.ok(v.signed);
    assert.equal(v.keyId, keyA.keyId);
    assert.equal(v.manifest.sequence, r.sequence);
  });

  it('refuses each way a release can be wrong, naming the check and the key', async () => {
    const r = await sign(keyA);
    assert.ok(r.signed);
    const original = readFileSync(r.manifestPath, 'utf8');
    const rewrite = (change: (s: { manifest: Record<string, unknown>; signature: Record<string, unknown> }) => void) => {
      const s = JSON.parse(original) as { manifest: Record<string, unknown>; signature: Record<string, unknown> };
      change(s);
      writeFileSync(r.manifestPath, JSON.stringify(s));
    };
    try {
      // A sequence raised after signing.
      rewrite((s) => (s.manifest.sequence = 99));
      await refused(verifyRelease(trustA, files()), 'signature', keyA.keyId);
      // The signature claims another key than the manifest.
      rewrite((s) => (s.signature.keyId = keyB.keyId));
      await refused(verifyRelease(trustA, files()), 'malformed-manifest', keyB.keyId);
      writeFileSync(r.manifestPath, '{not json');
      await refused(verifyRelease(trustA, files()), 'malformed-manifest');
      writeFileSync(r.manifestPath, original);
      // Another file than the manifest names; the request naming another sha; the metadata changed.
      await refused(verifyRelease(trustA, files({ model: { sha256: sha('other') } })), 'model-sha', keyA.keyId);
      await refused(verifyRelease(trustA, files({ expectedSha256: sha('other') })), 'model-sha', keyA.keyId);
      const metaBefore = readFileSync(model.metadataPath);
      writeFileSync(model.metadataPath, Buffer.concat([metaBefore, Buffer.from(' ')]));
      await refused(verifyRelease(trustA, files()), 'metadata-sha', keyA.keyId);
      writeFileSync(model.metadataPath, metaBefore);
      // An int8 release on a hailo8 device.
      await refused(verifyRelease(trustA, files({ deviceTarget: 'hailo8' })), 'target', keyA.keyId);
      // Signed by a key this device does not trust.
      const onlyB = loadDeviceTrust({ publicKeyFiles: [keyB.publicKeyPath], requireSignatures: true });
      await refused(verifyRelease(onlyB, files()), 'unknown-key', keyA.keyId);
      // No manifest at all: refused when required, reported unsigned otherwise.
      await refused(verifyRelease(trustA, files({ manifestFile: path.join(dir, 'absent.json') })), 'missing-manifest');
      assert.deepEqual(await verifyRelease({ ...trustA, requireSignatures: false }, files({ manifestFile: path.join(dir, 'absent.json') })), { signed: false });
    } finally {
      writeFileSync(r.manifestPath, original);
    }
  });

  it('loads several trusted keys (rotation) and refuses bad trust configs', () => {
    const both = loadDeviceTrust({ publicKeyFiles: [keyA.publicKeyPath, keyB.publicKeyPath], requireSignatures: true });
    assert.deepEqual([...both.keys.keys()].sort(), [keyA.keyId, keyB.keyId].sort());
    assert.throws(() => loadDeviceTrust({ publicKeyFiles: [path.join(dir, 'missing.pem')], requireSignatures: false }), /cannot be read/);
    assert.throws(() => loadDeviceTrust({ publicKeyFiles: [model.metadataPath], requireSignatures: false }), /not a PEM public key/);
    assert.throws(() => loadDeviceTrust({ publicKeyFiles: [], requireSignatures: true }), /no trusted key/);
  });

  it('the GPU worker refuses a release key that group or others can read, and never echoes it', () => {
    const copy = path.join(dir, 'loose.pem');
    writeFileSync(copy, readFileSync(keyA.privateKeyPath), { mode: 0o644 });
    chmodSync(copy, 0o644);
    assert.throws(() => loadReleaseSigner(copy), /accessible by group or others \(mode 644\)/);
    chmodSync(copy, 0o600);
    assert.equal(loadReleaseSigner(copy).keyId, keyA.keyId);
    const garbage = path.join(dir, 'garbage.pem');
    writeFileSync(garbage, 'SECRET-LOOKING-BYTES', { mode: 0o600 });
    assert.throws(() => loadReleaseSigner(garbage), (err: Error) => !err.message.includes('SECRET') && /not a PEM private key/.test(err.message));
  });

  it('hands out each sequence number once, even to 12 signers at once', async () => {
    const seq = new ReleaseSequences(path.join(dir, 'seq-store'));
    const got = await Promise.all(Array.from({ length: 12 }, () => seq.withLock('tcn', (take) => take())));
    assert.deepEqual([...got].sort((a, b) => a - b), Array.from({ length: 12 }, (_, i) => i + 1));
    assert.equal(await seq.last('tcn'), 12);
    assert.equal(await seq.last('other-model'), 0);
  });

  it('breaks a lock left by a process of this host that is gone', async () => {
    const root = path.join(dir, 'stale-store');
    mkdirSync(path.join(root, 'sequences'), { recursive: true });
    // A pid far above pid_max: no such process.
    writeFileSync(path.join(root, 'sequences', 'tcn.lock'), `${hostname()} 99999999\n`);
    const seq = new ReleaseSequences(root);
    assert.equal(await seq.withLock('tcn', (take) => take()), 1);
    assert.ok(!existsSync(path.join(root, 'sequences', 'tcn.lock')), 'the lock is released');
    await assert.rejects(seq.withLock('../etc', (take) => take()), /not a model name/);
  });

  it('signing is idempotent: a re-run reuses manifest and sequence; new metadata or a new key is a new release', async () => {
    const store = path.join(dir, 'idem-store');
    const bytes = randomBytes(2048);
    const file = path.join(dir, 'idem.onnx');
    writeFileSync(file, bytes);
    writeFileSync(`${file}.meta.json`, JSON.stringify({ sha256: sha(bytes) }));
    const artifact = { path: file, sha256: sha(bytes), sizeBytes: bytes.length };
    const signAs = (key: TestKey | undefined) => signRelease(store, key?.signer, { modelName: 'idem', target: 'cpu-fp32', artifact, metadataPath: `${file}.meta.json` });
    const first = await signAs(keyA);
    const again = await signAs(keyA);
    assert.ok(first.signed && again.signed);
    assert.deepEqual([first.sequence, first.reused], [1, false]);
    assert.deepEqual([again.sequence, again.reused, again.manifestSha256], [1, true, first.manifestSha256]);
    // Metadata rewritten: the old manifest no longer describes it, so a new release.
    writeFileSync(`${file}.meta.json`, JSON.stringify({ sha256: sha(bytes), note: 'rewritten' }));
    const remeta = await signAs(keyA);
    assert.ok(remeta.signed);
    assert.deepEqual([remeta.sequence, remeta.reused], [2, false]);
    // A rotated key, two compiles at once: signed once, one new number.
    const rotated = await Promise.all([signAs(keyB), signAs(keyB)]);
    assert.ok(rotated[0].signed && rotated[1].signed);
    assert.deepEqual([rotated[0].sequence, rotated[1].sequence, rotated[0].keyId], [3, 3, keyB.keyId]);
    assert.equal(await new ReleaseSequences(store).last('idem'), 3);
    const unsigned = await signAs(undefined);
    assert.equal(unsigned.signed, false);
    assert.match((unsigned as { reason: string }).reason, /no release key/);
  });
});
