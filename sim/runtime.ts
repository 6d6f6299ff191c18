// The inference runtime of a simulated device: a detached process supervised by a pidfile, so
// the device's restart command (a separate process) can really stop and start it.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isAlive, terminateFromPidfile } from './pidfile';
import { deviceLayout, readDeviceRecord } from './layout';
import { waitForPort } from './net';

export interface RuntimeStart {
  pid: number;
  listening: boolean;
}

function logTail(file: string, bytes = 2000): string {
  try {
    const size = statSync(file).size;
    return readFileSync(file, 'utf8').slice(Math.max(0, size - bytes));
  } catch {
    return '';
  }
}

/** Marker that identifies the runtime of this device on a command line. */
function runtimeMarker(modelDir: string): string {
  return modelDir;
}

/**
 * Starts the device's runtime, exactly `node [record.runtimeNodeArgs…] --require tsx/cjs edge/cli.ts --model-dir … --port …
 * --host 127.0.0.1 --device <id> [record.runtimeArgs…]`, detached, logging to logs/runtime.log.
 * Waits (bounded) until it accepts connections; throws if it exits first. tsx's CommonJS hook
 * rather than `--import tsx`: the runtime is CommonJS either way, and the ESM loader's extra
 * thread measured ~24 MiB more RSS per runtime (bench/runtime-memory.ts).
 */
export async function startDeviceRuntime(deviceDir: string, waitMs = 30_000): Promise<RuntimeStart> {
  const layout = deviceLayout(deviceDir);
  const record = readDeviceRecord(deviceDir);
  const log = openSync(layout.runtimeLog, 'a');
  const logOffset = statSync(layout.runtimeLog).size;
  const child = spawn(process.execPath, [...(record.runtimeNodeArgs ?? []), '--require', 'tsx/cjs', 'edge/cli.ts', '--model-dir', layout.modelDir, '--port', String(record.runtimePort), '--host', '127.0.0.1', '--device', record.id, ...(record.runtimeArgs ?? [])], {
    cwd: record.projectRoot,
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`cannot start the runtime of ${record.id}`);
  writeFileSync(layout.runtimePid, `${pid}\n`);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  child.unref();
  // Listening means this runtime said so (its stdout line in the log): a connection to the port
  // alone may reach whatever else holds it (then this runtime dies with EADDRINUSE).
  const said = `edgeship-runtime listening on http://127.0.0.1:${record.runtimePort}`;
  const saidSo = () => {
    try {
      const size = statSync(layout.runtimeLog).size;
      if (size <= logOffset) return false;
      const fd = openSync(layout.runtimeLog, 'r');
      try {
        const buf = Buffer.alloc(size - logOffset);
        readSync(fd, buf, 0, buf.length, logOffset);
        return buf.toString('utf8').includes(said);
      } finally {
        closeSync(fd);
      }
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + waitMs;
  let listening = false;
  while (Date.now() < deadline) {
    if (saidSo()) {
      listening = await waitForPort(record.runtimePort, Math.max(0, deadline - Date.now()), () => exited === undefined && isAlive(pid));
      break;
    }
    if (exited !== undefined || !isAlive(pid)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!listening && (exited !== undefined || !isAlive(pid))) {
    throw new Error(`runtime of ${record.id} exited (code ${exited}) before listening; log ${layout.runtimeLog}:\n${logTail(layout.runtimeLog)}`);
  }
  return { pid, listening };
}

export async function stopDeviceRuntime(deviceDir: string, graceMs = 5000): Promise<number | undefined> {
  const layout = deviceLayout(deviceDir);
  return terminateFromPidfile(layout.runtimePid, runtimeMarker(layout.modelDir), graceMs);
}

export async function restartDeviceRuntime(deviceDir: string): Promise<{ oldPid?: number; pid: number; listening: boolean }> {
  const oldPid = await stopDeviceRuntime(deviceDir);
  const started = await startDeviceRuntime(deviceDir);
  return { oldPid, ...started };
}

export const RESTART_SCRIPT = path.join(__dirname, 'restart-runtime.ts');
