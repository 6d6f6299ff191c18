// The signed release manifest: what the GPU side vouches for and the device checks before it
// installs a model. One JSON file beside the artifact, `<model file>.manifest.json`:
//
//   { "manifest":  { schema, modelName, target, sequence, createdAt, keyId,
//                    model: { file, sha256, sizeBytes }, metadata: { sha256 } },
//     "signature": { alg: "ed25519", keyId, value: <base64 of 64 bytes> } }
//
// The signature is Ed25519 over canonicalJson(manifest) (sorted keys, UTF-8): equal manifests give
// equal bytes wherever they are re-serialized. The key id is "ed25519:" + the first 16 hex digits
// of sha256 over the raw 32-byte public key, so an operator can tell keys apart by a short string
// and the id follows from the key itself (a manifest cannot claim a key id it was not signed by:
// the verifier looks the key up by id and the signature must hold under that key).
// Node-only (node:crypto), shared by the GPU side (signing) and the device (activities, runtime).
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../common/canonicalJson';
import { COMPILE_TARGETS, type CompileTarget } from '../common/contracts';
import { SHA256_PATTERN } from '../common/ids';
import { literal, number, object, oneOf, parse, pathText, string, type Infer } from './shape';

export const MANIFEST_SCHEMA = 'edgeship.release-manifest/1';
export const MANIFEST_SUFFIX = '.manifest.json';
const KEY_ID = /^ed25519:[0-9a-f]{16}$/;

const sha = string({ pattern: SHA256_PATTERN, patternMessage: '64 lowercase hex characters' });
const keyId = string({ pattern: KEY_ID, patternMessage: 'ed25519: and 16 lowercase hex digits' });

export const ReleaseManifestSchema = object({
  schema: literal(MANIFEST_SCHEMA),
  modelName: string({ min: 1, max: 200 }),
  target: oneOf(COMPILE_TARGETS),
  /** Monotonic per model name (the GPU store's counter): the device refuses lower ones. */
  sequence: number({ int: true, min: 1 }),
  createdAt: string({ min: 1 }),
  keyId,
  model: object({ file: string({ min: 1 }), sha256: sha, sizeBytes: number({ int: true, min: 0 }) }, { strict: true }),
  metadata: object({ sha256: sha }, { strict: true }),
}, { strict: true });

export const SignedManifestSchema = object({
  manifest: ReleaseManifestSchema,
  signature: object({ alg: literal('ed25519'), keyId, value: string({ pattern: /^[A-Za-z0-9+/]{86}==$/, patternMessage: 'base64 of 64 bytes' }) }, { strict: true }),
}, { strict: true });

export type ReleaseManifest = Infer<typeof ReleaseManifestSchema> & { target: CompileTarget };
export type SignedManifest = Infer<typeof SignedManifestSchema>;

export function manifestPathOf(modelFile: string): string {
  return `${modelFile}${MANIFEST_SUFFIX}`;
}

/** The exact bytes signed. */
export function manifestBytes(m: ReleaseManifest): Buffer {
  return Buffer.from(canonicalJson(m), 'utf8');
}

/** The raw 32-byte Ed25519 public key (the last 32 bytes of its SPKI DER form). */
export function rawPublicKey(key: KeyObject): Buffer {
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`not an Ed25519 key (${key.asymmetricKeyType ?? key.type})`);
  const der = key.export({ format: 'der', type: 'spki' });
  return der.subarray(der.length - 32);
}

export function keyIdOf(publicKey: KeyObject): string {
  return `ed25519:${createHash('sha256').update(rawPublicKey(publicKey)).digest('hex').slice(0, 16)}`;
}

export function parsePublicKeyPem(pem: string | Buffer, source: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new Error(`${source} is not a PEM public key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${source} is a ${key.asymmetricKeyType} key; release keys are Ed25519`);
  return key;
}

export function parsePrivateKeyPem(pem: string | Buffer, source: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    // The parser's message may quote the input: never echo key material.
    throw new Error(`${source} is not a PEM private key`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${source} is a ${key.asymmetricKeyType} key; release keys are Ed25519`);
  return key;
}

export function signManifest(manifest: ReleaseManifest, privateKey: KeyObject): SignedManifest {
  const keyId = keyIdOf(createPublicKey(privateKey));
  if (manifest.keyId !== keyId) throw new Error(`manifest names key ${manifest.keyId}, signing key is ${keyId}`);
  const value = sign(null, manifestBytes(manifest), privateKey).toString('base64');
  return { manifest, signature: { alg: 'ed25519', keyId, value } };
}

/** True when the signature holds under `publicKey` over exactly this manifest. */
export function signatureHolds(signed: SignedManifest, publicKey: KeyObject): boolean {
  return verify(null, manifestBytes(signed.manifest as ReleaseManifest), publicKey, Buffer.from(signed.signature.value, 'base64'));
}

/** Parses a manifest file's JSON; throws with a reason naming the first problems. */
export function parseSignedManifest(raw: unknown, source: string): SignedManifest {
  const parsed = parse(SignedManifestSchema, raw);
  if (!parsed.ok) {
    const issues = parsed.issues.slice(0, 4).map((i) => `${pathText(i.path) || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`${source} is not a signed release manifest: ${issues}`);
  }
  return parsed.value;
}

export function serializeSignedManifest(s: SignedManifest): string {
  return JSON.stringify(s, null, 2) + '\n';
}
