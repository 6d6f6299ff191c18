// The device's own configuration, /etc/edgeship/device.json (EDGESHIP_DEVICE_CONFIG overrides the
// path, for tests): who this device is, where its models live, how its runtime is reached and
// restarted, how it connects to Temporal, and which release keys it trusts. It never holds the
// fleet inventory or an SSH key. Loading validates everything at once and lists every problem
// with its fix, so an operator edits the file once rather than once per error.
// Fields and example: docs/install-device.md, packaging/device.example.json.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { COMPILE_TARGETS } from '../common/contracts';
import { DEVICE_ID_PATTERN } from '../common/ids';
import type { EdgeDevice } from '../activities/edge/device';

export const DEFAULT_DEVICE_CONFIG = '/etc/edgeship/device.json';
export const DEFAULT_MODEL_DIR = '/var/lib/edgeship/models';

export function deviceConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.EDGESHIP_DEVICE_CONFIG || DEFAULT_DEVICE_CONFIG;
}

// Same rules as the inventory's device paths: the GPU side quotes them into remote commands.
const absolutePath = (what: string) =>
  z.string({ error: `${what}: an absolute path is required` })
    .refine((p) => path.posix.isAbsolute(p), `${what} must be an absolute path`)
    .refine((p) => /^[A-Za-z0-9._/@+-]+$/.test(p), `${what} may contain only letters, digits and . _ / @ + -`)
    .refine((p) => p === '/' || (path.posix.normalize(p) === p && !p.endsWith('/')), `${what} must be normalized (no "..", "//" or trailing "/")`);

const restartSchema = z.discriminatedUnion('method', [
  /** The packaged runtime follows `current` by itself: no command, no privilege. */
  z.strictObject({ method: z.literal('self-reload') }),
  /** argv run without a shell, e.g. docker compose -f /opt/edgeinfer/compose.yml restart edgeinfer. */
  z.strictObject({
    method: z.literal('command'),
    argv: z.array(z.string().min(1)).min(1, 'restart.argv needs at least the program')
      .refine((a) => a.length === 0 || path.posix.isAbsolute(a[0]), 'restart.argv[0] must be an absolute path (e.g. /usr/bin/docker): the service does not search PATH for it'),
  }),
], { error: 'restart.method must be "self-reload" (the packaged runtime) or "command" (with argv)' });

const hostPort = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

const temporalSchema = z.strictObject({
  address: z.string().regex(hostPort, 'temporal.address must be host:port, e.g. temporal.example.com:7233').optional(),
  namespace: z.string().min(1).max(255).optional(),
  tls: z.strictObject({
    clientCertFile: absolutePath('temporal.tls.clientCertFile').optional(),
    clientKeyFile: absolutePath('temporal.tls.clientKeyFile').optional(),
    serverCaFile: absolutePath('temporal.tls.serverCaFile').optional(),
    serverName: z.string().min(1).max(253).optional(),
  }).optional(),
  /** A file holding the API key (Temporal Cloud); the key itself never sits in device.json. */
  apiKeyFile: absolutePath('temporal.apiKeyFile').optional(),
  /** A profile of a temporal.toml (Temporal's envconfig), e.g. /etc/edgeship/temporal.toml. */
  profile: z.string().min(1).optional(),
  configFile: absolutePath('temporal.configFile').optional(),
}).superRefine((t, ctx) => {
  if (Boolean(t.tls?.clientCertFile) !== Boolean(t.tls?.clientKeyFile)) {
    ctx.addIssue({ code: 'custom', path: ['tls'], message: 'temporal.tls.clientCertFile and clientKeyFile go together (mTLS needs both): set both or neither' });
  }
  if (!t.address && !t.configFile) {
    ctx.addIssue({ code: 'custom', path: ['address'], message: 'temporal.address is required (or temporal.configFile with a profile that has one)' });
  }
  if (t.profile && !t.configFile) {
    ctx.addIssue({ code: 'custom', path: ['profile'], message: 'temporal.profile needs temporal.configFile: the service user has no home directory to find a temporal.toml in' });
  }
});

const trustSchema = z.strictObject({
  publicKeyFiles: z.array(absolutePath('trust.publicKeyFiles[]')).max(32),
  requireSignatures: z.boolean(),
}).refine((t) => !t.requireSignatures || t.publicKeyFiles.length > 0, { message: 'trust.requireSignatures is true but trust.publicKeyFiles is empty: add the release public key (/etc/edgeship/keys/<id>.pub)' });

