// npm run bench:device-memory [-- --seconds 5 --deb <file>]
// Peak RSS (VmHWM) of the PACKAGED runtime and edge worker, natively on this machine (amd64): the
// amd64 .deb (built when missing or stale: packaging/build/cachedDeb.ts) is extracted with
// dpkg-deb and each process is started with its unit's ExecStart (/usr/bin/edgeship-device
// runtime|worker, plain node), configured by a device.json only, against a Temporal dev server.
// The runtime serves the demo model under a concurrency-8 load, then reloads to a second model
// (both loaded for a moment) and is loaded again; the worker performs that swap (edgeSwapProbe:
// swapModel + discardStaged through Temporal). For comparison, the same runtime from the source
// tree under tsx (`node --import tsx edge/cli.ts`) with the same model and load. Prints figures;
// asserts nothing.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from '@temporalio/worker';
import { waitForServedSha } from '../activities/edge/health';
import { LoadClient, measureConcurrent } from '../activities/edge/loadTest';
import { PROJECT_ROOT } from '../lib/paths';
import { ensureDevicePackage, extractPackage, unitCommand } from '../packaging/build/cachedDeb';
import { buildTestModels } from '../test/helpers/edgeModels';
import { quietSdkLogs, startTestTemporal } from '../test/helpers/temporalEnv';
import type { EdgeProbeResult } from '../test/fixtures/workflows/probes';
import { resolveBenchModel, type BenchModel } from './edge/modelSource';
import { freePort } from '../sim/net';
import { readProcMemory } from '../sim/memory';

const mib = (kib: number | undefined): string => (kib === undefined ? 'n/a' : `${(kib / 1024).toFixed(1)} MiB`);

function waitFor(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${seen.slice(-2000)}`)), timeoutMs);
    const on = (c: Buffer): void => {
      seen += c.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before ${pattern}:\n${seen.slice(-2000)}`));
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function load(url: string, model: BenchModel, seconds: number): Promise<number> {
  const bodies = model.metadata.probes.map((p) => Buffer.from(JSON.stringify({ x: p.window })));
  const client = new LoadClient(8);
  const r = await measureConcurrent(client, `${url}/infer`, bodies.length > 0 ? bodies : [Buffer.from(JSON.stringify({ x: Array.from({ length: 100 }, () => model.metadata.normalization.mean) }))], 8, seconds * 1000);
  return r.rps;
}

