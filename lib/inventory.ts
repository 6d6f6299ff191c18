// The device inventory: one JSON file that lists the fleet. Validated at load with clear errors.
// Not for workflow code (reads files). Schema documented in docs/inventory.md.
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { COMPILE_TARGETS, type DeviceInfo } from '../common/contracts';
import { DEVICE_ID_PATTERN } from '../common/ids';
import { keyscanCommand, sshFingerprint } from './sshFingerprint';

const httpUrl = z.url({ protocol: /^https?$/ });

export const HOST_KEY_TYPES = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa'] as const;
export type HostKeyType = (typeof HOST_KEY_TYPES)[number];

/** A parsed known_hosts line: the host patterns, the key type and the raw public key blob. */
export interface KnownHostsEntry {
  hosts: string;
  keyType: HostKeyType;
  key: Buffer;
}

/**
 * Parses one known_hosts line (`hosts keytype base64 [comment]`). Checks that the base64 blob
 * really is a key of the declared type (its first SSH string names the type), so a truncated or
 * pasted-wrong line fails at load instead of as a confusing HostKeyMismatch at deploy time.
 */
export function parseKnownHostsLine(line: string): KnownHostsEntry {
  const parts = line.trim().split(/\s+/);
  if (parts.length < 3) throw new Error('expected "hosts keytype base64key"');
  const [hosts, keyType, b64] = parts;
  if (hosts.startsWith('@')) throw new Error(`markers like ${hosts} are not supported: pin the plain key`);
  if (!(HOST_KEY_TYPES as readonly string[]).includes(keyType)) throw new Error(`unsupported key type ${keyType} (use one of ${HOST_KEY_TYPES.join(', ')})`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new Error('key is not base64');
  const key = Buffer.from(b64, 'base64');
  if (key.length < 4) throw new Error('key blob too short');
  const nameLen = key.readUInt32BE(0);
  if (4 + nameLen > key.length || key.subarray(4, 4 + nameLen).toString('latin1') !== keyType) {
    throw new Error(`key blob is not a ${keyType} key`);
  }
  return { hosts, keyType: keyType as HostKeyType, key };
}

/** True when a known_hosts host field (patterns, comma-separated, plain or `|1|` hashed) names host:port. */
export function knownHostsMatches(hostsField: string, host: string, port: number): boolean {
  const name = port === 22 ? host : `[${host}]:${port}`;
  return hostsField.split(',').some((pattern) => {
    if (pattern.startsWith('|1|')) {
      const [, , salt, hash] = pattern.split('|');
      if (!salt || !hash) return false;
      return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
    }
    return pattern === name;
  });
}

// Paths on the device end up (quoted) in remote commands and are parsed back from sha256sum
// output: a conservative character set keeps both unambiguous.
const devicePath = z.string()
  .refine((p) => path.posix.isAbsolute(p), 'must be an absolute path')
  .refine((p) => /^[A-Za-z0-9._/@+-]+$/.test(p), 'may contain only letters, digits and . _ / @ + -')
  .refine((p) => p === '/' || (path.posix.normalize(p) === p && !p.endsWith('/')), 'must be normalized (no "..", "//" or trailing "/")');

export const DeviceSpecSchema = z.strictObject({
  id: z.string().regex(DEVICE_ID_PATTERN, 'device id: 1-63 lowercase letters, digits or dashes'),
  target: z.enum(COMPILE_TARGETS),
  ssh: z.strictObject({
    host: z.string().min(1).max(253).regex(/^[A-Za-z0-9.:\-[\]]+$/, 'host: a hostname or IP address'),
    port: z.number().int().min(1).max(65535).default(22),
    user: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/i, 'user: a plain user name'),
    /** Private key on the GPU server; a relative path is resolved against the inventory file. */
    privateKeyPath: z.string().min(1),
    /** The device's host key in known_hosts format: `host keytype base64` (host may be `[h]:port`). */
    knownHosts: z.string().superRefine((line, ctx) => {
      if (line.includes('\n')) ctx.addIssue({ code: 'custom', message: 'knownHosts: exactly one line' });
      try {
        parseKnownHostsLine(line);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `knownHosts: ${(err as Error).message}` });
      }
    }),
  }).superRefine((ssh, ctx) => {
    let entry: KnownHostsEntry;
    try {
      entry = parseKnownHostsLine(ssh.knownHosts);
    } catch {
      return; // reported on the field itself
    }
    if (!knownHostsMatches(entry.hosts, ssh.host, ssh.port)) {
      const want = ssh.port === 22 ? ssh.host : `[${ssh.host}]:${ssh.port}`;
      // The fingerprint names the key itself, so the operator can tell a line pasted for the wrong
      // device from one whose host field alone is wrong.
      ctx.addIssue({ code: 'custom', path: ['knownHosts'], message: `knownHosts: the line is for ${entry.hosts}, not for ${want} (its key: ${entry.keyType} ${sshFingerprint(entry.key)}; check with ${keyscanCommand(ssh.host, ssh.port, entry.keyType)})` });
    }
  }),
  modelDir: devicePath,
  /** argv of the command that restarts the device's inference runtime; run without a shell. */
  restartCommand: z.array(z.string().min(1)).min(1),
  healthUrl: httpUrl,
  inferenceUrl: httpUrl,
  keepBackups: z.number().int().min(1).max(100).default(3),
});

export const InventorySchema = z.strictObject({
  devices: z.array(DeviceSpecSchema).min(1),
}).superRefine((inv, ctx) => {
  const seen = new Set<string>();
  for (const [i, d] of inv.devices.entries()) {
    if (seen.has(d.id)) ctx.addIssue({ code: 'custom', path: ['devices', i, 'id'], message: `duplicate device id ${d.id}` });
    seen.add(d.id);
  }
});

export type DeviceSpec = z.infer<typeof DeviceSpecSchema>;
export type Inventory = z.infer<typeof InventorySchema>;

export class InventoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidInventory';
  }
}

/**
 * Validates an inventory object. `baseDir` (the inventory file's directory) resolves relative
 * private key paths; without it they must be absolute.
 */
export function parseInventory(raw: unknown, source = 'inventory', baseDir?: string): Inventory {
  const parsed = InventorySchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n');
    throw new InventoryError(`${source} is not a valid edgeship inventory:\n${issues}`);
  }
  for (const d of parsed.data.devices) {
    if (!path.isAbsolute(d.ssh.privateKeyPath)) {
      if (!baseDir) throw new InventoryError(`${source}: devices.${d.id}.ssh.privateKeyPath must be absolute`);
      d.ssh.privateKeyPath = path.resolve(baseDir, d.ssh.privateKeyPath);
    }
  }
  return parsed.data;
}

export function loadInventory(file: string): Inventory {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InventoryError(`cannot read inventory ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InventoryError(`inventory ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parseInventory(raw, file, path.dirname(path.resolve(file)));
}

export function findDevice(inventory: Inventory, id: string): DeviceSpec | undefined {
  return inventory.devices.find((d) => d.id === id);
}

export function publicDeviceInfo(d: DeviceSpec): DeviceInfo {
  return { id: d.id, target: d.target, host: d.ssh.host, port: d.ssh.port, modelDir: d.modelDir, healthUrl: d.healthUrl, inferenceUrl: d.inferenceUrl };
}

/** Path of the inventory the workers use: EDGESHIP_INVENTORY or .state/inventory.json. */
export function defaultInventoryPath(stateDirectory: string): string {
  return process.env.EDGESHIP_INVENTORY ?? path.join(stateDirectory, 'inventory.json');
}
