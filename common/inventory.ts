// The device inventory: one JSON file that lists the fleet. Validated at load with clear errors.
// Not for workflow code (reads files).
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { COMPILE_TARGETS, type DeviceInfo } from './contracts';
import { DEVICE_ID_PATTERN } from './ids';

const httpUrl = z.url({ protocol: /^https?$/ });

export const DeviceSpecSchema = z.strictObject({
  id: z.string().regex(DEVICE_ID_PATTERN, 'device id: 1-63 lowercase letters, digits or dashes'),
  target: z.enum(COMPILE_TARGETS),
  ssh: z.strictObject({
    host: z.string().min(1).regex(/^[A-Za-z0-9.:\-[\]]+$/, 'host: a hostname or IP address'),
    port: z.number().int().min(1).max(65535).default(22),
    user: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/i, 'user: a plain user name'),
    privateKeyPath: z.string().min(1),
    /** The device's host key in known_hosts format: `host keytype base64` (host may be `[h]:port`). */
    knownHosts: z.string().regex(/^\S+ (ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa) [A-Za-z0-9+/=]+\s*$/, 'knownHosts: one known_hosts line "host keytype base64key"'),
  }),
  modelDir: z.string().refine((p) => path.isAbsolute(p), 'modelDir must be an absolute path'),
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

export function parseInventory(raw: unknown, source = 'inventory'): Inventory {
  const parsed = InventorySchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n');
    throw new InventoryError(`${source} is not a valid edgeship inventory:\n${issues}`);
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
  return parseInventory(raw, file);
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
