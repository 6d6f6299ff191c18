// SSH connections to devices with the device's pinned host key, and the mapping of SSH
// failures to typed, correctly-retryable ApplicationFailures.
import { ApplicationFailure } from '@temporalio/common';
import { NodeSSH } from 'node-ssh';
import type { Algorithms } from 'ssh2';
import { ErrorType } from '../../common/errors';
import { parseKnownHostsLine, type DeviceSpec, type HostKeyType } from '../../lib/inventory';
import { keyscanCommand, sshFingerprint } from '../../lib/sshFingerprint';

export interface ConnectOptions {
  /** Bound on TCP connect + SSH handshake + auth. */
  readyTimeoutMs?: number;
}

// ssh-rsa keys are negotiated through their SHA-2 signature algorithms.
const SIGNATURE_ALGORITHMS: Record<HostKeyType, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

/**
 * Opens an SSH connection that accepts only the host key pinned in the inventory. The server is
 * asked for exactly the pinned key type, so a device that also has other host keys cannot
 * present one we cannot check.
 */
export async function connectDevice(device: DeviceSpec, opts: ConnectOptions = {}): Promise<NodeSSH> {
  const pinned = parseKnownHostsLine(device.ssh.knownHosts);
  const where = `${device.id} (${device.ssh.user}@${device.ssh.host}:${device.ssh.port})`;
  let presented: Buffer | undefined;
  const ssh = new NodeSSH();
  try {
    await ssh.connect({
      host: device.ssh.host,
      port: device.ssh.port,
      username: device.ssh.user,
      privateKeyPath: device.ssh.privateKeyPath,
      readyTimeout: opts.readyTimeoutMs ?? 15_000,
      // Protocol trace for diagnosing a device: EDGESHIP_SSH_DEBUG=1.
      debug: process.env.EDGESHIP_SSH_DEBUG ? (m: string) => process.stderr.write(`ssh2 ${device.id}: ${m}\n`) : undefined,
      // Detects a device that vanished mid-transfer instead of hanging on a dead TCP stream.
      keepaliveInterval: 5_000,
      keepaliveCountMax: 3,
      algorithms: { serverHostKey: SIGNATURE_ALGORITHMS[pinned.keyType] } as Algorithms,
      hostVerifier: (key: Buffer) => {
        presented = key;
        return key.equals(pinned.key);
      },
    });
  } catch (err) {
    ssh.dispose();
    if (presented && !presented.equals(pinned.key)) {
      throw ApplicationFailure.create({
        type: ErrorType.HostKeyMismatch,
        nonRetryable: true,
        message: hostKeyMismatchMessage(where, device, pinned.keyType, pinned.key, presented),
      });
    }
    // The device offers no host key of the pinned type: it can never prove it holds the pinned
    // key, and no retry will change that (the inventory or the device's sshd is wrong).
    if (/no matching host key format/i.test((err as Error)?.message ?? '')) {
      throw ApplicationFailure.create({
        type: ErrorType.HostKeyMismatch,
        nonRetryable: true,
        message: `${where} offers no ${pinned.keyType} host key, the type pinned in the inventory: refusing to connect; pin a host key the device has`,
      });
    }
    throw sshFailure(err, where);
  }
  // node-ssh stops listening for connection errors once connected; without a listener a reset
  // mid-transfer would be an uncaught exception in the worker. The pending SFTP or exec call
  // fails on its own and carries the error to the activity.
  ssh.connection?.on('error', () => undefined);
  return ssh;
}

/**
 * What an operator needs to decide whether the device was re-imaged or something sits in
 * between: both fingerprints as OpenSSH prints them, and how to look at the key over a path they
 * trust.
 */
export function hostKeyMismatchMessage(where: string, device: DeviceSpec, keyType: HostKeyType, pinned: Buffer, presented: Buffer): string {
  return [
    `host key of ${where} does not match the pinned key: refusing to connect.`,
    `  pinned:    ${keyType} ${sshFingerprint(pinned)}`,
    `  presented: ${keyType} ${sshFingerprint(presented)}`,
    `  verify over a trusted path: ${keyscanCommand(device.ssh.host, device.ssh.port, keyType)}`,
    `  if the device's key changed legitimately, pin the new key (its known_hosts line) in the inventory`,
  ].join('\n');
}

/** Maps a connection-level error to a typed failure; anything unknown stays retryable. */
export function sshFailure(err: unknown, where: string): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const e = err as { message?: string; code?: string; level?: string };
  const message = e?.message ?? String(err);
  if (/Cannot parse privateKey/i.test(message)) {
    // The key file itself is unusable: no retry and no other device can change that.
    return ApplicationFailure.create({ type: ErrorType.InvalidInventory, nonRetryable: true, message: `the SSH private key the inventory names for ${where} cannot be read (${message}): point ssh.privateKeyPath at an unencrypted OpenSSH key, e.g. one made by ssh-keygen -t ed25519`, cause: err as Error });
  }
  if (e?.level === 'client-authentication') {
    return ApplicationFailure.create({ type: ErrorType.SshAuthFailed, nonRetryable: true, message: `SSH authentication to ${where} failed: ${message}`, cause: err as Error });
  }
  if (e?.level === 'client-socket' || e?.level === 'client-timeout' || /ETIMEDOUT|ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|EPIPE|ENOTFOUND|EAI_AGAIN|No response from server|Timed out|Not connected|connection lost|Connection lost|Channel open failure/i.test(`${e?.code ?? ''} ${message}`)) {
    return ApplicationFailure.create({ type: ErrorType.DeviceUnreachable, nonRetryable: false, message: `device ${where} unreachable: ${message}`, cause: err as Error });
  }
  return ApplicationFailure.create({ type: ErrorType.DeviceUnreachable, nonRetryable: false, message: `SSH to ${where} failed: ${message}`, cause: err as Error });
}

/** POSIX single-quoting for one argument of a remote command line. */
export function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}