export const DeviceConfigSchema = z.strictObject({
  id: z.string({ error: (iss) => (iss.code === 'invalid_type' ? 'id is required: the device id the GPU server enrolled (e.g. "pi-01")' : undefined) }).regex(DEVICE_ID_PATTERN, 'id: 1-63 lowercase letters, digits or dashes'),
  target: z.enum(COMPILE_TARGETS, { error: `target must be one of ${COMPILE_TARGETS.join(', ')}` }),
  modelDir: absolutePath('modelDir').default(DEFAULT_MODEL_DIR),
  runtime: z.strictObject({
    host: z.string().min(1).max(253).regex(/^[A-Za-z0-9.:-]+$/, 'runtime.host: a host name or IP address').default('127.0.0.1'),
    port: z.number({ error: (iss) => (iss.code === 'invalid_type' ? 'runtime.port must be a number' : undefined) }).int().min(1).max(65535).default(9000),
    inferenceWorkers: z.number().int().min(0).max(16).optional(),
    intraOpThreads: z.number().int().min(1).max(64).optional(),
  }).prefault({}),
  restart: restartSchema.prefault({ method: 'self-reload' }),
  keepBackups: z.number().int().min(1).max(100).default(3),
  temporal: temporalSchema,
  trust: trustSchema.default({ publicKeyFiles: [], requireSignatures: false }),
});

export type DeviceConfig = z.infer<typeof DeviceConfigSchema>;

export class DeviceConfigError extends Error {
  constructor(readonly file: string, readonly problems: string[]) {
    super(`${file}: ${problems.length === 1 ? problems[0] : `${problems.length} problems:\n${problems.map((p) => `  - ${p}`).join('\n')}`}`);
    this.name = 'InvalidDeviceConfig';
  }
}

function issueText(issue: z.core.$ZodIssue): string {
  const where = issue.path.map(String).join('.');
  // Our messages name their field already; zod's generic ones ("Invalid input") get the path.
  const msg = issue.code === 'unrecognized_keys' ? `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')} (remove ${issue.keys.length > 1 ? 'them' : 'it'}; see /usr/share/doc/edgeship-device/device.example.json)` : issue.message;
  return where && !msg.startsWith(where) ? `${where}: ${msg}` : msg;
}

/** Validates a parsed device.json; every problem, or the config with defaults applied. */
export function parseDeviceConfig(raw: unknown, file = DEFAULT_DEVICE_CONFIG): DeviceConfig {
  const parsed = DeviceConfigSchema.safeParse(raw);
  if (!parsed.success) throw new DeviceConfigError(file, parsed.error.issues.map(issueText));
  return parsed.data;
}

export function loadDeviceConfig(file = deviceConfigPath()): DeviceConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const fix = code === 'ENOENT' ? `create it from /usr/share/doc/edgeship-device/device.example.json` : code === 'EACCES' ? 'it must be readable by the edgeship group: chgrp edgeship and chmod 0640 it' : '';
    throw new DeviceConfigError(file, [`cannot read it (${code ?? (err as Error).message})${fix ? `: ${fix}` : ''}`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new DeviceConfigError(file, [`not valid JSON (${(err as Error).message}): fix the syntax`]);
  }
  return parseDeviceConfig(raw, file);
}

const urlHost = (host: string): string => (host.includes(':') ? `[${host}]` : host);

/** The runtime's base URL, from which /healthz and /infer derive. */
export function runtimeBaseUrl(c: DeviceConfig): string {
  return `http://${urlHost(c.runtime.host)}:${c.runtime.port}`;
}

/** What the edge activities need, built from the device's own config. */
export function edgeDeviceOf(c: DeviceConfig): EdgeDevice {
  const base = runtimeBaseUrl(c);
  return {
    id: c.id,
    target: c.target,
    modelDir: c.modelDir,
    healthUrl: `${base}/healthz`,
    inferenceUrl: `${base}/infer`,
    keepBackups: c.keepBackups,
    restartCommand: c.restart.method === 'command' ? c.restart.argv : null,
  };
}

/** Every file the config names, with the field that names it. */
export function referencedFiles(c: DeviceConfig): { field: string; file: string }[] {
  const t = c.temporal;
  const out: { field: string; file: string }[] = [];
  if (t.tls?.clientCertFile) out.push({ field: 'temporal.tls.clientCertFile', file: t.tls.clientCertFile });
  if (t.tls?.clientKeyFile) out.push({ field: 'temporal.tls.clientKeyFile', file: t.tls.clientKeyFile });
  if (t.tls?.serverCaFile) out.push({ field: 'temporal.tls.serverCaFile', file: t.tls.serverCaFile });
  if (t.apiKeyFile) out.push({ field: 'temporal.apiKeyFile', file: t.apiKeyFile });
  if (t.configFile) out.push({ field: 'temporal.configFile', file: t.configFile });
  c.trust.publicKeyFiles.forEach((file, i) => out.push({ field: `trust.publicKeyFiles[${i}]`, file }));
  return out;
}

/** The files the config names that this process cannot read, each with its fix. */
export function unreadableFiles(c: DeviceConfig): string[] {
  const problems: string[] = [];
  for (const { field, file } of referencedFiles(c)) {
    try {
      const text = readFileSync(file, 'utf8');
      if (text.trim().length === 0) problems.push(`${field}: ${file} is empty`);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push(`${field}: cannot read ${file} (${code ?? (err as Error).message}): ${code === 'EACCES' ? 'make it readable by group edgeship (chgrp edgeship, chmod 0640)' : 'put the file there or fix the path'}`);
    }
  }
  return problems;
}
