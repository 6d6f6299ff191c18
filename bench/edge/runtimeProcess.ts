// The runtime as the device runs it (a child process via the CLI), so its memory is its own and
// /proc/<pid>/status gives the true peak RSS (VmHWM).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../../lib/paths';

export interface RuntimeChild {
  url: string;
  pid: number;
  stop(): Promise<number | null>;
}

/**
 * How node loads the TypeScript runtime: `import` is `node --import tsx`, what a simulated device
 * runs (its ESM hooks live on a loader thread of their own, about 20 MiB of RSS); `require` is
 * `node --require tsx/cjs`, the CommonJS hook on the main thread only.
 */
export type RuntimeLaunch = 'import' | 'require';

/** Starts `edge/cli.ts` as a device does (default `node --import tsx`), plus `extraArgs`. */
export async function startRuntimeChild(modelDir: string, deviceId: string, extraArgs: string[] = [], launch: RuntimeLaunch = 'import'): Promise<RuntimeChild> {
  const loader = launch === 'import' ? ['--import', 'tsx'] : ['--require', 'tsx/cjs'];
  const child: ChildProcess = spawn(process.execPath, [...loader, path.join(PROJECT_ROOT, 'edge', 'cli.ts'), '--model-dir', modelDir, '--port', '0', '--device', deviceId, ...extraArgs], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /^edgeship-runtime listening on (\S+)$/m.exec(out);
      if (m) resolve(m[1]);
    });
    void exited.then((code) => reject(new Error(`runtime exited (${code}) before listening: ${stderr}`)));
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await fetch(`${url}/healthz`).catch(() => undefined);
    if (res?.status === 200) break;
    const body = res ? await res.text() : 'no answer';
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`runtime never turned healthy: ${body}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    pid: child.pid as number,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** VmHWM (peak resident set) and VmRSS of a process, in bytes, from /proc. */
export async function memoryOf(pid: number): Promise<{ peakRssBytes: number; rssBytes: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (!m) throw new Error(`/proc/${pid}/status has no ${key}`);
    return Number(m[1]) * 1024;
  };
  return { peakRssBytes: kb('VmHWM'), rssBytes: kb('VmRSS') };
}

/**
 * CPU time (user + system, all threads) a process has used, in ms, from /proc/<pid>/stat. Per
 * request it is a figure that stays meaningful when other work shares the cores, unlike req/s.
 */
export async function cpuMsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15 (1-based).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLOCK_TICKS_PER_S;
}

/** USER_HZ: 100 on every Linux architecture Node supports (sysconf(_SC_CLK_TCK)). */
const CLOCK_TICKS_PER_S = 100;
