// Fetches the host key a device's sshd presents, over the SSH protocol itself (no ssh-keyscan):
// ssh2 hands the raw key to hostVerifier during the handshake, before any authentication; we keep
// it and refuse to go further, so nothing is logged in and no credential is offered.
import { Client } from 'ssh2';
import { HOST_KEY_TYPES, type HostKeyType } from '../lib/inventory';
import { sshFingerprint } from '../lib/sshFingerprint';

export interface PresentedHostKey {
  keyType: HostKeyType;
  /** The key blob as in known_hosts (base64-decoded). */
  key: Buffer;
  /** `SHA256:…` as `ssh-keygen -lf` prints it. */
  fingerprint: string;
}

export class HostKeyFetchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HostKeyFetchError';
  }
}

/** The key type a blob names (its first SSH string). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return '';
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString('latin1');
}

// ed25519 first: when a device has several host keys, the one pinned is the one sshd offers for
// the strongest common algorithm, the same preference connectDevice's pinned type then asks for.
const PREFERRED_HOST_KEY_ALGORITHMS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256'];

export async function fetchHostKey(host: string, port: number, opts: { timeoutMs?: number } = {}): Promise<PresentedHostKey> {
  const client = new Client();
  return new Promise<PresentedHostKey>((resolve, reject) => {
    let presented: Buffer | undefined;
    const done = (err?: Error): void => {
      client.removeAllListeners();
      client.on('error', () => undefined);
      client.end();
      if (presented) {
        const keyType = keyTypeOf(presented);
        if (!(HOST_KEY_TYPES as readonly string[]).includes(keyType)) {
          reject(new HostKeyFetchError(`${host}:${port} presents a ${keyType || 'malformed'} host key, which edgeship cannot pin (use one of ${HOST_KEY_TYPES.join(', ')})`));
          return;
        }
        resolve({ keyType: keyType as HostKeyType, key: presented, fingerprint: sshFingerprint(presented) });
        return;
      }
      const e = err as (Error & { code?: string; level?: string }) | undefined;
      const why = e?.code ?? e?.message ?? 'the connection closed before the key exchange';
      reject(new HostKeyFetchError(`no SSH server answered at ${host}:${port} (${why}): check --host and --port, and that sshd runs on the device`));
    };
    client.on('error', (err) => done(err));
    client.on('close', () => done());
    client.on('ready', () => done()); // never reached: the verifier refuses
    client.connect({
      host,
      port,
      username: 'edgeship-enroll',
      readyTimeout: opts.timeoutMs ?? 10_000,
      algorithms: { serverHostKey: PREFERRED_HOST_KEY_ALGORITHMS as never },
      hostVerifier: (key: Buffer) => {
        presented = Buffer.from(key);
        return false; // we only wanted the key
      },
    });
  });
}

/** The inventory's knownHosts line for this device: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsLine(host: string, port: number, keyType: string, key: Buffer): string {
  return `${port === 22 ? host : `[${host}]:${port}`} ${keyType} ${key.toString('base64')}`;
}
