// A fleet of simulated edge devices on this machine. Each device has its own directory (model
// dir with releases/ staging/ backups/, keys, logs), its own SSH server (OpenSSH sshd, or the
// embedded ssh2 server where sshd is missing) with a generated host key pinned in the
// inventory, its own inference runtime, and optionally its own edge worker.
//
// Edge workers of larger fleets share processes: `devicesPerWorker` devices (default 10 once the
// fleet has more than 10 devices, else 1) run in one workers/edge.ts process, one Temporal Worker
// per device on its own `edge.<id>` queue with that device's activities, one connection. Every
// device of the group has the process's pid in its run/edge-worker.pid. A group shares its fate:
// killEdgeWorker(id) SIGKILLs the process, so every device of id's group stops polling, and
// restartEdgeWorker(id) brings the whole group back (a no-op while the group's process runs).
// Model directory, SSH server and runtime stay per device.
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { CompileTarget } from '../common/contracts';
import type { DeviceTrustConfig } from '../edge/trust';
import { parseInventory, type DeviceSpec, type Inventory } from '../lib/inventory';
import { assertDeviceId } from '../common/ids';
import { PROJECT_ROOT } from '../lib/paths';
import { installBaseline, type Baseline } from './baseline';
import { clearTestFault, injectTestFault, readTestFault, type TestFault, type TestFaultKind } from './faults';
import { startEmbeddedSshServer } from './embeddedSshServer';
import { ensureKeyPair } from './keys';
import { deviceLayout, writeDeviceRecord, type DeviceLayout } from './layout';
import { freePort } from './net';
import { fleetMemory, type FleetMemory } from './memory';
import { findSshd, startOpenSshd } from './opensshServer';
import { killDeviceProcessesSync, stopDeviceProcesses, workerMarker } from './deviceProcesses';
import { claimFleetDir, FLEET_MARKER, isSimDeviceDir, markDeviceDir, reclaimDeviceDir, reclaimStaleDevices, releaseFleetDir } from './leftovers';
import { commandLineContains, isAlive, readPid, terminateFromPidfile } from './pidfile';
import { RESTART_SCRIPT, startDeviceRuntime, stopDeviceRuntime } from './runtime';

export type SshServerKind = 'openssh' | 'embedded';

export interface SimulatedFleetOptions {
  count: number;
  baseDir: string;
  ids?: string[];
  target?: CompileTarget;
  sshServer?: SshServerKind | 'auto';
  /** Runtime ports base + i; free ports when absent. */
  runtimePortBase?: number;
  baseline?: Baseline;
  startEdgeWorkers?: { temporalAddress: string; namespace?: string };
  /**
   * Release trust for every device: its runtime gets --trusted-key/--require-signatures, and so
   * does its edge worker (edge/trust.ts).
   */
  trust?: DeviceTrustConfig;
  /** Start each device's inference runtime (default true); SSH-only tests turn it off. */
  startRuntimes?: boolean;
  /**
   * Devices per edge-worker process (default: 10 when the fleet has more than 10 devices, else 1:
   * small fleets run one process per device).
   */
  devicesPerWorker?: number;
  /**
   * Lean runtimes: `--inference-workers 0` (the session on the runtime's event loop instead of a
   * worker thread with its own copy; ~7 MiB less per runtime, less throughput under load) and
   * node's `--max-semi-space-size=1` (a 1 MiB young generation, more frequent scavenges; ~10 MiB
   * less). Measured with bench/runtime-memory.ts. Default: on when the fleet has more than
   * 10 devices.
   */
  leanRuntimes?: boolean;
  /** Runtimes started at once (default 2 × cores): 50 Node processes booting together on 2 cores miss their start bound. */
  startConcurrency?: number;
  /** Embedded server only: refuse exec, so verification must read files back over SFTP. */
  embeddedExec?: boolean;
  /**
   * A directory holding nothing but scratch (the test state root): leftovers in it are removed
   * even without the device marker (directories of older versions, anything half made).
   * Elsewhere only directories this project marked are; others are refused.
   */
  disposableRoot?: string;
}

