// The detached processes of one simulated device (edge worker, inference runtime, sshd), found
// through the pidfiles in its run/ directory. Each is signalled only when its command line names
// a path of this device, so a pid reused by an unrelated process after a crash is never touched.
import * as path from 'node:path';
import type { DeviceLayout } from './layout';
import { killFromPidfileSync, terminateFromPidfile } from './pidfile';
import { stopDeviceRuntime } from './runtime';

/** An edge worker is recognized by its --inventory argument, which lies in the fleet directory. */
export function workerMarker(layout: DeviceLayout): string {
  return `${path.dirname(layout.dir)}/`;
}

/** Stops whatever a device's pidfiles point at (worker, runtime, sshd); used by stop(), `sim down` and leftover cleanup. */
export async function stopDeviceProcesses(layout: DeviceLayout): Promise<void> {
  await terminateFromPidfile(layout.workerPid, workerMarker(layout), 5000).catch(() => undefined);
  await stopDeviceRuntime(layout.dir).catch(() => undefined);
  await terminateFromPidfile(layout.sshdPid, layout.sshdConfig, 3000).catch(() => undefined);
}

/** Signal-handler variant: no waiting, best effort. */
export function killDeviceProcessesSync(layout: DeviceLayout): void {
  killFromPidfileSync(layout.workerPid, workerMarker(layout));
  killFromPidfileSync(layout.runtimePid, layout.modelDir);
  killFromPidfileSync(layout.sshdPid, layout.sshdConfig);
}