async function stageRelease(modelDir: string, m: { path: string; metadataPath: string }, sha256: string, into: 'releases' | 'staging'): Promise<string> {
  const file = path.join(modelDir, into, `${sha256}.onnx`);
  await copyFile(m.path, file);
  await copyFile(m.metadataPath, `${file}.meta.json`);
  return file;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, deb: { type: 'string' } }, strict: true });
  const seconds = Number(values.seconds);
  if (!(seconds >= 1 && seconds <= 600)) throw new Error(`--seconds must be 1-600, got ${values.seconds}`);
  if (values.deb) process.env.EDGESHIP_DEVICE_DEB = path.resolve(values.deb);
  quietSdkLogs();
  const deb = ensureDevicePackage('amd64', (l) => process.stderr.write(`${l}\n`));
  const work = await mkdtemp(path.join(os.tmpdir(), 'edgeship-bench-device-'));
  const children: ChildProcess[] = [];
  const env = await startTestTemporal();
  try {
    const root = extractPackage(deb, work);
    const first = await resolveBenchModel(undefined);
    const second = (await buildTestModels('tcn', ['good'])).good;
    if (!second) throw new Error('could not build the second model');
    const modelDir = path.join(work, 'models');
    for (const d of ['releases', 'staging', 'backups']) await mkdir(path.join(modelDir, d), { recursive: true });
    await stageRelease(modelDir, first, first.metadata.sha256, 'releases');
    await symlink(path.join('releases', `${first.metadata.sha256}.onnx`), path.join(modelDir, 'current'));
    const port = await freePort();
    const config = path.join(work, 'device.json');
    await writeFile(config, JSON.stringify({ id: 'bench-dev', target: 'cpu-fp32', modelDir, runtime: { host: '127.0.0.1', port }, restart: { method: 'self-reload' }, temporal: { address: env.address, namespace: 'default' } }));
    const start = (unit: string): ChildProcess => {
      const { argv: [cmd, ...args], env: unitEnv } = unitCommand(root, unit);
      const child = spawn(cmd, args, { env: { PATH: '/usr/bin:/bin', ...unitEnv, EDGESHIP_DEVICE_CONFIG: config }, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      return child;
    };
    const url = `http://127.0.0.1:${port}`;

    const runtime = start('edgeship-runtime.service');
    await waitForServedSha({ healthUrl: `${url}/healthz`, sha256: first.metadata.sha256, timeoutMs: 120_000 });
    const worker = start('edgeship-edge-worker.service');
    await waitFor(worker, /edge worker polling/, 120_000);
    const rtIdle = readProcMemory(runtime.pid as number);
    const wkIdle = readProcMemory(worker.pid as number);
    const rpsBefore = await load(url, first, seconds);

    await stageRelease(modelDir, second, second.sha256, 'staging');
    const probe = await Worker.create({ connection: env.nativeConnection, taskQueue: 'bench-device-memory', workflowsPath: require.resolve('../test/fixtures/workflows/probes') });
    const swapped = await probe.runUntil(env.client.workflow.execute('edgeSwapProbe', { taskQueue: 'bench-device-memory', workflowId: `bench-device-memory-${Date.now()}`, args: ['bench-dev', { deploymentId: 'deploy-bench-memory', runId: 'run-1', sha256: second.sha256, ext: 'onnx', healthTimeoutMs: 120_000 }] }) as Promise<EdgeProbeResult>);
    if (!swapped.ok) throw new Error(`the swap failed: ${swapped.message}`);
    const rpsAfter = await load(url, first, seconds);
    const rt = readProcMemory(runtime.pid as number);
    const wk = readProcMemory(worker.pid as number);
    await stop(worker);
    await stop(runtime);

    // The same runtime from the source tree under tsx, same model and load, for comparison.
    const tsxRuntime = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'edge', 'cli.ts'), '--model-dir', modelDir, '--port', String(port), '--device', 'bench-dev'], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(tsxRuntime);
    await waitForServedSha({ healthUrl: `${url}/healthz`, sha256: second.sha256, timeoutMs: 120_000 });
    const rpsTsx = await load(url, first, seconds);
    const ts = readProcMemory(tsxRuntime.pid as number);
    await stop(tsxRuntime);

    const cpu = /^model name\s*:\s*(.+)$/m.exec(await import('node:fs').then((fs) => fs.readFileSync('/proc/cpuinfo', 'utf8')))?.[1] ?? os.arch();
    console.log(`device package ${path.basename(deb)} on ${cpu}, ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, node ${process.versions.node}`);
    console.log(`model: ${first.origin} → swapped to the TCN test model ${second.sha256.slice(0, 12)} (swap ${swapped.swap.healthyAfterMs} ms until /healthz named it)`);
    console.log(`load: concurrency 8 for ${seconds} s before and after the swap (${rpsBefore.toFixed(0)} / ${rpsAfter.toFixed(0)} req/s); tsx runtime ${rpsTsx.toFixed(0)} req/s`);
    console.log('process                                   VmHWM (peak RSS)   VmRSS at the end   VmRSS idle (worker polling, before load)');
    console.log(`packaged runtime (edgeship-runtime.service)     ${mib(rt?.hwmKiB).padStart(10)}        ${mib(rt?.rssKiB).padStart(10)}        ${mib(rtIdle?.rssKiB)}`);
    console.log(`packaged edge worker (edgeship-edge-worker)     ${mib(wk?.hwmKiB).padStart(10)}        ${mib(wk?.rssKiB).padStart(10)}        ${mib(wkIdle?.rssKiB)}`);
    console.log(`source runtime under tsx (for comparison)       ${mib(ts?.hwmKiB).padStart(10)}        ${mib(ts?.rssKiB)}`);
  } finally {
    await Promise.all(children.map((c) => stop(c)));
    await env.teardown();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`bench:device-memory: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
