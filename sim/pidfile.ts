// Processes of simulated devices are supervised by pidfiles, so that a restart command run by
// another process, or `sim down` after a crash, can find and stop exactly them.
import { readFileSync, rmSync } from 'node:fs';

export function readPid(pidfile: string): number | undefined {
  try {
    const pid = Number(readFileSync(pidfile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie (exited, not yet reaped by its parent) no longer runs anything.
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc (macOS): kill(0) is the best we have
  }
}

/**
 * Guards against pid reuse: the process must still be the one we started, recognized by an
 * argument only our command line contains (a config path, a device directory).
 */
export function commandLineContains(pid: number, marker: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((arg) => arg.includes(marker));
  } catch {
    return isAlive(pid); // no /proc: trust the pidfile
  }
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL. Returns true if a process was stopped. */
export async function terminate(pid: number, marker: string, graceMs = 5000): Promise<boolean> {
  if (!isAlive(pid) || !commandLineContains(pid, marker)) return false;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  const killDeadline = Date.now() + 2000;
  while (isAlive(pid) && Date.now() < killDeadline) await new Promise((r) => setTimeout(r, 50));
  return true;
}

export async function terminateFromPidfile(pidfile: string, marker: string, graceMs = 5000): Promise<number | undefined> {
  const pid = readPid(pidfile);
  if (pid === undefined) return undefined;
  const stopped = await terminate(pid, marker, graceMs);
  rmSync(pidfile, { force: true });
  return stopped ? pid : undefined;
}

/** Signal-handler variant: no waiting, best effort. */
export function killFromPidfileSync(pidfile: string, marker: string): void {
  const pid = readPid(pidfile);
  if (pid !== undefined && isAlive(pid) && commandLineContains(pid, marker)) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}
