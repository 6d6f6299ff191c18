// The GPU worker's release signing key. Read once from the file the worker's config names
// (--release-key / EDGESHIP_RELEASE_KEY), kept as a KeyObject inside this process: activities sign
// with it, and nothing about it but its public key id ever leaves (no payload, history, log or
// report holds the key or its path's contents).
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { keyIdOf, parsePrivateKeyPem, signManifest, type ReleaseManifest, type SignedManifest } from '../../edge/releaseManifest';

export interface ReleaseSigner {
  keyId: string;
  publicKey: KeyObject;
  sign(manifest: ReleaseManifest): SignedManifest;
}

/**
 * Loads an Ed25519 private key (PKCS#8 PEM, as `edgeship keys create` writes it). Like ssh with
 * its identity files, refuses a key that group or others may read: a signing key that leaked is
 * worse than none (it makes forged releases installable).
 */
export function loadReleaseSigner(file: string): ReleaseSigner {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (err) {
    throw new Error(`release key ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if ((mode & 0o077) !== 0) throw new Error(`release key ${file} is accessible by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
  const privateKey = parsePrivateKeyPem(readFileSync(file), `release key ${file}`);
  const publicKey = createPublicKey(privateKey);
  return { keyId: keyIdOf(publicKey), publicKey, sign: (manifest) => signManifest(manifest, privateKey) };
}
