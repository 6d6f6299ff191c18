// `edgeship devices add`: a new device's inventory entry, its host key pinned from what the device
// presents (confirmed by a person, or by the fingerprint they read on the device's console), then
// written atomically. Every refusal happens before the write, so a refused enrollment leaves the
// inventory file byte for byte as it was.
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { COMPILE_TARGETS, type CompileTarget } from '../common/contracts';
import { writeFileAtomic } from '../lib/durableFs';
import { isDeviceId } from '../common/ids';
import { DeviceSpecSchema, InventoryError, parseInventory } from '../lib/inventory';
import { keyscanCommand } from '../lib/sshFingerprint';
import { fetchHostKey, knownHostsLine, type PresentedHostKey } from './hostKey';

/**
 * What the device package installs (its /etc/edgeship/device.json): models under
 * /var/lib/edgeship/models, the EdgeInfer runtime on the device's loopback, port 9000. The
 * inventory's restartCommand is used only by an edge worker that reads the fleet inventory
 * (simulated devices, devices run without the package); the package's worker takes its restart
 * from device.json (default: the runtime reloads by itself) and ignores it.
 */
export const DEVICE_PACKAGE_DEFAULTS = {
  modelDir: '/var/lib/edgeship/models',
  healthUrl: 'http://127.0.0.1:9000/healthz',
  inferenceUrl: 'http://127.0.0.1:9000/infer',
  restartCommand: ['/usr/bin/sudo', '-n', '/usr/bin/systemctl', 'restart', 'edgeship-runtime.service'],
} as const;

/** The GPU server's SSH key that devices authorize for the deploy user. */
export function defaultPrivateKeyPath(): string {
  return path.join(os.homedir(), '.ssh', 'id_ed25519');
}

export interface EnrollOptions {
  inventory: string;
  id: string;
  host: string;
  port: number;
  user: string;
  target: string;
  key: string;
  hostKeyFingerprint?: string;
  modelDir: string;
  healthUrl: string;
  inferenceUrl: string;
  restartCommand: string[];
  keepBackups?: number;
}

export interface EnrollResult {
  deviceId: string;
  inventory: string;
  host: string;
  port: number;
  keyType: string;
  fingerprint: string;
  /** How the key was accepted. */
  confirmedBy: 'fingerprint-flag' | 'operator';
  devices: number;
}

/** A refusal: one line naming the fix. exitCode 2 when the command line itself is wrong. */
export class EnrollmentError extends Error {
  constructor(message: string, readonly exitCode: 1 | 2 = 1) {
    super(message);
    this.name = 'EnrollmentError';
  }
}

export interface EnrollIo {
  /** Shows the presented key and asks whether to pin it; undefined when nobody can answer (no TTY). */
  confirm?: (presented: PresentedHostKey, where: string) => Promise<boolean>;
  /** How the host key is fetched; the real one talks SSH (fetchHostKey). Unit tests replace it. */
  fetchKey?: (host: string, port: number) => Promise<PresentedHostKey>;
  /** Told the presented key before anything is decided (the command prints it). */
  presented?: (presented: PresentedHostKey, where: string) => void;
}

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

function oneLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).join('; ');
}

