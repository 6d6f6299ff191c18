// The device runtime as a real process (`node --require tsx/cjs edge/cli.ts`, as a simulated
// device runs it) on a free loopback port, for tests that must see it answer, fail to serve, or
// go away. Unlike bench/edge/runtimeProcess.ts it does not insist on a healthy model: it
// waits until the load attempt has finished (200, or a 503 whose reason is not "model loading").
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../../lib/paths';

export interface RuntimeProcess {
  url: string;
  healthUrl: string;
  inferenceUrl: string;
  pid: number;
  /** Whether the process still runs. */
  running(): boolean;
  /** SIGTERM (graceful: in-flight requests finish) and wait for the exit; a no-op once exited. */
  stop(): Promise<void>;
}

export async function startRuntimeProcess(modelDir: string, deviceId: string, timeoutMs = 30_000): Promise<RuntimeProcess> {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', path.join(PROJECT_ROOT, 'edge', 'cli.ts'), '--model-dir', modelDir, '--port', '0', '--host', '127.0.0.1', '--device', deviceId], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) => child.once('exit', (code) => {
    exitCode = code;
    resolve();
  }));
  const stop = async (): Promise<void> => {
    if (exitCode === undefined) child.kill('SIGTERM');
    await exited;
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`runtime not listening within ${timeoutMs} ms: ${stderr}`)), timeoutMs);
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /^edgeship-runtime listening on (\S+)$/m.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`runtime exited (${String(exitCode)}) before listening: ${stderr}`));
      });
    });
    child.stdout.resume();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await fetch(`${url}/healthz`);
      const body = (await res.json()) as { reason?: string };
      if (res.status === 200 || body.reason !== 'model loading') break;
      if (Date.now() > deadline) throw new Error(`runtime still loading after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return { url, healthUrl: `${url}/healthz`, inferenceUrl: `${url}/infer`, pid: child.pid as number, running: () => exitCode === undefined, stop };
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw err;
  }
}
