// Runs the device's restart command: argv from the validated inventory, never a shell, bounded in
// time, heartbeating while it runs. A non-zero exit or a timeout is a retryable
// RestartCommandFailed (services often fail to restart once and succeed the next time); a command
// that does not exist or may not be executed is not, since no retry will make it appear.
import { spawn } from 'node:child_process';
import { ErrorType } from '../../common/errors';
import { cancellationSignal, heartbeat } from './activityContext';
import { edgeFailure } from './failures';
import { killGroup } from '../../lib/processGroup';

export interface RestartOptions {
  timeoutMs: number;
  deviceId?: string;
  heartbeatEveryMs?: number;
}

export interface RestartResult {
  durationMs: number;
  exitCode: number;
  stdoutTail: string;
  stderrTail: string;
}

const TAIL_BYTES = 4000;
/** After the command exits, how long its output pipes may stay open (a daemon it left behind). */
const PIPE_DRAIN_MS = 1000;
const KILL_GRACE_MS = 2000;

class Tail {
  private text = '';
  push(chunk: Buffer): void {
    this.text = (this.text + chunk.toString('utf8')).slice(-TAIL_BYTES);
  }
  toString(): string {
    return this.text.trim();
  }
}

export async function runRestartCommand(argv: readonly string[], opts: RestartOptions): Promise<RestartResult> {
  if (argv.length === 0) throw edgeFailure(ErrorType.InvalidInventory, 'the device has an empty restart command');
  const [cmd, ...args] = argv;
  const start = performance.now();
  const stdout = new Tail();
  const stderr = new Tail();
  const signal = cancellationSignal();
  // Its own process group, so that a timeout or a cancellation stops what the command started
  // too (a wrapper script's hung child), not just the command itself.
  const child = spawn(cmd, args, { shell: false, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.stdout.on('data', (c: Buffer) => stdout.push(c));
  child.stderr.on('data', (c: Buffer) => stderr.push(c));

  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  const signalGroup = (sig: NodeJS.Signals): void => killGroup(child, sig);
  const stop = (): void => {
    if (killTimer) return; // already stopping (a timeout, then a cancellation)
    signalGroup('SIGTERM');
    killTimer = setTimeout(() => signalGroup('SIGKILL'), KILL_GRACE_MS);
  };
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, opts.timeoutMs);
  const beat = setInterval(() => heartbeat({ deviceId: opts.deviceId, stage: 'restart', elapsedMs: Math.round(performance.now() - start) }), opts.heartbeatEveryMs ?? 1000);
  signal?.addEventListener('abort', stop, { once: true });

  type Outcome = { kind: 'exit'; code: number | null; sig: NodeJS.Signals | null } | { kind: 'error'; err: NodeJS.ErrnoException };
  let outcome: Outcome;
  try {
    outcome = await new Promise<Outcome>((resolve) => {
      child.once('error', (err: NodeJS.ErrnoException) => resolve({ kind: 'error', err }));
      child.once('exit', (code, sig) => {
        // Give the pipes a moment to deliver the last output, but do not wait for a daemon the
        // command may have left holding them.
        const drained = setTimeout(() => {
          child.stdout.destroy();
          child.stderr.destroy();
          resolve({ kind: 'exit', code, sig });
        }, PIPE_DRAIN_MS);
        child.once('close', () => {
          clearTimeout(drained);
          resolve({ kind: 'exit', code, sig });
        });
      });
    });
  } finally {
    clearTimeout(timer);
    // Once stopping, the SIGKILL still reaches the group after the grace period, even when the
    // command itself already exited and left a child that ignores SIGTERM; it keeps no one alive.
    killTimer?.unref();
    clearInterval(beat);
    signal?.removeEventListener('abort', stop);
  }

  const durationMs = Math.round(performance.now() - start);
  const details = { deviceId: opts.deviceId, argv: [...argv], durationMs, stderrTail: stderr.toString().slice(-1000), stdoutTail: stdout.toString().slice(-1000) };
  if (outcome.kind === 'error') {
    const missing = outcome.err.code === 'ENOENT' || outcome.err.code === 'EACCES';
    throw edgeFailure(ErrorType.RestartCommandFailed, `restart command ${cmd} could not be started: ${outcome.err.code ?? outcome.err.message}`, details, missing);
  }
  if (signal?.aborted) throw signal.reason as Error;
  if (timedOut) {
    throw edgeFailure(ErrorType.RestartCommandFailed, `restart command ${cmd} did not finish within ${opts.timeoutMs} ms (killed)`, details);
  }
  if (outcome.code !== 0) {
    const how = outcome.code === null ? `was killed by ${outcome.sig}` : `exited with ${outcome.code}`;
    throw edgeFailure(ErrorType.RestartCommandFailed, `restart command ${cmd} ${how}: ${details.stderrTail || '(no stderr)'}`, { ...details, exitCode: outcome.code, signal: outcome.sig });
  }
  return { durationMs, exitCode: 0, stdoutTail: stdout.toString(), stderrTail: stderr.toString() };
}

/**
 * The device's restart step of a swap or a restore: its restart command, or nothing at all for a
 * runtime that reloads by itself when `current` changes (the packaged device): the caller's wait
 * for /healthz to name the expected sha is then the whole proof, exactly as after a command.
 */
export async function restartRuntime(restartCommand: readonly string[] | null, opts: RestartOptions): Promise<RestartResult> {
  if (restartCommand === null) return { durationMs: 0, exitCode: 0, stdoutTail: '', stderrTail: '' };
  return runRestartCommand(restartCommand, opts);
}
