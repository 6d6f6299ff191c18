// The emulated device's own OpenSSH sshd (the arm64 binary from the root, run under qemu) on a
// loopback port: what the GPU server stages artifacts through. A fresh ed25519 host key per
// root (the cached tarball's keys are shared by every restore, so they are removed), pinned in
// the GPU side's inventory; key authentication only, only the deploy user may log in.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { findExecutable } from '../keys';
import { waitForPort } from '../net';
import { QEMU_CPU, type EmulatedArm64Root, type RootProcess } from './emulatedRoot';

export interface RootSshd {
  port: number;
  /** The pinned host key as a known_hosts line for [127.0.0.1]:port. */
  knownHosts: string;
  process: RootProcess;
  stop(): Promise<void>;
}

export function sshdDropIn(port: number, allowUsers: string[]): string {
  return [
    '# edgeship arm64 proof: this root is a device reached on a loopback port (first value wins,',
    "# Debian's sshd_config includes this directory before its own settings).",
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    'HostKey /etc/ssh/ssh_host_ed25519_key',
    `AllowUsers ${allowUsers.join(' ')}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin no',
    'X11Forwarding no',
    'AllowTcpForwarding no',
    'AllowAgentForwarding no',
    'PermitTTY no',
    // Every process of a session (sha256sum, sftp-server) is an arm64 binary run by qemu: it
    // must emulate the Pi 5's core too.
    `SetEnv QEMU_CPU=${QEMU_CPU}`,
    '',
  ].join('\n');
}

export async function startRootSshd(root: EmulatedArm64Root, opts: { port: number; allowUsers: string[]; logFile: string; waitMs?: number }): Promise<RootSshd> {
  const sshKeygen = findExecutable('ssh-keygen');
  if (!sshKeygen) throw new Error('ssh-keygen is not installed on this machine (openssh-client)');
  const etcSsh = root.hostPath('/etc/ssh');
  for (const f of readdirSync(etcSsh)) if (f.startsWith('ssh_host_')) rmSync(`${etcSsh}/${f}`);
  execFileSync(sshKeygen, ['-q', '-t', 'ed25519', '-N', '', '-C', 'edgeship-arm64-proof', '-f', `${etcSsh}/ssh_host_ed25519_key`], { stdio: ['ignore', 'ignore', 'pipe'] });
  const publicKey = readFileSync(`${etcSsh}/ssh_host_ed25519_key.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  writeFileSync(root.hostPath('/etc/ssh/sshd_config.d/00-edgeship-arm64-proof.conf'), sshdDropIn(opts.port, opts.allowUsers));
  // /run is the namespace's tmpfs: made from inside, as systemd's RuntimeDirectory would.
  await root.run(['/usr/bin/install', '-d', '-m', '0755', '/run/sshd']);
  await root.run(['/usr/sbin/sshd', '-t']);
  const proc = root.spawn(['/usr/sbin/sshd', '-D', '-e'], { logFile: opts.logFile });
  const up = await waitForPort(opts.port, opts.waitMs ?? 60_000, () => proc.isRunning());
  if (!up) {
    await proc.stop();
    throw new Error(`the arm64 root's sshd did not listen on 127.0.0.1:${opts.port}; see ${opts.logFile}:\n${readFileSync(opts.logFile, 'utf8').slice(-1500)}`);
  }
  return { port: opts.port, knownHosts: `[127.0.0.1]:${opts.port} ${publicKey}`, process: proc, stop: () => proc.stop() };
}
