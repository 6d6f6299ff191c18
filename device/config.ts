// The device's own configuration, /etc/edgeship/device.json (EDGESHIP_DEVICE_CONFIG overrides the
// path, for tests): who this device is, where its models live, how its runtime is reached and
// restarted, how it connects to Temporal, and which release keys it trusts. It never holds the
// fleet inventory or an SSH key. Loading validates everything at once and lists every problem
// with its fix, so an operator edits the file once rather than once per error.
// Fields and example: docs/install-device.md, packaging/device.example.json.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { COMPILE_TARGETS } from '../common/contracts';
import { DEVICE_ID_PATTERN } from '../common/ids';
import type { EdgeDevice } from '../activities/edge/device';
import { array, boolean, literal, number, object, oneOf, optional, parse, pathText, string, tagged, withDefault, type Infer, type Issue } from '../edge/shape';

export const DEFAULT_DEVICE_CONFIG = '/etc/edgeship/device.json';
export const DEFAULT_MODEL_DIR = '/var/lib/edgeship/models';

export function deviceConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.EDGESHIP_DEVICE_CONFIG || DEFAULT_DEVICE_CONFIG;
}

// Same rules as the inventory's device paths: the GPU side quotes them into remote commands.
// `what` names the field in the messages; an array's items are named by their path instead.
const absolutePath = (what?: string) => {
  const named = (m: string): string => (what ? `${what} ${m}` : m);
  return string({
    typeMessage: what ? `${what}: an absolute path is required` : 'an absolute path is required',
    rules: [
      [(p) => path.posix.isAbsolute(p), named('must be an absolute path')],
      [(p) => /^[A-Za-z0-9._/@+-]+$/.test(p), named('may contain only letters, digits and . _ / @ + -')],
      [(p) => p === '/' || (path.posix.normalize(p) === p && !p.endsWith('/')), named('must be normalized (no "..", "//" or trailing "/")')],
    ],
  });
};

const restartSchema = tagged('method', {
  /** The packaged runtime follows `current` by itself: no command, no privilege. */
  'self-reload': object({ method: literal('self-reload') }, { strict: true }),
  /** argv run without a shell, e.g. docker compose -f /opt/edgeinfer/compose.yml restart edgeinfer. */
  command: object({
    method: literal('command'),
    argv: array(string({ min: 1 }), { min: 1, minMessage: 'restart.argv needs at least the program' }),
  }, {
    strict: true,
    refine: (r, report) => {
      if (r.argv.length > 0 && !path.posix.isAbsolute(r.argv[0])) report(['argv', 0], 'restart.argv[0] must be an absolute path (e.g. /usr/bin/docker): the service does not search PATH for it');
    },
  }),
}, 'restart.method must be "self-reload" (the packaged runtime) or "command" (with argv)');

const hostPort = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

const temporalSchema = object({
  address: optional(string({ pattern: hostPort, patternMessage: 'temporal.address must be host:port, e.g. temporal.example.com:7233' })),
  namespace: optional(string({ min: 1, max: 255 })),
  tls: optional(object({
    clientCertFile: optional(absolutePath('temporal.tls.clientCertFile')),
    clientKeyFile: optional(absolutePath('temporal.tls.clientKeyFile')),
    serverCaFile: optional(absolutePath('temporal.tls.serverCaFile')),
    serverName: optional(string({ min: 1, max: 253 })),
  }, { strict: true })),
  /** A file holding the API key (Temporal Cloud); the key itself never sits in device.json. */
  apiKeyFile: optional(absolutePath('temporal.apiKeyFile')),
  /** A profile of a temporal.toml (Temporal's envconfig), e.g. /etc/edgeship/temporal.toml. */
  profile: optional(string({ min: 1 })),
  configFile: optional(absolutePath('temporal.configFile')),
}, {
  strict: true,
  typeMessage: 'the Temporal connection is required, at least { "address": "temporal.example.com:7233" }',
  refine: (t, report) => {
    if (Boolean(t.tls?.clientCertFile) !== Boolean(t.tls?.clientKeyFile)) {
      report(['tls'], 'temporal.tls.clientCertFile and clientKeyFile go together (mTLS needs both): set both or neither');
    }
    if (!t.address && !t.configFile) report(['address'], 'temporal.address is required (or temporal.configFile with a profile that has one)');
    if (t.profile && !t.configFile) report(['profile'], 'temporal.profile needs temporal.configFile: the service user has no home directory to find a temporal.toml in');
  },
});

const trustSchema = object({
  publicKeyFiles: array(absolutePath(), { max: 32 }),
  requireSignatures: boolean(),
}, {
  strict: true,
  refine: (t, report) => {
    if (t.requireSignatures && t.publicKeyFiles.length === 0) report([], 'trust.requireSignatures is true but trust.publicKeyFiles is empty: add the release public key (/etc/edgeship/keys/<id>.pub)');
  },
});

export const DeviceConfigSchema = object({
  id: string({ typeMessage: 'id is required: the device id the GPU server enrolled (e.g. "pi-01")', pattern: DEVICE_ID_PATTERN, patternMessage: 'id: 1-63 lowercase letters, digits or dashes' }),
  target: oneOf(COMPILE_TARGETS, `target must be one of ${COMPILE_TARGETS.join(', ')}`),
  modelDir: withDefault(absolutePath('modelDir'), DEFAULT_MODEL_DIR),
  runtime: withDefault(object({
    host: withDefault(string({ max: 253, pattern: /^[A-Za-z0-9.:-]+$/, patternMessage: 'runtime.host: a host name or IP address' }), '127.0.0.1'),
    port: withDefault(number({ int: true, min: 1, max: 65535, typeMessage: 'runtime.port must be a number' }), 9000),
    inferenceWorkers: optional(number({ int: true, min: 0, max: 16 })),
    intraOpThreads: optional(number({ int: true, min: 1, max: 64 })),
  }, { strict: true }), {}),
  restart: withDefault(restartSchema, { method: 'self-reload' }),
  keepBackups: withDefault(number({ int: true, min: 1, max: 100 }), 3),
  temporal: temporalSchema,
  trust: withDefault(trustSchema, { publicKeyFiles: [], requireSignatures: false }),
}, { strict: true });

export type DeviceConfig = Infer<typeof DeviceConfigSchema>;

export class DeviceConfigError extends Error {
  constructor(readonly file: string, readonly problems: string[]) {
    super(`${file}: ${problems.length === 1 ? problems[0] : `${problems.length} problems:\n${problems.map((p) => `  - ${p}`).join('\n')}`}`);
    this.name = 'InvalidDeviceConfig';
  }
}

function issueText(issue: Issue): string {
  const where = pathText(issue.path);
  // Our messages name their field already; the generic ones ("must not be empty") get the path.
  const keys = issue.unknownKeys;
  const msg = keys ? `unknown field${keys.length > 1 ? 's' : ''} ${keys.join(', ')} (remove ${keys.length > 1 ? 'them' : 'it'}; see /usr/share/doc/edgeship-device/device.example.json)` : issue.message;
  return where && !msg.startsWith(where) ? `${where}: ${msg}` : msg;
}

/** Validates a parsed device.json; every problem, or the config with defaults applied. */
export function parseDeviceConfig(raw: unknown, file = DEFAULT_DEVICE_CONFIG): DeviceConfig {
  const parsed = parse(DeviceConfigSchema, raw);
  if (!parsed.ok) throw new DeviceConfigError(file, parsed.issues.map(issueText));
  return parsed.value;
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
