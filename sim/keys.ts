// Key material for simulated devices: ed25519 key pairs made by ssh-keygen when it is installed,
// by the ssh2 library otherwise (a laptop without OpenSSH), in the same OpenSSH formats.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { utils } from 'ssh2';

export interface KeyPair {
  privateKeyPath: string;
  publicKeyPath: string;
  /** `ssh-ed25519 <base64>` without a comment. */
  publicKey: string;
}

export function findExecutable(name: string, dirs = ['/usr/bin', '/usr/sbin', '/bin', '/sbin', '/usr/local/bin', '/usr/local/sbin', '/opt/homebrew/bin', '/opt/homebrew/sbin']): string | undefined {
  const searchPath = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...dirs];
  return searchPath.map((d) => `${d}/${name}`).find((p) => existsSync(p));
}

/**
 * An ed25519 key pair in OpenSSH formats from the ssh2 library that ssh2 itself can read back.
 * ssh2 1.x's generator drops a leading zero byte of the public key now and then (measured: 7 of
 * 2,000 pairs with a 31-byte key), and its own parser then refuses the private key as "Malformed
 * OpenSSH private key": such a pair is drawn again.
 */
export function generateEd25519KeyPair(comment?: string): { private: string; public: string } {
  for (;;) {
    const pair = utils.generateKeyPairSync('ed25519', comment ? { comment } : {});
    if (!(utils.parseKey(pair.private) instanceof Error) && !(utils.parseKey(pair.public) instanceof Error)) return pair;
  }
}

/** Creates (or keeps, if present) an unencrypted ed25519 key pair at `privateKeyPath`. */
export function ensureKeyPair(privateKeyPath: string, comment: string): KeyPair {
  const publicKeyPath = `${privateKeyPath}.pub`;
  if (!existsSync(privateKeyPath) || !existsSync(publicKeyPath)) {
    const sshKeygen = findExecutable('ssh-keygen');
    if (sshKeygen) {
      execFileSync(sshKeygen, ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', privateKeyPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    } else {
      const pair = generateEd25519KeyPair(comment);
      writeFileSync(privateKeyPath, pair.private, { mode: 0o600 });
      writeFileSync(publicKeyPath, `${pair.public}\n`, { mode: 0o644 });
    }
  }
  chmodSync(privateKeyPath, 0o600);
  const publicKey = readFileSync(publicKeyPath, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  return { privateKeyPath, publicKeyPath, publicKey };
}
