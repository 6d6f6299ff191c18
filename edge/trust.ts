// What a device trusts, and the one check every install and every model load goes through.
//
// A device's trust is its list of release public keys (files, PEM) and whether it requires
// signatures. With requireSignatures, a model without a manifest signed by one of those keys is
// never installed (swapModel) and never served (the runtime). Without it (the transition while
// a fleet's devices get their keys), a manifest that is present is still checked, and a bad one
// refused, but an unsigned artifact is accepted and reported as unsigned.
//
// Checks, in order; the first that fails names the refusal (ReleaseRefused.check):
//   missing-manifest   no <model>.manifest.json and signatures are required
//   malformed-manifest not a signed manifest (schema), or the signature claims another key than the manifest
//   unknown-key        signed by a key this device does not trust (e.g. one removed by rotation)
//   signature          the Ed25519 signature does not hold over the manifest's canonical bytes
//   model-sha          the model file's bytes, or the sha the request names, differ from the manifest's
//   metadata-sha       the metadata sidecar's bytes differ from the manifest's
//   target             the manifest's target does not run on this device (deviceAcceptsTarget)
// Node-only: used by activities/edge and edge/modelLoader, never by workflow code.
import { createHash, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { deviceAcceptsTarget, type CompileTarget } from '../common/contracts';
import { sha256File } from '../lib/hashing';
import { keyIdOf, parsePublicKeyPem, parseSignedManifest, signatureHolds, type ReleaseManifest } from './releaseManifest';

/** As /etc/edgeship/device.json's "trust" holds it. */
export interface DeviceTrustConfig {
  publicKeyFiles: string[];
  requireSignatures: boolean;
}

export interface DeviceTrust {
  /** Trusted release keys by key id. */
  keys: ReadonlyMap<string, KeyObject>;
  requireSignatures: boolean;
}

export type TrustCheck = 'missing-manifest' | 'malformed-manifest' | 'unknown-key' | 'signature' | 'model-sha' | 'metadata-sha' | 'target';

export class ReleaseRefused extends Error {
  constructor(readonly check: TrustCheck, message: string, readonly keyId?: string) {
    super(message);
    this.name = 'ReleaseRefused';
  }
}

/** Reads the trusted public keys; a file that is missing or not an Ed25519 public key is a config error. */
export function loadDeviceTrust(config: DeviceTrustConfig): DeviceTrust {
  const keys = new Map<string, KeyObject>();
  for (const file of config.publicKeyFiles) {
    let pem: Buffer;
    try {
      pem = readFileSync(file);
    } catch (err) {
      throw new Error(`trusted key ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const key = parsePublicKeyPem(pem, `trusted key ${file}`);
    keys.set(keyIdOf(key), key);
  }
  if (config.requireSignatures && keys.size === 0) throw new Error('requireSignatures is on but no trusted key is configured: nothing could ever be installed');
  return { keys, requireSignatures: config.requireSignatures };
}

/** Whether this device checks anything at all (no keys and not required: it installs as before). */
export function trustActive(trust: DeviceTrust | undefined): trust is DeviceTrust {
  return trust !== undefined && (trust.keys.size > 0 || trust.requireSignatures);
}

export interface ReleaseFiles {
  manifestFile: string;
  metadataFile: string;
  /** The model file to hash, or its sha256 when the caller already hashed the very bytes it uses. */
  model: { file: string } | { sha256: string };
  /** The sha the request names (swapModel's input): the manifest must describe exactly it. */
  expectedSha256?: string;
  /** The device's declared target (inventory / device config). */
  deviceTarget?: CompileTarget;
}

export type ReleaseVerdict = { signed: true; manifest: ReleaseManifest; keyId: string } | { signed: false };

async function readIfExists(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export async function verifyRelease(trust: DeviceTrust, files: ReleaseFiles): Promise<ReleaseVerdict> {
  const text = await readIfExists(files.manifestFile);
  if (text === null) {
    if (trust.requireSignatures) throw new ReleaseRefused('missing-manifest', `${files.manifestFile} is missing and this device requires signed releases`);
    return { signed: false };
  }
  let signed;
  try {
    signed = parseSignedManifest(JSON.parse(text.toString('utf8')), files.manifestFile);
  } catch (err) {
    throw new ReleaseRefused('malformed-manifest', err instanceof SyntaxError ? `${files.manifestFile} is not JSON` : (err as Error).message);
  }
  const manifest = signed.manifest as ReleaseManifest;
  const keyId = signed.signature.keyId;
  if (keyId !== manifest.keyId) throw new ReleaseRefused('malformed-manifest', `the signature is by ${keyId} but the manifest names ${manifest.keyId}`, keyId);
  const key = trust.keys.get(keyId);
  if (!key) throw new ReleaseRefused('unknown-key', `signed by ${keyId}, which this device does not trust (trusted: ${[...trust.keys.keys()].join(', ') || 'none'})`, keyId);
  if (!signatureHolds(signed, key)) throw new ReleaseRefused('signature', `the signature by ${keyId} does not hold over the manifest (altered after signing, or not signed by that key)`, keyId);

  const modelSha = 'sha256' in files.model ? files.model.sha256 : await sha256File(files.model.file).catch(() => null);
  if (modelSha !== manifest.model.sha256) {
    throw new ReleaseRefused('model-sha', `the model's bytes hash to ${modelSha ?? '(missing file)'}, the manifest signed by ${keyId} names ${manifest.model.sha256}`, keyId);
  }
  if (files.expectedSha256 !== undefined && files.expectedSha256 !== manifest.model.sha256) {
    throw new ReleaseRefused('model-sha', `the manifest signed by ${keyId} names ${manifest.model.sha256}, not the requested ${files.expectedSha256}`, keyId);
  }
  const metaBytes = await readIfExists(files.metadataFile);
  const metaSha = metaBytes === null ? null : createHash('sha256').update(metaBytes).digest('hex');
  if (metaSha !== manifest.metadata.sha256) {
    throw new ReleaseRefused('metadata-sha', `the metadata ${files.metadataFile} hashes to ${metaSha ?? '(missing file)'}, the manifest signed by ${keyId} names ${manifest.metadata.sha256}`, keyId);
  }
  if (files.deviceTarget !== undefined && !deviceAcceptsTarget(files.deviceTarget, manifest.target)) {
    throw new ReleaseRefused('target', `the release signed by ${keyId} is for ${manifest.target}; this device is ${files.deviceTarget}`, keyId);
  }
  return { signed: true, manifest, keyId };
}
