// How an operator recognizes an SSH host key: OpenSSH's SHA256 fingerprint (what `ssh-keygen -lf`
// and `ssh` itself print), and the command that fetches a device's key to compare it with. Raw
// base64 prefixes are useless for this: every ed25519 blob starts with the same 24 characters
// (the length-prefixed "ssh-ed25519" name).
import { createHash } from 'node:crypto';

/** `SHA256:<base64 of sha256(key blob), padding removed>`, exactly as `ssh-keygen -lf` prints it. */
export function sshFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** ssh-keyscan's `-t` names the algorithm family, not the full key type. */
function keyscanType(keyType: string): string {
  if (keyType === 'ssh-ed25519') return 'ed25519';
  if (keyType.startsWith('ecdsa-sha2-')) return 'ecdsa';
  if (keyType === 'ssh-rsa') return 'rsa';
  return keyType;
}

/**
 * The command that prints the fingerprint of the key a device presents now. Meant to be run over
 * a path the operator trusts (the device's console, its LAN), to decide which key is genuine.
 */
export function keyscanCommand(host: string, port: number, keyType: string): string {
  return `ssh-keyscan -p ${port} -t ${keyscanType(keyType)} ${host} | ssh-keygen -lf -`;
}
