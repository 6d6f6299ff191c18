// How much one simulated device's inference runtime costs, per way of starting it:
//   npx tsx bench/runtime-memory.ts --model <file.onnx> [--requests 50] [--repeat 2]
// Starts each variant alone (the model installed in a scratch model directory, its .meta.json
// beside it), waits for the model to be ready, sends --requests single-window /infer requests,
// then 3 s of requests at concurrency 8 (validateDeployment's throughput check; the machine's
// other load shows in it), then reads VmRSS / VmHWM / Pss from /proc. Variants: the tsx loader (`--import tsx`, an ESM
// loader thread, vs `--require tsx/cjs`), inference workers (1 = the default pool of one worker
// thread with its own session; 0 = the session on the event loop), and onnxruntime's CPU memory
// arena off (a preload wraps InferenceSession.create; measured here only, the runtime does not
// offer it as a flag).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../lib/paths';
import { installBaseline } from '../sim/baseline';
import { readProcMemory, mib } from '../sim/memory';
import { freePort, waitForPort } from '../sim/net';

interface Variant {
  name: string;
  loader: string[];
  runtimeArgs: string[];
  noArena?: boolean;
  env?: Record<string, string>;
}

const NO_ARENA_PRELOAD = `
const ort = require(require.resolve('onnxruntime-node', { paths: [${JSON.stringify(PROJECT_ROOT)}] }));
const create = ort.InferenceSession.create.bind(ort.InferenceSession);
ort.InferenceSession.create = (a, b, c, d) => {
  if (b && typeof b === 'object' && !ArrayBuffer.isView(b) && !(b instanceof ArrayBuffer)) return create(a, { ...b, enableCpuMemArena: false }, c, d);
  if (c && typeof c === 'object') return create(a, b, { ...c, enableCpuMemArena: false }, d);
  return create(a, { enableCpuMemArena: false });
};
`;

const VARIANTS: Variant[] = [
  { name: '--import tsx, 1 inference worker (default)', loader: ['--import', 'tsx'], runtimeArgs: [] },
  { name: '--require tsx/cjs, 1 inference worker', loader: ['--require', 'tsx/cjs'], runtimeArgs: [] },
  { name: '--import tsx, 0 inference workers', loader: ['--import', 'tsx'], runtimeArgs: ['--inference-workers', '0'] },
  { name: '--require tsx/cjs, 0 inference workers', loader: ['--require', 'tsx/cjs'], runtimeArgs: ['--inference-workers', '0'] },
  { name: '--require tsx/cjs, 0 workers, arena off', loader: ['--require', 'tsx/cjs'], runtimeArgs: ['--inference-workers', '0'], noArena: true },
  { name: '--require tsx/cjs, 0 workers, MALLOC_ARENA_MAX=2', loader: ['--require', 'tsx/cjs'], runtimeArgs: ['--inference-workers', '0'], env: { MALLOC_ARENA_MAX: '2' } },
  { name: '--require tsx/cjs, 0 workers, --max-semi-space-size=1', loader: ['--max-semi-space-size=1', '--require', 'tsx/cjs'], runtimeArgs: ['--inference-workers', '0'] },
];

async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms`);
}

/** Requests per second over `ms` with `concurrency` requests in flight (as validateDeployment's throughput check). */
async function throughput(url: string, body: string, concurrency: number, ms: number): Promise<number> {
  const end = Date.now() + ms;
  let done = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < end) {
      const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      await res.arrayBuffer();
      if (res.ok) done++;
    }
  }));
  return done / (ms / 1000);
}

async function measure(v: Variant, modelDir: string, requests: number, preload: string): Promise<{ rss: number; hwm: number; pss: number; rps: number }> {
  const port = await freePort();
  const args = [...v.loader, ...(v.noArena ? ['--require', preload] : []), 'edge/cli.ts', '--model-dir', modelDir, '--port', String(port), ...v.runtimeArgs];
  const child = spawn(process.execPath, args, { cwd: PROJECT_ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...v.env } });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  try {
    if (!(await waitForPort(port, 30_000, () => child.exitCode === null))) throw new Error(`runtime did not listen: ${stderr.slice(-1500)}`);
    await waitReady(`http://127.0.0.1:${port}/healthz`, 30_000);
    const x = Array.from({ length: 100 }, (_, t) => Array.from({ length: 9 }, (_, c) => Math.sin(t / 7 + c)));
    const body = JSON.stringify({ x });
    for (let i = 0; i < requests; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/infer`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      if (!res.ok) throw new Error(`infer ${res.status}: ${await res.text()}`);
      await res.arrayBuffer();
    }
    const rps = await throughput(`http://127.0.0.1:${port}/infer`, body, 8, 3000);
    await new Promise((r) => setTimeout(r, 500));
    const m = readProcMemory(child.pid!);
    if (!m) throw new Error('runtime gone');
    return { rss: m.rssKiB, hwm: m.hwmKiB, pss: m.pssKiB ?? m.rssKiB, rps };
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { model: { type: 'string' }, requests: { type: 'string', default: '50' }, repeat: { type: 'string', default: '2' } } });
  if (!values.model) throw new Error('--model <file.onnx> is required (its .meta.json beside it)');
  const work = mkdtempSync(path.join(tmpdir(), 'edgeship-runtime-memory-'));
  try {
    const modelDir = path.join(work, 'model');
    for (const d of ['releases', 'staging', 'backups']) mkdirSync(path.join(modelDir, d), { recursive: true });
    installBaseline(modelDir, { modelPath: path.resolve(values.model), metadataPath: `${path.resolve(values.model)}.meta.json` });
    const preload = path.join(work, 'no-arena.cjs');
    writeFileSync(preload, NO_ARENA_PRELOAD);
    process.stdout.write(`model ${values.model}; ${values.requests} requests each; best of ${values.repeat} runs (lowest VmHWM)\n`);
    for (const v of VARIANTS) {
      let best: { rss: number; hwm: number; pss: number; rps: number } | undefined;
      for (let i = 0; i < Number(values.repeat); i++) {
        const m = await measure(v, modelDir, Number(values.requests), preload);
        if (!best || m.hwm < best.hwm) best = m;
      }
      process.stdout.write(`  ${v.name.padEnd(56)} VmHWM ${mib(best!.hwm).padStart(8)}  VmRSS ${mib(best!.rss).padStart(8)}  Pss ${mib(best!.pss).padStart(8)}  ${best!.rps.toFixed(0).padStart(5)} req/s at concurrency 8\n`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`runtime-memory: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
