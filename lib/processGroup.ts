// Subprocesses of the activities (the ml/ tools, a user's export command, a restart command) run in their own
// process group, so that cancelling the activity stops everything they started: a shell script's
// `python export.py`, a compiler's helper processes. Killing only the direct child would leave the
// grandchildren running and holding the stdout/stderr pipes open, and the activity would wait for
// them (its 'close' never comes) long after Temporal cancelled it.
import type { ChildProcess } from 'node:child_process';

export const KILL_GRACE_MS = 5000;

export interface GroupExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The process could not be started (ENOENT, EACCES…). */
  error?: NodeJS.ErrnoException;
}

/** Sends `sig` to the child's whole process group (the child must be spawned with detached: true). */
export function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    // The group is gone already (ESRCH); the child alone may still be there.
    try {
      child.kill(sig);
    } catch {
      // already reaped
    }
  }
}

/**
 * Resolves when the child has exited and its pipes are closed. Aborting `signal` sends SIGTERM
 * to the whole group, then SIGKILL after `graceMs`. When the child itself exits, whatever it
 * left running in its group is stopped the same way, so the pipes close and nothing keeps
 * writing into a work directory that is about to be removed.
 */
export function waitForGroup(child: ChildProcess, opts: { signal?: AbortSignal; graceMs?: number } = {}): Promise<GroupExit> {
  const graceMs = opts.graceMs ?? KILL_GRACE_MS;
  return new Promise<GroupExit>((resolve) => {
    let escalation: NodeJS.Timeout | undefined;
    let settled = false;
    const terminate = (): void => {
      killGroup(child, 'SIGTERM');
      escalation ??= setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
    };
    const onAbort = (): void => terminate();
    const finish = (result: GroupExit): void => {
      if (settled) return;
      settled = true;
      if (escalation) clearTimeout(escalation);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(result);
    };
    child.once('error', (error: NodeJS.ErrnoException) => finish({ code: null, signal: null, error }));
    child.once('exit', () => {
      if (child.pid !== undefined) terminate();
    });
    child.once('close', (code, sig) => finish({ code, signal: sig }));
    if (opts.signal?.aborted) terminate();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