/** The inventory as it is on disk now: its exact text (null when the file does not exist yet) and the raw JSON. */
function readCurrent(file: string): { text: string | null; raw: { devices: unknown[] } } {
  if (!existsSync(file)) return { text: null, raw: { devices: [] } };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new EnrollmentError(`cannot read inventory ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new EnrollmentError(`inventory ${file} is not valid JSON (${(err as Error).message}): fix it before adding a device`);
  }
  try {
    parseInventory(structuredClone(raw), file, path.dirname(path.resolve(file)));
  } catch (err) {
    throw new EnrollmentError(`${oneLine((err as Error).message)}: fix it before adding a device`);
  }
  return { text, raw: raw as { devices: unknown[] } };
}

/** Checks every flag before anything touches the network. */
function checkFlags(o: EnrollOptions): void {
  if (!isDeviceId(o.id)) throw new EnrollmentError(`invalid device id ${JSON.stringify(o.id)}: use 1-63 lowercase letters, digits or dashes`, 2);
  if (!(COMPILE_TARGETS as readonly string[]).includes(o.target)) throw new EnrollmentError(`--target ${JSON.stringify(o.target)} is not one of ${COMPILE_TARGETS.join(', ')}`, 2);
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new EnrollmentError(`--port ${String(o.port)} is not a port number (1-65535)`, 2);
  if (o.hostKeyFingerprint !== undefined && !FINGERPRINT.test(o.hostKeyFingerprint)) {
    throw new EnrollmentError(`--host-key-fingerprint ${JSON.stringify(o.hostKeyFingerprint)} is not an OpenSSH SHA256 fingerprint (SHA256: and 43 base64 characters, as "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub" prints it on the device)`, 2);
  }
  if (!existsSync(o.key)) throw new EnrollmentError(`no private key at ${o.key}: pass --key with the GPU server's SSH key the device authorizes (or create it with ssh-keygen -t ed25519)`, 2);
  // The rest of the entry is checked by the schema itself (with a placeholder host key line):
  // a bad host, user, directory or URL is refused before the device is contacted.
  const probe = DeviceSpecSchema.safeParse(entryFor(o, null));
  if (!probe.success) {
    const issue = probe.error.issues.find((i) => i.path.join('.') !== 'ssh.knownHosts') ?? null;
    if (issue) throw new EnrollmentError(`${issue.path.join('.')}: ${issue.message}`, 2);
  }
}

function entryFor(o: EnrollOptions, key: PresentedHostKey | null): Record<string, unknown> {
  return {
    id: o.id,
    target: o.target as CompileTarget,
    ssh: {
      host: o.host,
      port: o.port,
      user: o.user,
      privateKeyPath: path.resolve(o.key),
      knownHosts: key ? knownHostsLine(o.host, o.port, key.keyType, key.key) : '',
    },
    modelDir: o.modelDir,
    restartCommand: o.restartCommand,
    healthUrl: o.healthUrl,
    inferenceUrl: o.inferenceUrl,
    ...(o.keepBackups !== undefined ? { keepBackups: o.keepBackups } : {}),
  };
}

export async function enrollDevice(o: EnrollOptions, io: EnrollIo = {}): Promise<EnrollResult> {
  checkFlags(o);
  const file = path.resolve(o.inventory);
  const before = readCurrent(file);
  const existing = before.raw.devices.find((d) => (d as { id?: unknown }).id === o.id) as { ssh?: { host?: string; port?: number } } | undefined;
  if (existing) {
    throw new EnrollmentError(`device ${o.id} is already in ${o.inventory} (${existing.ssh?.host ?? '?'}:${existing.ssh?.port ?? 22}): pick another id, or remove its entry first`, 2);
  }
  if (o.hostKeyFingerprint === undefined && !io.confirm) {
    throw new EnrollmentError(`nobody can confirm ${o.id}'s host key here (no terminal): pass --host-key-fingerprint SHA256:… as read on the device (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)`, 2);
  }

  const where = `${o.host}:${o.port}`;
  const presented = await (io.fetchKey ?? fetchHostKey)(o.host, o.port).catch((err: Error) => {
    throw new EnrollmentError(err.message);
  });
  io.presented?.(presented, where);
  let confirmedBy: EnrollResult['confirmedBy'];
  if (o.hostKeyFingerprint !== undefined) {
    if (presented.fingerprint !== o.hostKeyFingerprint) {
      throw new EnrollmentError(`host key mismatch: ${where} presents ${presented.keyType} ${presented.fingerprint}, not ${o.hostKeyFingerprint}: nothing written; check the fingerprint on the device's console (${keyscanCommand(o.host, o.port, presented.keyType)} shows what answers here) — something else may answer at this address`);
    }
    confirmedBy = 'fingerprint-flag';
  } else {
    if (!(await io.confirm!(presented, where))) throw new EnrollmentError(`not confirmed: nothing written to ${o.inventory}`);
    confirmedBy = 'operator';
  }

  const entry = entryFor(o, presented);
  const next = { ...before.raw, devices: [...before.raw.devices, entry] };
  let devices: number;
  try {
    devices = parseInventory(structuredClone(next), file, path.dirname(file)).devices.length;
  } catch (err) {
    throw new EnrollmentError(oneLine((err as InventoryError).message), 2);
  }
  // Someone else may have written the file while we waited for the device or the person: their
  // change must not be lost to ours.
  const now = existsSync(file) ? readFileSync(file, 'utf8') : null;
  if (now !== before.text) throw new EnrollmentError(`${o.inventory} changed while ${o.id} was being enrolled: nothing written; run the command again`);
  await writeFileAtomic(file, `${JSON.stringify(next, null, 2)}\n`);
  return { deviceId: o.id, inventory: o.inventory, host: o.host, port: o.port, keyType: presented.keyType, fingerprint: presented.fingerprint, confirmedBy, devices };
}
