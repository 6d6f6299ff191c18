// The runtime as the device runs it (a child process via the CLI), so its memory is its own and
// /proc/<pid>/status gives the true peak RSS (VmHWM).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../../common/paths';

export interface RuntimeChild {
  url: string;
  pid: number;
  stop(): Promise<number | null>;
}

export async function startRuntimeChild(modelDir: string, deviceId: string): Promise<RuntimeChild> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'edge', 'cli.ts'), '--model-dir', modelDir, '--port', '0', '--device', deviceId], {
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
