// A local Temporal dev server (`temporal server start-dev`): persistent SQLite file, Web UI, and
// edgeship's search attributes registered. Reuses a Temporal server that already answers on the
// port instead of failing on "address in use" (and then only makes sure the attributes exist).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTE_REGISTRATIONS } from '../common/searchAttributes';
import { DEV_SERVER_FLAGS, findTemporalCli } from './temporalCli';

export interface DevServerOptions {
  /** SQLite file that keeps workflows across restarts. */
  dbFile: string;
  port?: number;
  uiPort?: number;
  ip?: string;
  namespace?: string;
  /** No Web UI. */
  headless?: boolean;
  /** Port of the server's Prometheus `/metrics` endpoint (default: none asked for). */
  metricsPort?: number;
  /** Server output goes here (default: <dbFile>.log). */
  logFile?: string;
  startTimeoutMs?: number;
}

export interface DevServer {
  address: string;
  namespace: string;
  /** null when headless (or when reusing a server whose UI is unknown to us). */
  uiUrl: string | null;
  /** True when a server was already answering and this call did not start one. */
  reused: boolean;
  pid?: number;
  logFile?: string;
  /** Resolves when the server this call started exits, however that happens. */
  exited?: Promise<number | null>;
  /** Stops the server this call started; for a reused server, only lets go of it. */
  stop(): Promise<void>;
}

const IVT = temporal.api.enums.v1.IndexedValueType;
const INDEXED_VALUE_TYPES: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  Text: IVT.INDEXED_VALUE_TYPE_TEXT,
  Keyword: IVT.INDEXED_VALUE_TYPE_KEYWORD,
  Int: IVT.INDEXED_VALUE_TYPE_INT,
  Double: IVT.INDEXED_VALUE_TYPE_DOUBLE,
  Bool: IVT.INDEXED_VALUE_TYPE_BOOL,
  Datetime: IVT.INDEXED_VALUE_TYPE_DATETIME,
  KeywordList: IVT.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

/** Connects and asks for system info: true only for a Temporal frontend. */
async function answersAsTemporal(address: string): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: '2s' });
    await connection.workflowService.getSystemInfo({});
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

function portInUse(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(1000);
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('timeout', () => { socket.destroy(); resolve(false); });
    socket.once('error', () => resolve(false));
  });
}

/** Registers edgeship's search attributes that a reused server lacks. */
async function ensureSearchAttributes(address: string, namespace: string): Promise<string[]> {
  const connection = await Connection.connect({ address, connectTimeout: '5s' });
  try {
    const existing = await connection.operatorService.listSearchAttributes({ namespace });
    const known = { ...existing.customAttributes, ...existing.systemAttributes };
    const missing = SEARCH_ATTRIBUTE_REGISTRATIONS.filter(([name]) => !(name in known));
    if (missing.length > 0) {
      await connection.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, INDEXED_VALUE_TYPES[type]])),
      });
    }
    return missing.map(([name]) => name);
  } finally {
    await connection.close();
  }
}

function logTail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => { clearTimeout(timer); resolve(true); });
  });
}

export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const ip = opts.ip ?? '127.0.0.1';
  const port = opts.port ?? 7233;
  const uiPort = opts.uiPort ?? 8233;
  const namespace = opts.namespace ?? 'default';
  // A server bound to all interfaces is reached through loopback.
  const host = ip === '0.0.0.0' ? '127.0.0.1' : ip;
  const address = `${host}:${port}`;
  const uiUrl = opts.headless ? null : `http://${ip === '0.0.0.0' ? 'localhost' : ip}:${uiPort}`;

  if (await portInUse(host, port)) {
    if (!(await answersAsTemporal(address))) throw new Error(`port ${port} on ${host} is taken by something that is not a Temporal server`);
    await ensureSearchAttributes(address, namespace);
    return { address, namespace, uiUrl: (await portInUse(host, uiPort)) ? uiUrl : null, reused: true, stop: async () => undefined };
  }

  const cli = findTemporalCli();
  const logFile = opts.logFile ?? `${opts.dbFile}.log`;
  mkdirSync(path.dirname(path.resolve(opts.dbFile)), { recursive: true });
  mkdirSync(path.dirname(path.resolve(logFile)), { recursive: true });
  const args = [
    'server', 'start-dev',
    '--db-filename', opts.dbFile,
    '--ip', ip,
    '--port', String(port),
    '--namespace', namespace,
    '--log-level', 'warn',
    ...DEV_SERVER_FLAGS,
    ...(opts.headless ? ['--headless'] : ['--ui-port', String(uiPort)]),
    ...(opts.metricsPort !== undefined ? ['--metrics-port', String(opts.metricsPort)] : []),
    ...SEARCH_ATTRIBUTE_REGISTRATIONS.flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
  ];
  const logFd = openSync(logFile, 'a');
  // Own process group, so stop() reaches everything the CLI starts and nothing else.
  const child = spawn(cli, args, { stdio: ['ignore', logFd, logFd], detached: true });
  closeSync(logFd);
  let exited = false;
  const exitedPromise = new Promise<number | null>((resolve) => child.once('exit', (code) => { exited = true; resolve(code); }));

  const stop = async (): Promise<void> => {
    if (exited || child.pid === undefined) return;
    process.kill(-child.pid, 'SIGTERM');
    if (!(await waitForExit(child, 15_000))) {
      process.kill(-child.pid, 'SIGKILL');
      await waitForExit(child, 5000);
    }
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  for (;;) {
    if (exited) throw new Error(`temporal server start-dev exited (code ${child.exitCode}); last log lines of ${logFile}:\n${logTail(logFile)}`);
    if (await answersAsTemporal(address)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the Temporal dev server did not answer on ${address} within ${opts.startTimeoutMs ?? 60_000} ms; log: ${logFile}\n${logTail(logFile)}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return { address, namespace, uiUrl, reused: false, pid: child.pid, logFile, exited: exitedPromise, stop };
}
