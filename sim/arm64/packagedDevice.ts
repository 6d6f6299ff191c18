// A device made from the device package inside the emulated arm64 root, the way an operator
// makes a Raspberry Pi one: `apt-get install ./edgeship-device_<v>_arm64.deb`, write
// /etc/edgeship/device.json, add the SSH deploy user the GPU server logs in as (group edgeship,
// so it can write staging/) with install-device.md's sshd Match block, start sshd, then start
// edgeship-runtime.service and edgeship-edge-worker.service from their installed unit files
// (unitProcess.ts mirrors systemd).
// What the GPU side needs to reach it comes back as an inventory entry with the pinned host key.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { DeviceSpec } from '../../lib/inventory';
import { waitForPort } from '../net';
import type { EmulatedArm64Root } from './emulatedRoot';
import { startRootSshd, type RootSshd } from './rootSshd';
import { startUnit, type RunningUnit } from './unitProcess';

export const DEPLOY_USER = 'edgeship-deploy';
export const MODEL_DIR = '/var/lib/edgeship/models';
export const UNITS = ['edgeship-runtime.service', 'edgeship-edge-worker.service'] as const;

/**
 * `apt-get install` of a local .deb inside the root. Offline: its only dependency (nodejs) is in
 * the root already, so apt fetches nothing; a package whose dependencies are not met is refused.
 */
export async function aptInstallDeb(root: EmulatedArm64Root, deb: string): Promise<{ ms: number; code: number | null; output: string }> {
  const inside = `/var/cache/edgeship-proof/${path.basename(deb)}`;
  mkdirSync(path.dirname(root.hostPath(inside)), { recursive: true });
  copyFileSync(deb, root.hostPath(inside));
  const started = Date.now();
  const r = await root.exec(['/usr/bin/apt-get', 'install', '-y', '--no-install-recommends', inside], {
    env: { DEBIAN_FRONTEND: 'noninteractive' },
    timeoutMs: 900_000,
  });
  return { ms: Date.now() - started, code: r.code, output: r.stdout + r.stderr };
}

