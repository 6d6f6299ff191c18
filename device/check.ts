// `edgeship-device check`: is this device ready, line by line, each failure with its fix:
// the config is valid and its files readable; the model directory is writable by the service
// user and staging/ is open to the deploy group; Temporal answers with these credentials; the
// edge worker polls its queue; the runtime answers /healthz. Exit 0 when every line is ok.
import { accessSync, constants, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { ConnectionConfigError } from '../lib/connectionConfig';
import { edgeTaskQueue } from '../common/queues';
import { probeHealth } from '../activities/edge/health';
import { edgeDeviceOf, loadDeviceConfig, unreadableFiles, DeviceConfigError, type DeviceConfig } from './config';
import { resolveDeviceConnection } from './connection';
import { canSearchDir, canWriteDir, lookupUser, SERVICE_USER, type UnixUser } from './serviceUser';
import { describeTemporalFailure } from './temporalProblem';
import { describeTrust } from './trust';

export interface CheckLine {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

export function formatLine(l: CheckLine): string {
  return `${l.ok ? 'ok  ' : 'FAIL'}  ${l.name.padEnd(9)} ${l.detail}${l.fix ? ` — fix: ${l.fix}` : ''}`;
}

/** The user whose rights matter: the service user when run as root, else whoever runs check. */
function evaluatedUser(): UnixUser | { name: string; current: true } {
  if (process.getuid?.() === 0) {
    const u = lookupUser(SERVICE_USER);
    if (u) return u;
  }
  return { name: os.userInfo().username, current: true };
}

export function checkModelDir(c: DeviceConfig, who: UnixUser | { name: string; current: true } = evaluatedUser()): CheckLine {
  const problems: string[] = [];
  const chown = `chown ${SERVICE_USER}:${SERVICE_USER}`;
  for (const sub of ['', 'releases', 'backups', 'staging']) {
    const dir = sub ? path.join(c.modelDir, sub) : c.modelDir;
    let st;
    try {
      st = statSync(dir);
    } catch (err) {
      problems.push(`${dir} ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(err as NodeJS.ErrnoException).code})`}`);
      continue;
    }
    if (!st.isDirectory()) {
      problems.push(`${dir} is not a directory`);
      continue;
    }
    const writable = 'current' in who ? accessible(dir) : canWriteDir(who, st) && canSearchDir(who, st);
    if (!writable) problems.push(`${dir} is not writable by ${who.name}`);
    if (sub === 'staging' && ((st.mode & 0o2070) !== 0o2070)) problems.push(`${dir} is not setgid and group-writable (mode ${(st.mode & 0o7777).toString(8)}): the deploy user cannot stage`);
  }
  if (problems.length === 0) return { name: 'model dir', ok: true, detail: `${c.modelDir} (releases/, backups/, staging/) writable by ${who.name}; staging/ open to the ${SERVICE_USER} group` };
  return { name: 'model dir', ok: false, detail: problems.join('; '), fix: `mkdir -p ${c.modelDir}/{releases,backups,staging} && ${chown} -R ${c.modelDir} && chmod 0750 ${c.modelDir} ${c.modelDir}/releases ${c.modelDir}/backups && chmod 2775 ${c.modelDir}/staging (the package's postinst does this for the default directory)` };
}

function accessible(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms (timed out)`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export async function checkTemporal(c: DeviceConfig, timeoutMs: number): Promise<CheckLine[]> {
  let resolved;
  try {
    resolved = resolveDeviceConnection(c);
  } catch (err) {
    if (!(err instanceof ConnectionConfigError)) throw err;
    return [{ name: 'temporal', ok: false, detail: err.message, fix: 'fix the temporal section of the config' }];
  }
  const how = `${resolved.address} namespace ${resolved.namespace}${resolved.tls ? ', TLS' : ''}${c.temporal.tls?.clientCertFile ? ' with client certificate' : ''}${c.temporal.apiKeyFile ? ' with API key' : ''}`;
  let connection: NativeConnection;
  try {
    connection = await withTimeout(NativeConnection.connect(resolved.options), timeoutMs, 'connect');
  } catch (err) {
    const line = describeTemporalFailure(err, c, resolved.address);
    const at = line.lastIndexOf('): ');
    return [{ name: 'temporal', ok: false, detail: at > 0 ? line.slice(0, at + 1) : line, fix: at > 0 ? line.slice(at + 3) : undefined }];
  }
  try {
    try {
      await withTimeout(connection.workflowService.describeNamespace({ namespace: resolved.namespace }), timeoutMs, 'describeNamespace');
    } catch (err) {
      const line = describeTemporalFailure(err, c, resolved.address);
      const at = line.lastIndexOf('): ');
      return [{ name: 'temporal', ok: false, detail: at > 0 ? line.slice(0, at + 1) : line, fix: at > 0 ? line.slice(at + 3) : undefined }];
    }
    const lines: CheckLine[] = [{ name: 'temporal', ok: true, detail: `${how}: reachable, credentials accepted` }];
    const taskQueue = edgeTaskQueue(c.id);
    const queue = await withTimeout(connection.workflowService.describeTaskQueue({ namespace: resolved.namespace, taskQueue: { name: taskQueue }, taskQueueType: 2 /* ACTIVITY */ }), timeoutMs, 'describeTaskQueue');
    const pollers = (queue.pollers ?? []).map((p) => p.identity ?? '?');
    lines.push(pollers.length > 0
      ? { name: 'worker', ok: true, detail: `${taskQueue} is polled by ${pollers.join(', ')}` }
      : { name: 'worker', ok: false, detail: `nobody polls ${taskQueue} (in the last minutes)`, fix: 'systemctl status edgeship-edge-worker; journalctl -u edgeship-edge-worker' });
    return lines;
  } finally {
    await connection.close();
  }
}

export async function checkRuntime(c: DeviceConfig): Promise<CheckLine> {
  const { healthUrl } = edgeDeviceOf(c);
  const obs = await probeHealth(healthUrl, 3000);
  const service = c.restart.method === 'self-reload' ? 'systemctl status edgeship-runtime; journalctl -u edgeship-runtime' : 'start the runtime your restart command manages (docker compose ps)';
  if (obs.status === null) return { name: 'runtime', ok: false, detail: `${healthUrl} ${obs.reason ?? 'unreachable'}`, fix: service };
  if (obs.healthy) return { name: 'runtime', ok: true, detail: `${healthUrl} serves ${obs.sha256Prefix ?? '(no sha reported)'}` };
  if (/no model installed/.test(obs.reason ?? '')) return { name: 'runtime', ok: true, detail: `${healthUrl} answers; no model installed yet (the first deployment installs one)` };
  return { name: 'runtime', ok: false, detail: `${healthUrl} answers ${obs.status}: ${obs.reason ?? ''}`, fix: `${service}; a model that cannot load is restored by the pipeline's compensation, or redeploy` };
}

export interface CheckOptions {
  configFile: string;
  timeoutMs?: number;
  write?: (line: string) => void;
}

/** Runs every check, prints each line, and returns the exit code (0 ok, 1 a check failed, 2 bad config). */
export async function runCheck(opts: CheckOptions): Promise<number> {
  const write = opts.write ?? ((l: string) => process.stdout.write(`${l}\n`));
  let config: DeviceConfig;
  try {
    config = loadDeviceConfig(opts.configFile);
  } catch (err) {
    if (!(err instanceof DeviceConfigError)) throw err;
    for (const p of err.problems) write(formatLine({ name: 'config', ok: false, detail: `${opts.configFile}: ${p}` }));
    write('skipped   the other checks need a valid config');
    return 2;
  }
  const lines: CheckLine[] = [{ name: 'config', ok: true, detail: `${opts.configFile}: device ${config.id}, target ${config.target}, restart ${config.restart.method}` }];
  const unreadable = unreadableFiles(config);
  lines.push(unreadable.length === 0 ? { name: 'files', ok: true, detail: 'every file the config names is readable' } : { name: 'files', ok: false, detail: unreadable.join('; ') });
  lines.push({ name: 'trust', ...(unreadable.length === 0 ? describeTrust(config) : { ok: false, detail: 'see files' }) });
  lines.push(checkModelDir(config));
  for (const l of lines) write(formatLine(l));
  const later: CheckLine[] = [];
  if (unreadable.length === 0) later.push(...(await checkTemporal(config, opts.timeoutMs ?? 10_000)));
  else later.push({ name: 'temporal', ok: false, detail: 'not tried: the config names files this user cannot read', fix: 'see the files line' });
  later.push(await checkRuntime(config));
  for (const l of later) write(formatLine(l));
  return [...lines, ...later].every((l) => l.ok) ? 0 : 1;
}
