// Notices when `<modelDir>/current` names another file, so the runtime can reload by itself.
// This is how a packaged device swaps models without any restart privilege: the edge worker and
// the runtime both run as the unprivileged `edgeship` user under NoNewPrivileges=yes (no sudo, no
// systemctl), the worker moves `current` with an atomic rename, and the runtime picks it up here.
// Polling, not fs.watch: a rename over a symlink is reported unreliably by inotify (the watch is
// on the old inode), and polling one readlink + stat every half second costs nothing measurable.
import { lstat, readlink, stat } from 'node:fs/promises';
import * as path from 'node:path';

/** What `current` resolves to right now: the link text and the target's identity, or 'none'. */
export async function currentFingerprint(modelDir: string): Promise<string> {
  const link = path.join(modelDir, 'current');
  try {
    const l = await lstat(link);
    const text = l.isSymbolicLink() ? await readlink(link) : '(file)';
    const t = await stat(link);
    // ino + size + mtime: a release rewritten in place (never done by edgeship, but by a person)
    // counts as a change as well.
    return `${text}|${t.ino}|${t.size}|${t.mtimeMs}`;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'none';
    return `error:${code ?? (err as Error).message}`;
  }
}

export interface CurrentWatcher {
  stop(): void;
}

/**
 * Calls `onChange` whenever the fingerprint differs from the last one handled, one call at a
 * time: a change that happens while `onChange` runs is handled after it, against the latest state.
 */
export function watchCurrent(modelDir: string, initial: string, onChange: (fingerprint: string) => Promise<void>, intervalMs = 500): CurrentWatcher {
  let last = initial;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async (): Promise<void> => {
    const now = await currentFingerprint(modelDir);
    if (now !== last && !stopped) {
      last = now;
      await onChange(now);
    }
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      tick().then(schedule, schedule);
    }, intervalMs);
    timer.unref();
  };
  schedule();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
