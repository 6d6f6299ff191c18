// What a killed run leaves in a fleet directory, and how the next start takes it back safely.
// A run stopped hard (SIGKILL, a CI timeout, a second Ctrl-C) skips its teardown: device
// directories stay behind, some half made (killed before device.json was written), with their
// detached sshd, runtime or edge worker still running. The next start stops those processes
// (only where the pidfile and the process's command line prove they are this device's) and
// removes the directories it can prove are simulated devices. Anything else is refused: a
// user's directory is never deleted.
import { existsSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { stopDeviceProcesses } from './deviceProcesses';
import { deviceLayout } from './layout';

/** Written first into every device directory, so even a half-made one is recognizably ours. */
export const DEVICE_MARKER = '.edgeship-simdevice';

export class ForeignDirectoryError extends Error {
  constructor(readonly dir: string) {
    super(`${dir} exists and is not a simulated device directory; refusing to reuse it (it may hold someone's data: remove it yourself if it is a leftover)`);
    this.name = 'ForeignDirectory';
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
