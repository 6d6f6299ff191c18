// Where things live inside one simulated device's directory, and the record (device.json) that
// lets out-of-process helpers (the restart command, `sim down`) act on the device.
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

export interface DeviceLayout {
  dir: string;
  modelDir: string;
  sshDir: string;
  runDir: string;
  logDir: string;
  record: string;
  hostKey: string;
  clientKey: string;
  authorizedKeys: string;
  sshdConfig: string;
  sshdPid: string;
  runtimePid: string;
  runtimeLog: string;
  sshdLog: string;
  workerPid: string;
  workerLog: string;
}

export function deviceLayout(dir: string): DeviceLayout {
  const d = path.resolve(dir);
  return {
    dir: d,
    modelDir: path.join(d, 'model'),
    sshDir: path.join(d, 'ssh'),
    runDir: path.join(d, 'run'),
    logDir: path.join(d, 'logs'),
    record: path.join(d, 'device.json'),
    hostKey: path.join(d, 'ssh', 'ssh_host_ed25519_key'),
    clientKey: path.join(d, 'ssh', 'client_ed25519'),
    authorizedKeys: path.join(d, 'ssh', 'authorized_keys'),
    sshdConfig: path.join(d, 'ssh', 'sshd_config'),
    sshdPid: path.join(d, 'run', 'sshd.pid'),
    runtimePid: path.join(d, 'run', 'runtime.pid'),
    runtimeLog: path.join(d, 'logs', 'runtime.log'),
    sshdLog: path.join(d, 'logs', 'sshd.log'),
    workerPid: path.join(d, 'run', 'edge-worker.pid'),
    workerLog: path.join(d, 'logs', 'edge-worker.log'),
  };
}

/** What a device's helpers need to know about it; written once at fleet start. */
export interface DeviceRecord {
  schema: 'edgeship.simdevice/1';
  id: string;
  runtimePort: number;
  sshPort: number;
  projectRoot: string;
  /** Extra edge/cli.ts flags of this device's runtime (e.g. --inference-workers 0), kept by restarts too. */
  runtimeArgs?: string[];
  /** Extra node flags of this device's runtime (e.g. --max-semi-space-size=1). */
  runtimeNodeArgs?: string[];
}

export function writeDeviceRecord(layout: DeviceLayout, record: DeviceRecord): void {
  writeFileSync(layout.record, JSON.stringify(record, null, 2) + '\n');
}

export function readDeviceRecord(dir: string): DeviceRecord {
  const record = JSON.parse(readFileSync(deviceLayout(dir).record, 'utf8')) as DeviceRecord;
  if (record.schema !== 'edgeship.simdevice/1') throw new Error(`${dir} is not a simulated device directory`);
  return record;
}
