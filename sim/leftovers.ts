// What a killed run leaves in a fleet directory, and how the next start takes it back safely.
// A run stopped hard (SIGKILL, a CI timeout, a second Ctrl-C) skips its teardown: device
// directories stay behind, some half made (killed before device.json was written), with their
// detached sshd, runtime or edge worker still running. The next start stops those processes
// (only where the pidfile and the process's command line prove they are this device's) and
// removes the directories it can prove are simulated devices. Anything else is refused: a
// user's directory is never deleted.
import { existsSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { stopDeviceProcesses } from './deviceProcesses';
import { deviceLayout } from './layout';
import { isAlive } from './pidfile';

/** Written first into every device directory, so even a half-made one is recognizably ours. */
export const DEVICE_MARKER = '.edgeship-simdevice';

export class ForeignDirectoryError extends Error {
  constructor(readonly dir: string) {
    super(`${dir} exists and is not a simulated device directory; refusing to reuse it (it may hold someone's data: remove it yourself if it is a leftover)`);
    this.name = 'ForeignDirectory';
  }
}

/** The fleet's own file in its directory: who runs it (cleared by stop(), left by a killed run). */
export const FLEET_MARKER = 'edgeship-sim-fleet.json';

/** Another live fleet (a second test run in the same tree) holds this directory. */
export class FleetDirInUseError extends Error {
  constructor(readonly dir: string, readonly pid: number) {
    super(`${dir} belongs to a simulated fleet that is still running (process ${pid}); stop it first (or wait for it) instead of starting a second fleet in the same directory`);
    this.name = 'FleetDirInUse';
  }
}

/**
 * The process running the fleet in baseDir, when it still runs: leftovers are only leftovers once
 * their fleet is gone. A live pid counts only if it is a Node process (every fleet runs in one),
 * so a pid reused by something else after a crash does not block the next run forever.
 */
function liveFleetProcess(baseDir: string): number | undefined {
  let pid: unknown;
  try {
    pid = (JSON.parse(readFileSync(path.join(baseDir, FLEET_MARKER), 'utf8')) as { pid?: unknown }).pid;
  } catch {
    return undefined;
  }
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 1 || pid === process.pid || !isAlive(pid)) return undefined;
  let argv0: string;
  try {
    argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
  } catch {
    return pid; // no /proc: a live pid is the best evidence there is
  }
  return path.basename(argv0).startsWith('node') ? pid : undefined;
}

/** Takes baseDir for this process, refusing while another fleet runs there. */
export function claimFleetDir(baseDir: string, info: Record<string, unknown>): void {
  const other = liveFleetProcess(baseDir);
  if (other !== undefined) throw new FleetDirInUseError(baseDir, other);
  writeFileSync(path.join(baseDir, FLEET_MARKER), JSON.stringify({ pid: process.pid, ...info }, null, 2) + '\n');
}

/** After stop(): the directory holds only leftovers now, free for the next fleet. */
export function releaseFleetDir(baseDir: string): void {
  try {
    const { pid } = JSON.parse(readFileSync(path.join(baseDir, FLEET_MARKER), 'utf8')) as { pid?: unknown };
    if (pid === process.pid) rmSync(path.join(baseDir, FLEET_MARKER), { force: true });
  } catch {
    // no marker, or not ours: nothing to release
  }
}

/** Creates a device directory and marks it as a simulated device before anything else goes in. */
export function markDeviceDir(dir: string): void {
  writeFileSync(path.join(dir, DEVICE_MARKER), `${JSON.stringify({ schema: 'edgeship.simdevice-marker/1', pid: process.pid, createdAt: new Date().toISOString() })}\n`, { mode: 0o600 });
}

/** A directory a fleet made: its record or its marker is there. */
export function isSimDeviceDir(dir: string): boolean {
  return existsSync(deviceLayout(dir).record) || existsSync(path.join(dir, DEVICE_MARKER));
}

/** True when `dir` lies strictly inside `root`, symlinks resolved (a link cannot widen the root). */
export function isInside(root: string, dir: string): boolean {
  let realRoot: string;
  let realDir: string;
  try {
    realRoot = realpathSync(root);
    realDir = realpathSync(dir);
  } catch {
    return false;
  }
  return realDir.startsWith(realRoot + path.sep);
}

/**
 * Empties the way for a device directory: a missing or empty one is fine; one this project made
 * (marker or record), or any leftover inside `disposableRoot` (the test state root, which holds
 * nothing but test scratch — including directories of older versions that wrote no marker), has
 * its processes stopped and is removed; anything else is a ForeignDirectoryError.
 */
export async function reclaimDeviceDir(dir: string, disposableRoot?: string): Promise<void> {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory() || (!isSimDeviceDir(dir) && readdirSync(dir).length > 0 && !(disposableRoot && isInside(disposableRoot, dir)))) {
    throw new ForeignDirectoryError(dir);
  }
  await stopDeviceProcesses(deviceLayout(dir));
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Devices an earlier, larger fleet left in the same directory (sim-3 of a 3-device run when this
 * run starts 2): their processes would otherwise run on forever. Only directories this project
 * made are touched.
 */
export async function reclaimStaleDevices(baseDir: string, keep: string[]): Promise<string[]> {
  const reclaimed: string[] = [];
  for (const entry of existsSync(baseDir) ? readdirSync(baseDir, { withFileTypes: true }) : []) {
    if (!entry.isDirectory() || keep.includes(entry.name)) continue;
    const dir = path.join(baseDir, entry.name);
    if (!isSimDeviceDir(dir)) continue;
    await stopDeviceProcesses(deviceLayout(dir));
    rmSync(dir, { recursive: true, force: true });
    reclaimed.push(entry.name);
  }
  return reclaimed;
}