/** dpkg's view of a package in the root: its status line, or undefined when dpkg does not know it. */
export async function dpkgStatus(root: EmulatedArm64Root, pkg: string): Promise<string | undefined> {
  const r = await root.exec(['/usr/bin/dpkg-query', '-W', '-f', '${Status} ${Architecture} ${Version}', pkg]);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

export interface PackagedDeviceOptions {
  id: string;
  temporalAddress: string;
  namespace: string;
  sshPort: number;
  runtimePort: number;
  /** The GPU server's SSH key pair (its public key is authorized for the deploy user). */
  gpuKey: { privateKeyPath: string; publicKey: string };
  /** Host directory for sshd's, the runtime's and the worker's logs. */
  logDir: string;
  /** device.json runtime.inferenceWorkers / intraOpThreads. */
  runtime?: { inferenceWorkers?: number; intraOpThreads?: number };
}

export interface PackagedDevice {
  /** The GPU side's inventory entry for this device. */
  spec: DeviceSpec;
  sshd: RootSshd;
  units: RunningUnit[];
  /** Unit directives the chroot mirror does not apply, per unit. */
  notMirrored: Record<string, string[]>;
  logFiles: Record<string, string>;
  stop(): Promise<void>;
}

/** Writes device.json the way the operator is told to: root:edgeship 0640. */
export async function writeDeviceConfig(root: EmulatedArm64Root, config: unknown): Promise<void> {
  mkdirSync(root.hostPath('/etc/edgeship'), { recursive: true });
  writeFileSync(root.hostPath('/etc/edgeship/device.json'), `${JSON.stringify(config, null, 2)}\n`);
  await root.run(['/usr/bin/chown', 'root:edgeship', '/etc/edgeship/device.json']);
  await root.run(['/usr/bin/chmod', '0640', '/etc/edgeship/device.json']);
}

/** The login user the GPU server stages through: a normal user in group edgeship, key only. */
export async function addDeployUser(root: EmulatedArm64Root, publicKey: string): Promise<void> {
  await root.run(['/usr/sbin/useradd', '--create-home', '--shell', '/bin/sh', '--groups', 'edgeship', DEPLOY_USER]);
  const home = `/home/${DEPLOY_USER}`;
  await root.run(['/usr/bin/install', '-d', '-m', '0700', '-o', DEPLOY_USER, '-g', DEPLOY_USER, `${home}/.ssh`]);
  writeFileSync(root.hostPath(`${home}/.ssh/authorized_keys`), `${publicKey} gpu-server\n`);
  await root.run(['/usr/bin/chown', `${DEPLOY_USER}:${DEPLOY_USER}`, `${home}/.ssh/authorized_keys`]);
  await root.run(['/usr/bin/chmod', '0600', `${home}/.ssh/authorized_keys`]);
}

/**
 * The deploy user's sshd settings, verbatim from docs/install-device.md ("deploy user and sshd
 * Match block"): SFTP only, with umask 0002 so what it creates in the setgid staging/ is
 * group-writable for the services.
 */
export const DEPLOY_USER_SSHD_CONF = `Match User ${DEPLOY_USER}
    ForceCommand internal-sftp -u 0002
    PasswordAuthentication no
    AllowTcpForwarding no
    AllowAgentForwarding no
    X11Forwarding no
    PermitTTY no
`;

/** After the package is installed: config, deploy user, sshd, both units. */
export async function startPackagedDevice(root: EmulatedArm64Root, opts: PackagedDeviceOptions): Promise<PackagedDevice> {
  mkdirSync(opts.logDir, { recursive: true });
  const logFiles = { sshd: path.join(opts.logDir, 'sshd.log'), runtime: path.join(opts.logDir, 'runtime.log'), worker: path.join(opts.logDir, 'edge-worker.log') };
  await writeDeviceConfig(root, {
    id: opts.id,
    target: 'cpu-int8',
    modelDir: MODEL_DIR,
    runtime: { host: '127.0.0.1', port: opts.runtimePort, ...(opts.runtime ?? {}) },
    restart: { method: 'self-reload' },
    keepBackups: 3,
    temporal: { address: opts.temporalAddress, namespace: opts.namespace },
  });
  await addDeployUser(root, opts.gpuKey.publicKey);
  writeFileSync(root.hostPath('/etc/ssh/sshd_config.d/edgeship.conf'), DEPLOY_USER_SSHD_CONF);
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    const sshd = await startRootSshd(root, { port: opts.sshPort, allowUsers: [DEPLOY_USER], logFile: logFiles.sshd });
    stops.push(() => sshd.stop());
    const runtime = await startUnit(root, 'edgeship-runtime.service', logFiles.runtime);
    stops.push(() => runtime.stop());
    const worker = await startUnit(root, 'edgeship-edge-worker.service', logFiles.worker);
    stops.push(() => worker.stop());
    // The runtime answers /healthz (503 while it serves no model) once it listens.
    if (!(await waitForPort(opts.runtimePort, 300_000, () => runtime.current()?.isRunning() ?? false))) {
      throw new Error(`the packaged runtime did not listen on 127.0.0.1:${opts.runtimePort}; see ${logFiles.runtime}`);
    }
    const base = `http://127.0.0.1:${opts.runtimePort}`;
    return {
      spec: {
        id: opts.id,
        target: 'cpu-int8',
        ssh: { host: '127.0.0.1', port: opts.sshPort, user: DEPLOY_USER, privateKeyPath: opts.gpuKey.privateKeyPath, knownHosts: sshd.knownHosts },
        modelDir: MODEL_DIR,
        // The GPU server never runs it: the packaged runtime reloads by itself (restart.method
        // "self-reload" in device.json). The inventory schema still asks for an argv; this one
        // names what a person would run on the device by hand.
        restartCommand: ['/usr/bin/systemctl', 'restart', 'edgeship-runtime.service'],
        healthUrl: `${base}/healthz`,
        inferenceUrl: `${base}/infer`,
        keepBackups: 3,
      },
      sshd,
      units: [runtime, worker],
      notMirrored: Object.fromEntries([runtime, worker].map((u) => [u.name, u.unit.notMirrored])),
      logFiles,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
