// `edgeship devices check <id>`: can the GPU server deploy to this device now? Five checks, each
// ✓ or ✗ with what to do: the inventory entry, SSH with the pinned host key, staging/ writable by
// the deploy user, the edge worker polling edge.<id> (and its version), and the runtime's /healthz
// — reached through the SSH connection (a direct-tcpip channel to the healthUrl's host:port), since
// healthUrl is usually the device's own loopback. Nothing is installed on the device; the only
// trace is a probe file in staging/, removed at once.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { Duplex } from 'node:stream';
import type { NodeSSH } from 'node-ssh';
import { connectDevice } from '../activities/gpu/ssh';
import { Sftp } from '../activities/gpu/sftp';
import { DEFAULT_POLLER_LIVE_WINDOW_MS, describeEdgePollers, edgeVersionLabel, type EdgePoller, type TaskQueueDescriber } from '../lib/edgePollers';
import { findDevice, loadInventory, parseKnownHostsLine, type DeviceSpec } from '../lib/inventory';
import { edgeTaskQueue } from '../common/queues';
import { sshFingerprint } from '../lib/sshFingerprint';

export type CheckName = 'inventory' | 'ssh' | 'model-dir' | 'edge-worker' | 'healthz';

export interface CheckLine {
  check: CheckName;
  ok: boolean;
  /** What was found. */
  detail: string;
  /** What to do about a ✗. */
  fix?: string;
  data?: Record<string, unknown>;
}

export interface DeviceCheckReport {
  deviceId: string;
  inventory: string;
  ok: boolean;
  checks: CheckLine[];
}

export class UnknownDeviceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeviceNotFound';
  }
}

export interface CheckOptions {
  inventory: string;
  deviceId: string;
  /** Opens the Temporal client (or throws why it cannot); closed by the check. */
  temporal: () => Promise<{ client: TaskQueueDescriber; close: () => Promise<void> }>;
  pollerWindowMs?: number;
  sshTimeoutMs?: number;
  httpTimeoutMs?: number;
}

const firstLine = (text: string): string => text.split('\n')[0];

function sshFix(type: string | undefined, device: DeviceSpec, message = ''): string {
  if (/privateKey|ENOENT|no such file/i.test(message)) return `the GPU server's key ${device.ssh.privateKeyPath} cannot be read: fix ssh.privateKeyPath in the inventory (devices add --key)`;
  if (type === 'HostKeyMismatch') return `if the device was re-imaged, verify its new key on its console and pin it again (remove the entry, then edgeship devices add ${device.id} …); otherwise something else answers at ${device.ssh.host}:${device.ssh.port}: do not deploy`;
  if (type === 'SshAuthFailed') return `authorize the GPU server's key (${device.ssh.privateKeyPath}.pub) for ${device.ssh.user} on the device (~${device.ssh.user}/.ssh/authorized_keys), or fix ssh.user / ssh.privateKeyPath`;
  return `check that the device is on and reachable from here and that sshd listens on ${device.ssh.host}:${device.ssh.port} (ssh.host / ssh.port in the inventory)`;
}

async function checkSsh(device: DeviceSpec, timeoutMs: number): Promise<{ line: CheckLine; ssh?: NodeSSH }> {
  const pinned = parseKnownHostsLine(device.ssh.knownHosts);
  const pinnedFp = `${pinned.keyType} ${sshFingerprint(pinned.key)}`;
  try {
    const ssh = await connectDevice(device, { readyTimeoutMs: timeoutMs });
    return { ssh, line: { check: 'ssh', ok: true, detail: `logged in as ${device.ssh.user}@${device.ssh.host}:${device.ssh.port}; host key ${pinnedFp} matches the pin` } };
  } catch (err) {
    const e = err as { type?: string; message?: string };
    const message = e.message ?? String(err);
    if (e.type === 'HostKeyMismatch') {
      const seen = /presented:\s+(\S+ SHA256:\S+)/.exec(message)?.[1];
      const detail = seen ? `host key mismatch: ${device.ssh.host}:${device.ssh.port} presents ${seen}, pinned ${pinnedFp}` : firstLine(message);
      return { line: { check: 'ssh', ok: false, detail, fix: sshFix(e.type, device), data: { type: e.type, seen: seen ?? null, pinned: pinnedFp } } };
    }
    return { line: { check: 'ssh', ok: false, detail: firstLine(message), fix: sshFix(e.type, device, message), data: { type: e.type ?? null } } };
  }
}

