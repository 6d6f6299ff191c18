// Creating release key pairs (`edgeship keys create`). Node's own Ed25519; the private key file
// is created with mode 0600 by an exclusive open (never world-readable for a moment, never
// overwriting a key that exists: replacing a key is a rotation, see docs/security.md).
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { keyIdOf, parsePrivateKeyPem, parsePublicKeyPem } from '../edge/releaseManifest';

export const PRIVATE_KEY_FILE = 'release-key.pem';
export const PUBLIC_KEY_FILE = 'release-key.pub.pem';

export interface CreatedKeyPair {
  keyId: string;
  privateKeyPath: string;
  publicKeyPath: string;
}

export function createReleaseKeyPair(outDir: string): CreatedKeyPair {
  const dir = path.resolve(outDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const privateKeyPath = path.join(dir, PRIVATE_KEY_FILE);
  const publicKeyPath = path.join(dir, PUBLIC_KEY_FILE);
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const privatePem = privateKey.export({ format: 'pem', type: 'pkcs8' });
  const publicPem = publicKey.export({ format: 'pem', type: 'spki' });
  // 'wx': fails if either file exists, so an existing key is never replaced by accident.
  writeFileSync(privateKeyPath, privatePem, { mode: 0o600, flag: 'wx' });
  try {
    writeFileSync(publicKeyPath, publicPem, { mode: 0o644, flag: 'wx' });
  } catch (err) {
    rmSync(privateKeyPath, { force: true });
    throw err;
  }
  return { keyId: keyIdOf(publicKey), privateKeyPath, publicKeyPath };
}

/** The key id of a public or private release key file (PEM). */
export function keyIdOfFile(file: string): string {
  const pem = readFileSync(file);
  if (pem.includes('PRIVATE KEY')) return keyIdOf(createPublicKey(parsePrivateKeyPem(pem, file)));
  return keyIdOf(parsePublicKeyPem(pem, file));
}
