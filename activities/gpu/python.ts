// Runs an ml/ tool with the project venv's Python: one JSON request on stdin, one JSON answer on
// stdout, progress lines on stderr. Exit 2 carries a typed, known bad input (non-retryable);
// any other failure is a crash that a retry may get past (OOM kill, worker shutdown).
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType, type ErrorTypeName } from '../../common/errors';
import { ML_DIR, pythonExecutable } from '../../lib/paths';
import { KILL_GRACE_MS, waitForGroup } from '../../lib/processGroup';

export interface PythonToolOptions {
  /** Each stderr line as it arrives (the activities heartbeat with them). */
  onProgress?: (line: string) => void;
  /** Aborting kills the tool (activity cancellation). */
  signal?: AbortSignal;
  python?: string;
  env?: NodeJS.ProcessEnv;
  /** SIGTERM to SIGKILL on cancellation. */
  killGraceMs?: number;
}

export interface PythonExit {
  script: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderrTail: string[];
}

const SCRIPT_NAME = /^[a-z][a-z0-9_]*\.py$/;
const KNOWN_TYPES = new Set<string>(Object.values(ErrorType));
const STDERR_TAIL_LINES = 30;

export function pythonMissing(python: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `the project's Python environment is missing (${python} is not an executable). Run \`npm run setup\` (creates .venv with ml/requirements.txt) or set EDGESHIP_PYTHON.`,
    ErrorType.PythonEnvironmentMissing,
  );
}

/** Turns a finished tool run into its answer or a typed failure. Pure, so it is unit-tested. */
export function interpretPythonExit<T>(exit: PythonExit): T {
  const lastLine = exit.stdout.trim().split('\n').pop() ?? '';
  const tail = exit.stderrTail.slice(-8).join('\n');
  if (exit.code === 0) {
    try {
      return JSON.parse(lastLine) as T;
    } catch {
      throw ApplicationFailure.retryable(`${exit.script} exited 0 without a JSON answer on stdout: ${lastLine.slice(0, 200)}\n${tail}`, ErrorType.PythonToolFailed);
    }
  }
  if (exit.code === 2) {
    let parsed: { error?: { type?: unknown; message?: unknown; details?: unknown } } | undefined;
    try {
      parsed = JSON.parse(lastLine);
    } catch {
      parsed = undefined;
    }
    const err = parsed?.error;
    if (err && typeof err.type === 'string' && KNOWN_TYPES.has(err.type) && typeof err.message === 'string') {
      return throwTyped(err.type as ErrorTypeName, err.message, err.details);
    }
  }
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
  throw ApplicationFailure.retryable(`${exit.script} ${how}${tail ? `; last stderr lines:\n${tail}` : ''}`, ErrorType.PythonToolFailed);
}

function throwTyped(type: ErrorTypeName, message: string, details: unknown): never {
  // Exit 2 means the tool recognised the input as bad: the same input fails the same way again.
  throw ApplicationFailure.create({ type, message, nonRetryable: true, details: details === undefined ? undefined : [details] });
}

export async function runPythonTool<T>(script: string, request: unknown, opts: PythonToolOptions = {}): Promise<T> {
  if (!SCRIPT_NAME.test(script)) throw new Error(`not an ml/ tool name: ${script}`);
  const python = opts.python ?? pythonExecutable();
  try {
    accessSync(python, constants.X_OK);
  } catch {
    throw pythonMissing(python);
  }
  opts.signal?.throwIfAborted();

  const child = spawn(python, [path.join(ML_DIR, script)], {
    cwd: ML_DIR,
    stdio: ['pipe', 'pipe', 'pipe'],
    // Its own process group, so a cancellation also stops what the tool started (DFC helpers).
    detached: true,
    env: { ...process.env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1', ...opts.env },
  });

  const stdoutChunks: Buffer[] = [];
  const stderrTail: string[] = [];
  let partial = '';
  child.stdout.on('data', (c: Buffer) => stdoutChunks.push(c));
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
  const onLine = (line: string): void => {
    if (!line.trim()) return;
    stderrTail.push(line);
    if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.shift();
    opts.onProgress?.(line);
  };

  // A tool that dies before reading stdin makes the write fail with EPIPE; its exit tells why.
  child.stdin.on('error', () => undefined);
  child.stdin.end(JSON.stringify(request));

  const { code, signal, error } = await waitForGroup(child, { signal: opts.signal, graceMs: opts.killGraceMs ?? KILL_GRACE_MS });
  if (error) throw error.code === 'ENOENT' || error.code === 'EACCES' ? pythonMissing(python) : error;
  if (partial) onLine(partial);
  opts.signal?.throwIfAborted();
  return interpretPythonExit<T>({ script, code, signal, stdout: Buffer.concat(stdoutChunks).toString('utf8'), stderrTail });
}