export interface SimDevice {
  id: string;
  dir: string;
  layout: DeviceLayout;
  spec: DeviceSpec;
  sshPort: number;
  runtimePort: number;
  sshServerKind: SshServerKind;
  baselineSha256?: string;
  /** Fault hooks: stop / start this device's SSH server (same port, same host key). */
  stopSsh(): Promise<void>;
  startSsh(): Promise<void>;
  runtimePid(): number | undefined;
}

export interface SimulatedFleet {
  inventoryPath: string;
  inventory: Inventory;
  devices: SimDevice[];
  sshServerKind: SshServerKind;
  /** Wall time of startSimulatedFleet (devices up, runtimes listening, worker processes spawned). */
  startedInMs: number;
  /** Device ids per edge-worker process (empty without edge workers). */
  workerGroups: string[][];
  /** The devices whose edge workers share deviceId's process (deviceId included). */
  workerGroupOf(deviceId: string): string[];
  /**
   * Fault hook: SIGKILL the device's edge-worker process (as a crash would): with shared
   * processes every device of its group goes off its queue. Its pid, or undefined if none ran.
   */
  killEdgeWorker(deviceId: string): number | undefined;
  /**
   * Starts the edge-worker process of the device's group again (after killEdgeWorker): all its
   * devices poll again. A no-op (returns undefined) while that process still runs, so restarting
   * two devices of one killed group starts one process. Returns the new pid.
   */
  restartEdgeWorker(deviceId: string): number | undefined;
  /**
   * TEST FAULT INJECTION (faults.ts): makes the device's restart command fail through the real
   * code path. 'reject-new-model': every restart onto another model than the one it serves now
   * fails (swapModel fails on all its attempts) until the restore brings it back, which removes
   * the fault. 'restart-fails-once': the next restart fails, then the fault is gone.
   */
  injectFault(deviceId: string, kind: TestFaultKind): TestFault;
  /** Removes the device's injected fault; true if there was one. */
  clearFault(deviceId: string): boolean;
  /** The device's injected fault that has not been spent yet. */
  faultOf(deviceId: string): TestFault | undefined;
  /** Memory of every process the fleet started (sshd, runtime, edge-worker), per kind and total. */
  memory(): FleetMemory;
  stop(): Promise<void>;
}

const TSX_LOADER = require.resolve('tsx');

/** At most `limit` of the calls run at once. */
function limiter(limit: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= limit) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

export function defaultDevicesPerWorker(count: number): number {
  return count > 10 ? 10 : 1;
}

export function chooseSshServer(requested: SshServerKind | 'auto' = 'auto'): SshServerKind {
  if (requested !== 'auto') return requested;
  // sshd drops privileges to log users in, which needs root; elsewhere use the embedded server.
  return findSshd() && process.getuid?.() === 0 ? 'openssh' : 'embedded';
}

async function startSshServer(kind: SshServerKind, layout: DeviceLayout, port: number, clientPublicKey: string, exec: boolean | undefined) {
  if (kind === 'openssh') return startOpenSshd(layout, port);
  return startEmbeddedSshServer({ rootDir: layout.dir, hostKeyPath: layout.hostKey, authorizedKey: clientPublicKey, port, exec });
}

/**
 * Free ports, each handed out once per fleet: the OS may offer the port it just gave one device
 * (probed, then closed) to the next device's probe too, before either binds it. With 100 ports
 * probed at once that happened (a runtime and another device's sshd on one port).
 */
function portAllocator(): () => Promise<number> {
  const handedOut = new Set<number>();
  return async () => {
    for (;;) {
      const port = await freePort();
      if (!handedOut.has(port)) {
        handedOut.add(port);
        return port;
      }
    }
  };
}

