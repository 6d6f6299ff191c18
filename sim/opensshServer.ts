// An unprivileged-port OpenSSH sshd for one simulated device: its own host key, config,
// authorized_keys and pidfile, bound to 127.0.0.1 only, key authentication only.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { findExecutable } from './keys';
import type { DeviceLayout } from './layout';
import { waitForPort } from './net';
import { isAlive, terminateFromPidfile } from './pidfile';

export function findSshd(): string | undefined {
  return findExecutable('sshd');
}

function sshdConfig(layout: DeviceLayout, port: number): string {
  return [
    `# sshd for the simulated device in ${layout.dir}`,
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${layout.hostKey}`,
    `PidFile ${layout.sshdPid}`,
    `AuthorizedKeysFile ${layout.authorizedKeys}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    'AllowUsers root',
    // The device directory lives wherever the test put it; its owner/modes are not sshd's concern here.
    'StrictModes no',
    'UsePAM no',
    'UseDNS no',
    'PrintMotd no',
    'X11Forwarding no',
    // Local forwarding to the device's own loopback only: `edgeship devices check` reads the
    // runtime's /healthz through the SSH connection, as on a packaged device.
    'AllowTcpForwarding local',
    'PermitOpen 127.0.0.1:*',
    'AllowAgentForwarding no',
    'PermitTTY no',
    'LoginGraceTime 20',
    'LogLevel INFO',
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
}

export interface OpenSshd {
  kind: 'openssh';
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts `sshd -D -e -f <config>` (as root: the login user is root) and waits until it accepts
 * connections. Fails with sshd's own log when it exits early (bad config, port taken).
 */
export async function startOpenSshd(layout: DeviceLayout, port: number, sshd = findSshd()): Promise<OpenSshd> {
  if (!sshd) throw new Error('sshd is not installed');
  // Privilege separation directory that sshd insists on, even when started this way.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  writeFileSync(layout.sshdConfig, sshdConfig(layout, port));
  const log = openSync(layout.sshdLog, 'a');
  const child = spawn(sshd, ['-D', '-e', '-f', layout.sshdConfig], { stdio: ['ignore', log, log], detached: true });
  closeSync(log);
  const pid = child.pid;
  if (pid === undefined) throw new Error('cannot spawn sshd');
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  child.unref();
  // Written by us too: sshd writes its PidFile only after binding, and stop() may come earlier.
  writeFileSync(layout.sshdPid, `${pid}\n`);
  const ok = await waitForPort(port, 15_000, () => exited === undefined && isAlive(pid));
  if (!ok) {
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    const size = statSync(layout.sshdLog).size;
    const tail = readFileSync(layout.sshdLog, 'utf8').slice(Math.max(0, size - 1500));
    throw new Error(`sshd for ${layout.dir} did not start on port ${port} (exit ${String(exited)}):\n${tail}`);
  }
  return {
    kind: 'openssh',
    port,
    pid,
    stop: async () => {
      await terminateFromPidfile(layout.sshdPid, layout.sshdConfig, 3000);
    },
  };
}