/** Creates and removes a probe file in staging/: the only write the deploy user needs. */
async function checkStaging(device: DeviceSpec, ssh: NodeSSH): Promise<CheckLine> {
  const staging = `${device.modelDir}/staging`;
  const fix = `the deploy user ${device.ssh.user} must be able to create files in ${staging} (the device package makes it group-writable for group edgeship: add ${device.ssh.user} to it), or fix modelDir in the inventory`;
  try {
    const sftp = new Sftp(await ssh.requestSFTP(), ssh.connection!);
    const st = await sftp.stat(staging);
    if (!st) return { check: 'model-dir', ok: false, detail: `${staging} does not exist`, fix };
    if (!st.isDirectory()) return { check: 'model-dir', ok: false, detail: `${staging} is not a directory`, fix };
    const probe = `${staging}/.edgeship-check-${randomBytes(6).toString('hex')}`;
    await sftp.writeFile(probe, Buffer.from('edgeship devices check\n'));
    const removed = await sftp.unlinkIfExists(probe);
    if (!removed) return { check: 'model-dir', ok: false, detail: `wrote ${probe} but could not find it again to remove it`, fix };
    return { check: 'model-dir', ok: true, detail: `${staging} is writable by ${device.ssh.user} (probe file created and removed over SFTP)` };
  } catch (err) {
    return { check: 'model-dir', ok: false, detail: `cannot write in ${staging}: ${(err as Error).message}`, fix };
  }
}

function describePoller(p: EdgePoller): string {
  const age = p.ageSeconds !== undefined ? `, seen ${p.ageSeconds} s ago` : '';
  return p.parsed ? `${p.identity} (version ${p.parsed.version}, edge API ${p.parsed.api}${age})` : `${JSON.stringify(p.identity)} (no version: edge API 1${age})`;
}

async function checkEdgeWorker(device: DeviceSpec, opts: CheckOptions): Promise<CheckLine> {
  const queue = edgeTaskQueue(device.id);
  let temporal: Awaited<ReturnType<CheckOptions['temporal']>>;
  try {
    temporal = await opts.temporal();
  } catch (err) {
    return { check: 'edge-worker', ok: false, detail: firstLine((err as Error).message), fix: 'start Temporal or point at it (--address / TEMPORAL_ADDRESS, --profile), then check again' };
  }
  try {
    const windowMs = opts.pollerWindowMs ?? DEFAULT_POLLER_LIVE_WINDOW_MS;
    const pollers = await describeEdgePollers(temporal.client, device.id, { liveWindowMs: windowMs });
    const live = pollers.filter((p) => p.live);
    const data = { taskQueue: queue, version: edgeVersionLabel(pollers), pollers: pollers.map((p) => ({ identity: p.identity, version: p.parsed?.version ?? null, api: p.parsed ? p.parsed.api : 1, ageSeconds: p.ageSeconds ?? null, live: p.live, problem: p.problem })) };
    if (live.length === 0) {
      const last = pollers[0] ? `; last seen: ${describePoller(pollers[0])}` : '';
      return { check: 'edge-worker', ok: false, detail: `no edge worker polls ${queue} (none seen in the last ${Math.round(windowMs / 1000)} s${last})`, fix: `start the device's edge worker (device package: systemctl status edgeship-edge-worker; journalctl -u edgeship-edge-worker) and check that it reaches Temporal`, data };
    }
    const old = live.find((p) => p.problem);
    if (old) return { check: 'edge-worker', ok: false, detail: `${queue} is polled by ${describePoller(old)}: ${old.problem}`, fix: 'upgrade the device package on the device; deployments refuse it until then (DeviceVersionUnsupported)', data };
    return { check: 'edge-worker', ok: true, detail: `${queue} is polled by ${live.map(describePoller).join('; ')}`, data };
  } catch (err) {
    return { check: 'edge-worker', ok: false, detail: `cannot describe ${queue}: ${firstLine((err as Error).message)}`, fix: 'check the Temporal connection (--address, --namespace) and the client\'s permissions', data: { taskQueue: queue } };
  } finally {
    await temporal.close().catch(() => undefined);
  }
}