async function startDevice(id: string, index: number, opts: SimulatedFleetOptions, kind: SshServerKind, cleanups: Array<() => Promise<void>>, limit: <T>(fn: () => Promise<T>) => Promise<T>, nextPort: () => Promise<number>): Promise<SimDevice> {
  const layout = deviceLayout(path.join(opts.baseDir, id));
  await reclaimDeviceDir(layout.dir, opts.disposableRoot);
  mkdirSync(layout.dir, { recursive: true, mode: 0o700 });
  markDeviceDir(layout.dir);
  for (const d of [layout.modelDir, layout.sshDir, layout.runDir, layout.logDir]) mkdirSync(d, { recursive: true, mode: 0o700 });
  for (const d of ['releases', 'staging', 'backups']) mkdirSync(path.join(layout.modelDir, d), { recursive: true });
  const hostKey = ensureKeyPair(layout.hostKey, `edgeship-sim-${id}-host`);
  const clientKey = ensureKeyPair(layout.clientKey, `edgeship-sim-${id}-client`);
  writeFileSync(layout.authorizedKeys, `${clientKey.publicKey}\n`, { mode: 0o600 });

  let baselineSha256: string | undefined;
  if (opts.baseline) baselineSha256 = installBaseline(layout.modelDir, opts.baseline).sha256;

  let runtimePort = opts.runtimePortBase ? opts.runtimePortBase + index : await nextPort();
  // A free port can be taken between the probe and sshd's bind: retry with another one.
  let server: { port: number; stop(): Promise<void> } | undefined;
  let sshPort = 0;
  for (let attempt = 1; !server; attempt++) {
    sshPort = await nextPort();
    try {
      server = await startSshServer(kind, layout, sshPort, clientKey.publicKey, opts.embeddedExec);
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
  let ssh: { stop(): Promise<void> } | undefined = server;
  cleanups.push(async () => {
    await ssh?.stop();
    ssh = undefined;
  });
  const lean = opts.leanRuntimes ?? opts.count > 10;
  const runtimeArgs = [...(lean ? ['--inference-workers', '0'] : []), ...trustArgs(opts.trust)];
  const record = () => writeDeviceRecord(layout, { schema: 'edgeship.simdevice/1', id, runtimePort, sshPort, projectRoot: PROJECT_ROOT, ...(runtimeArgs.length ? { runtimeArgs } : {}), ...(lean ? { runtimeNodeArgs: ['--max-semi-space-size=1'] } : {}) });
  record();
  if (opts.startRuntimes !== false) {
    cleanups.push(async () => void (await stopDeviceRuntime(layout.dir)));
    // A port taken by something outside the fleet between probe and bind: another free port.
    for (let attempt = 1; ; attempt++) {
      try {
        await limit(() => startDeviceRuntime(layout.dir));
        break;
      } catch (err) {
        if (attempt >= 3 || opts.runtimePortBase || !/EADDRINUSE/.test((err as Error).message)) throw err;
        runtimePort = await nextPort();
        record();
      }
    }
  }

  const spec: DeviceSpec = {
    id,
    target: opts.target ?? 'cpu-fp32',
    ssh: { host: '127.0.0.1', port: sshPort, user: 'root', privateKeyPath: clientKey.privateKeyPath, knownHosts: `[127.0.0.1]:${sshPort} ${hostKey.publicKey}` },
    modelDir: layout.modelDir,
    restartCommand: [process.execPath, '--import', TSX_LOADER, RESTART_SCRIPT, layout.dir],
    healthUrl: `http://127.0.0.1:${runtimePort}/healthz`,
    inferenceUrl: `http://127.0.0.1:${runtimePort}/infer`,
    keepBackups: 3,
  };
  return {
    id, dir: layout.dir, layout, spec, sshPort, runtimePort, sshServerKind: kind, baselineSha256,
    stopSsh: async () => {
      await ssh?.stop();
      ssh = undefined;
    },
    startSsh: async () => {
      if (!ssh) ssh = await startSshServer(kind, layout, sshPort, clientKey.publicKey, opts.embeddedExec);
    },
    runtimePid: () => readPid(layout.runtimePid),
  };
}

/**
 * One workers/edge.ts process for the group's devices (`--device a --device b …`), logging to the
 * first device's logs/edge-worker.log; its pid goes into every member's pidfile. The process is
 * recognised as ours by its --inventory argument (workerMarker: the fleet directory).
 */
/** The runtime's and the edge worker's flags for a trust config (same names in both). */
function trustArgs(trust: DeviceTrustConfig | undefined): string[] {
  if (!trust) return [];
  return [...trust.publicKeyFiles.flatMap((f) => ['--trusted-key', path.resolve(f)]), ...(trust.requireSignatures ? ['--require-signatures'] : [])];
}

function startEdgeWorkerProcess(group: SimDevice[], inventoryPath: string, w: NonNullable<SimulatedFleetOptions['startEdgeWorkers']>, trust?: DeviceTrustConfig): number | undefined {
  const log = openSync(group[0].layout.workerLog, 'a');
  const deviceArgs = group.flatMap((d) => ['--device', d.id]);
  // tsx's CommonJS hook rather than `--import tsx` (no ESM loader thread): less RSS per process.
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', 'workers/edge.ts', '--inventory', inventoryPath, ...deviceArgs, '--address', w.temporalAddress, '--namespace', w.namespace ?? 'default', ...trustArgs(trust)], {
    cwd: PROJECT_ROOT,
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  child.unref();
  if (child.pid === undefined) return undefined;
  for (const d of group) {
    writeFileSync(d.layout.workerPid, `${child.pid}\n`);
    if (d !== group[0]) writeFileSync(d.layout.workerLog, `(edge worker shared with ${group.map((g) => g.id).join(', ')}: see ${group[0].layout.workerLog})\n`, { flag: 'a' });
  }
  return child.pid;
}

/** The live edge-worker process of this device (pidfile and command line agree), if any. */
function liveWorkerPid(d: SimDevice): number | undefined {
  const pid = readPid(d.layout.workerPid);
  return pid !== undefined && isAlive(pid) && commandLineContains(pid, workerMarker(d.layout)) ? pid : undefined;
}

export async function startSimulatedFleet(opts: SimulatedFleetOptions): Promise<SimulatedFleet> {
  const startedAt = Date.now();
  const ids = opts.ids ?? Array.from({ length: opts.count }, (_, i) => `sim-${i + 1}`);
  if (ids.length !== opts.count || opts.count < 1) throw new Error(`count ${opts.count} does not match ${ids.length} ids`);
  ids.forEach((id) => assertDeviceId(id));
  if (new Set(ids).size !== ids.length) throw new Error('device ids must be unique');
  const baseDir = path.resolve(opts.baseDir);
  mkdirSync(baseDir, { recursive: true });
  // Before anything else: a second fleet in the same directory would "reclaim" a running one.
  claimFleetDir(baseDir, { devices: ids, starting: true });
  const kind = chooseSshServer(opts.sshServer);
  const cleanups: Array<() => Promise<void>> = [];
  const allLayouts = ids.map((id) => deviceLayout(path.join(baseDir, id)));
  // Teardown touches only directories this fleet marked: when a start is refused because sim-1
  // is someone else's directory, its files (pidfiles included) stay exactly as they were.
  const ours = () => allLayouts.filter((l) => isSimDeviceDir(l.dir));

  const killAllSync = () => ours().forEach(killDeviceProcessesSync);
  const onSignal = (signal: NodeJS.Signals) => {
    killAllSync();
    // Keep the default behaviour (exit) unless the host process handles the signal itself.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  process.on('exit', killAllSync);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      process.removeListener('exit', killAllSync);
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      const layouts = ours();
      // Shared worker processes appear in several pidfiles: each process is stopped once, all at once.
      const byPid = new Map<number, (typeof layouts)[number]>();
      for (const layout of layouts) {
        const pid = readPid(layout.workerPid);
        if (pid !== undefined && !byPid.has(pid)) byPid.set(pid, layout);
      }
      await Promise.all([...byPid.values()].map((layout) => terminateFromPidfile(layout.workerPid, workerMarker(layout), 5000).catch(() => undefined)));
      await Promise.all(cleanups.map((c) => c().catch(() => undefined)));
      await Promise.all(layouts.map((l) => stopDeviceProcesses(l)));
      releaseFleetDir(baseDir);
    })();
    return stopping;
  };

  try {
    await reclaimStaleDevices(baseDir, ids);
    const limit = limiter(Math.max(1, opts.startConcurrency ?? 2 * cpus().length));
    const nextPort = portAllocator();
    const results = await Promise.allSettled(ids.map((id, i) => startDevice(id, i, { ...opts, baseDir }, kind, cleanups, limit, nextPort)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const devices = results.map((r) => (r as PromiseFulfilledResult<SimDevice>).value);
    const inventory = parseInventory({ devices: devices.map((d) => d.spec) }, 'simulated inventory');
    const inventoryPath = path.join(baseDir, 'inventory.json');
    writeFileSync(inventoryPath, JSON.stringify(inventory, null, 2) + '\n');
    claimFleetDir(baseDir, { devices: ids, sshServerKind: kind });
    const perWorker = opts.devicesPerWorker ?? defaultDevicesPerWorker(devices.length);
    if (!Number.isInteger(perWorker) || perWorker < 1) throw new Error(`devicesPerWorker must be a positive integer, got ${perWorker}`);
    const groups: SimDevice[][] = [];
    if (opts.startEdgeWorkers) for (let i = 0; i < devices.length; i += perWorker) groups.push(devices.slice(i, i + perWorker));
    for (const g of groups) startEdgeWorkerProcess(g, inventoryPath, opts.startEdgeWorkers!, opts.trust);
    const device = (id: string): SimDevice => {
      const found = devices.find((d) => d.id === id);
      if (!found) throw new Error(`no simulated device ${id}`);
      return found;
    };
    const groupOf = (id: string): SimDevice[] => groups.find((g) => g.some((d) => d.id === id)) ?? [device(id)];
    /** Worker pids this fleet sent SIGKILL: gone for sure, even while the kernel still lists them. */
    const killed = new Set<number>();
    const killEdgeWorker = (id: string): number | undefined => {
      const pid = liveWorkerPid(device(id));
      if (pid === undefined || killed.has(pid)) return undefined;
      process.kill(pid, 'SIGKILL');
      killed.add(pid);
      return pid;
    };
    const restartEdgeWorker = (id: string): number | undefined => {
      if (!opts.startEdgeWorkers) throw new Error('this fleet runs no edge workers');
      const group = groupOf(id);
      // A SIGKILL takes a moment to land: a killed pid still "alive" must not skip the restart.
      if (group.some((d) => { const pid = liveWorkerPid(d); return pid !== undefined && !killed.has(pid); })) return undefined;
      return startEdgeWorkerProcess(group, inventoryPath, opts.startEdgeWorkers, opts.trust);
    };
    const memory = (): FleetMemory => {
      const pids = (file: (d: SimDevice) => string) => devices.map((d) => readPid(file(d))).filter((p): p is number => p !== undefined);
      return fleetMemory({
        sshd: kind === 'openssh' ? pids((d) => d.layout.sshdPid) : [],
        runtime: pids((d) => d.layout.runtimePid),
        'edge-worker': [...new Set(devices.map(liveWorkerPid).filter((p): p is number => p !== undefined))],
      });
    };
    return {
      inventoryPath, inventory, devices, sshServerKind: kind, startedInMs: Date.now() - startedAt, workerGroups: groups.map((g) => g.map((d) => d.id)),
      workerGroupOf: (id) => groupOf(id).map((d) => d.id),
      killEdgeWorker, restartEdgeWorker, memory, stop,
      injectFault: (id, kind) => injectTestFault(device(id).dir, id, kind),
      clearFault: (id) => clearTestFault(device(id).dir),
      faultOf: (id) => readTestFault(device(id).dir),
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export { FLEET_MARKER, stopDeviceProcesses };