/** GET healthUrl from the device's point of view, through a direct-tcpip channel of the SSH connection. */
function getThroughSsh(ssh: NodeSSH, url: URL, timeoutMs: number): Promise<{ status: number; body: string }> {
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  return new Promise((resolve, reject) => {
    ssh.connection!.forwardOut('127.0.0.1', 0, url.hostname.replace(/^\[|\]$/g, ''), port, (err, channel) => {
      if (err) {
        reject(Object.assign(new Error(`the device's sshd refused to open a channel to ${url.host}: ${err.message}`), { forwarding: true }));
        return;
      }
      const req = httpRequest({ createConnection: () => channel as unknown as Duplex, host: url.hostname, path: `${url.pathname}${url.search}`, method: 'GET', headers: { host: url.host, connection: 'close' }, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  });
}

async function checkHealth(device: DeviceSpec, ssh: NodeSSH, timeoutMs: number): Promise<CheckLine> {
  const url = new URL(device.healthUrl);
  if (url.protocol !== 'http:') return { check: 'healthz', ok: false, detail: `${device.healthUrl}: only http:// is checked through SSH`, fix: 'check it on the device' };
  let answer: { status: number; body: string };
  try {
    answer = await getThroughSsh(ssh, url, timeoutMs);
  } catch (err) {
    const forwarding = (err as { forwarding?: boolean }).forwarding;
    return {
      check: 'healthz',
      ok: false,
      detail: `${device.healthUrl} (on the device): ${(err as Error).message}`,
      fix: forwarding
        ? `let ${device.ssh.user} open channels to the runtime only (sshd_config: Match User ${device.ssh.user} / AllowTcpForwarding local / PermitOpen ${url.hostname}:${url.port || 80}), or check it on the device: curl ${device.healthUrl}`
        : `start the runtime (device package: systemctl status edgeship-runtime) or fix healthUrl in the inventory`,
    };
  }
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(answer.body) as Record<string, unknown>;
  } catch {
    return { check: 'healthz', ok: false, detail: `${device.healthUrl} answered ${answer.status} with a body that is not JSON`, fix: 'healthUrl must name the edgeship runtime\'s /healthz' };
  }
  const data = { status: answer.status, ...body };
  if (answer.status !== 200 || body.ok !== true) {
    return { check: 'healthz', ok: false, detail: `${device.healthUrl} answered ${answer.status}: ${String(body.reason ?? 'not ok')}`, fix: 'see the runtime\'s log on the device; a device with no model yet serves one after its first deployment', data };
  }
  const sha = typeof body.sha256 === 'string' ? body.sha256.slice(0, 12) : '?';
  return { check: 'healthz', ok: true, detail: `${device.healthUrl} serves ${String(body.model_name ?? body.model ?? '?')} (sha256 ${sha}…, ${String(body.target ?? '?')}), runtime version ${String(body.version ?? '?')}`, data };
}

export async function checkDevice(opts: CheckOptions): Promise<DeviceCheckReport> {
  const checks: CheckLine[] = [];
  const report = (): DeviceCheckReport => ({ deviceId: opts.deviceId, inventory: opts.inventory, ok: checks.length === 5 && checks.every((c) => c.ok), checks });
  let device: DeviceSpec | undefined;
  try {
    if (!existsSync(opts.inventory)) throw new UnknownDeviceError(`no inventory at ${opts.inventory}: pass --inventory (or set EDGESHIP_INVENTORY), or enroll ${opts.deviceId} with edgeship devices add`);
    const inventory = loadInventory(opts.inventory);
    device = findDevice(inventory, opts.deviceId);
    if (!device) {
      throw new UnknownDeviceError(`device ${opts.deviceId} is not in ${opts.inventory} (known: ${inventory.devices.map((d) => d.id).join(', ')}): enroll it with edgeship devices add ${opts.deviceId} --host … --user … --target …, or pass --inventory`);
    }
  } catch (err) {
    if (err instanceof UnknownDeviceError) throw err;
    checks.push({ check: 'inventory', ok: false, detail: (err as Error).message.split('\n').map((l) => l.trim()).filter(Boolean).join('; '), fix: 'fix the inventory file (docs/inventory.md), then check again' });
    return report();
  }
  checks.push({ check: 'inventory', ok: true, detail: `${device.id}: ${device.target}, ${device.ssh.user}@${device.ssh.host}:${device.ssh.port}, ${device.modelDir}` });

  const { line, ssh } = await checkSsh(device, opts.sshTimeoutMs ?? 10_000);
  checks.push(line);
  try {
    const skipped = (check: CheckName): CheckLine => ({ check, ok: false, detail: 'not checked: needs SSH', fix: 'fix the SSH line first' });
    checks.push(ssh ? await checkStaging(device, ssh) : skipped('model-dir'));
    checks.push(await checkEdgeWorker(device, opts));
    checks.push(ssh ? await checkHealth(device, ssh, opts.httpTimeoutMs ?? 5_000) : skipped('healthz'));
  } finally {
    ssh?.dispose();
  }
  return report();
}

const LABELS: Record<CheckName, string> = {
  inventory: 'inventory entry',
  ssh: 'SSH (pinned host key)',
  'model-dir': 'staging/ writable',
  'edge-worker': 'edge worker',
  healthz: '/healthz',
};

export function renderCheck(r: DeviceCheckReport): string {
  const lines = r.checks.map((c) => `${c.ok ? '✓' : '✗'} ${LABELS[c.check]}: ${c.detail}${c.ok || !c.fix ? '' : `\n    → ${c.fix}`}`);
  lines.push(r.ok ? `${r.deviceId}: ready for deployments` : `${r.deviceId}: ${r.checks.filter((c) => !c.ok).length} check(s) failed`);
  return lines.join('\n');
}
