// `npm run bench:edge [-- --model <file.onnx>] [--duration-ms 5000] [--concurrency 8]
//   [--rounds 3] [--variants 1] [--open-rate 250] [--latency-requests 1000] [--transfer-runs 3]
//   [--launch import|require]`
// Prints, in one run, measured figures for the edge runtime. For each variant (a value of the
// runtime's --inference-workers: 0 runs the model on the event loop, N ≥ 1 in N worker threads),
// a runtime child process is started as a device starts it and measured for:
//   - single-stream latency over HTTP;
//   - closed-loop throughput at concurrency N, in `rounds` windows, each right after a window of
//     onnxruntime-node in process on the same model (the ceiling), so each ratio compares figures
//     taken under the same background load; the spread of the ratios is printed;
//   - open-loop latency at a fixed offered rate (from each request's scheduled send time, so a
//     stall is charged to every request behind it), with achieved rate, drops, late sends, errors;
//   - peak RSS (VmHWM of the runtime process from /proc/<pid>/status, after all of the above).
// Then the per-body parse cost (JSON.parse path vs the byte scanner) and SFTP push vs scp.
// Loopback only; bounded: every phase has a fixed count or duration, printed up front.
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { LatencyFigures } from '../common/contracts';
import { summarizeLatencies } from '../common/percentiles';
import { LoadClient, measureConcurrent, measureSequential } from '../activities/edge/loadTest';
import { runOpenLoop, type OpenLoopResult } from '../activities/edge/openLoop';
import { createNormalizer } from '../edge/requestParsing';
import { measureInProcess } from './edge/inProcess';
import { resolveBenchModel, type BenchModel } from './edge/modelSource';
import { measureParseCost } from './edge/parseCost';
import { cpuMsOf, memoryOf, startRuntimeChild, type RuntimeLaunch } from './edge/runtimeProcess';
import { measureTransfer } from './edge/transfer';

const ms = (v: number): string => `${v.toFixed(3)} ms`;
const mib = (b: number): string => `${(b / 1024 / 1024).toFixed(1)} MiB`;
const lat = (l: LatencyFigures): string => `p50 ${ms(l.p50)}  p90 ${ms(l.p90)}  p95 ${ms(l.p95)}  p99 ${ms(l.p99)}  max ${ms(l.max)}  (n=${l.count})`;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const pct = (v: number): string => `${(v * 100).toFixed(1)} %`;
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

async function deviceDir(model: BenchModel): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'edgeship-bench-device-'));
  await mkdir(path.join(dir, 'releases'));
  const release = path.join(dir, 'releases', `${model.metadata.sha256}.onnx`);
  await copyFile(model.path, release);
  await copyFile(model.metadataPath, `${release}.meta.json`);
  await symlink(path.join('releases', `${model.metadata.sha256}.onnx`), path.join(dir, 'current'));
  return dir;
}

function intArg(v: string | undefined, fallback: number, name: string, min = 1): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}`);
  return n;
}

interface VariantFigures {
  workers: number;
  single: LatencyFigures;
  rounds: Array<{ httpRps: number; inProcessRps: number; ratio: number; loadAvg: number; runtimeCpuMsPerRequest: number; inProcessCpuMsPerRun: number }>;
  concLat: LatencyFigures;
  open: OpenLoopResult;
  peakRssBytes: number;
  rssBytes: number;
}

async function measureVariant(
  model: BenchModel,
  dir: string,
  workers: number,
  opts: { concurrency: number; durationMs: number; rounds: number; latencyRequests: number; openRate: number; launch: RuntimeLaunch },
): Promise<VariantFigures> {
  const runtime = await startRuntimeChild(dir, 'bench-dev', ['--inference-workers', String(workers)], opts.launch);
  // Enough sockets for the open loop to keep sending while the runtime is slow (its queue, not ours).
  const client = new LoadClient(Math.max(opts.concurrency, 64));
  try {
    const windows = model.metadata.probes.length ? model.metadata.probes.map((p) => p.window) : [Array.from({ length: 100 }, () => model.metadata.normalization.mean)];
    const bodies = windows.map((w) => Buffer.from(JSON.stringify({ x: w })));
    const url = `${runtime.url}/infer`;
    await measureSequential(client, url, bodies, 100); // warm-up: JIT, sockets, the worker's first runs
    const seq = await measureSequential(client, url, bodies, opts.latencyRequests);
    if (seq.errors) throw new Error(`single-stream: ${seq.errors} errors, first: ${seq.firstError}`);
    const rounds: VariantFigures['rounds'] = [];
    const concLatencies: number[] = [];
    for (let r = 0; r < opts.rounds; r++) {
      const inproc = await measureInProcess(model.path, model.metadata, opts.durationMs);
      const cpu0 = await cpuMsOf(runtime.pid);
      const conc = await measureConcurrent(client, url, bodies, opts.concurrency, opts.durationMs);
      const runtimeCpuMsPerRequest = ((await cpuMsOf(runtime.pid)) - cpu0) / conc.completed;
      if (conc.errors) throw new Error(`concurrency ${opts.concurrency}: ${conc.errors} errors, first: ${conc.firstError}`);
      concLatencies.push(...conc.latenciesMs);
      rounds.push({ httpRps: conc.rps, inProcessRps: inproc.rps, ratio: conc.rps / inproc.rps, loadAvg: loadavg()[0], runtimeCpuMsPerRequest, inProcessCpuMsPerRun: inproc.cpuMsPerRun });
      console.log(`  workers=${workers} round ${r + 1}: HTTP ${conc.rps.toFixed(1)} req/s, in process ${inproc.rps.toFixed(1)} inferences/s → ${pct(conc.rps / inproc.rps)}; CPU ${runtimeCpuMsPerRequest.toFixed(2)} ms/request vs ${inproc.cpuMsPerRun.toFixed(2)} ms/inference (load avg ${load()})`);
    }
    let next = 0;
    const open = await runOpenLoop(
      async () => {
        const res = await client.send('POST', url, bodies[next++ % bodies.length]);
        return res.status === 200 ? null : `HTTP ${res.status}: ${res.body.slice(0, 120)}`;
      },
      { ratePerSec: opts.openRate, durationMs: opts.durationMs, maxOutstanding: 256, drainTimeoutMs: 10_000 },
    );
    const mem = await memoryOf(runtime.pid);
    return { workers, single: summarizeLatencies(seq.samplesMs), rounds, concLat: summarizeLatencies(concLatencies), open, peakRssBytes: mem.peakRssBytes, rssBytes: mem.rssBytes };
  } finally {
    client.close();
    const code = await runtime.stop();
    if (code !== 0) console.log(`warning: runtime exited with code ${code} on SIGTERM`);
  }
}

function printVariant(v: VariantFigures, opts: { concurrency: number; durationMs: number; latencyRequests: number; inProcessP50: number }): void {
  const ratios = v.rounds.map((r) => r.ratio);
  console.log(`\n-- runtime with --inference-workers ${v.workers}${v.workers === 0 ? ' (model on the event loop)' : ''}`);
  console.log(`single stream (${opts.latencyRequests} sequential requests): ${lat(v.single)}`);
  console.log(`  HTTP + JSON overhead at p50: ${ms(v.single.p50 - opts.inProcessP50)} over the in-process p50 of ${ms(opts.inProcessP50)}`);
  console.log(`closed loop, concurrency ${opts.concurrency}, ${v.rounds.length} × ${(opts.durationMs / 1000).toFixed(1)} s: HTTP ${median(v.rounds.map((r) => r.httpRps)).toFixed(1)} req/s median [${v.rounds.map((r) => r.httpRps.toFixed(1)).join(', ')}]`);
  console.log(`  in process, window before each:      ${median(v.rounds.map((r) => r.inProcessRps)).toFixed(1)} inferences/s median [${v.rounds.map((r) => r.inProcessRps.toFixed(1)).join(', ')}]`);
  console.log(`  HTTP / in-process throughput: ${pct(median(ratios))} median, spread ${pct(Math.min(...ratios))} – ${pct(Math.max(...ratios))}`);
  console.log(`  latency under concurrency ${opts.concurrency} (all rounds): ${lat(v.concLat)}`);
  const cpuReq = median(v.rounds.map((r) => r.runtimeCpuMsPerRequest));
  const cpuInf = median(v.rounds.map((r) => r.inProcessCpuMsPerRun));
  console.log(`  CPU time (all threads of the runtime process) per request: ${ms(cpuReq)} median vs ${ms(cpuInf)} per in-process inference (${pct(cpuInf / cpuReq)}; less sensitive to other load than req/s)`);
  const o = v.open;
  console.log(`open loop at ${o.offeredRps} req/s for ${(opts.durationMs / 1000).toFixed(1)} s (${o.scheduled} scheduled): achieved ${o.achievedRps.toFixed(1)} req/s; sent ${o.sent}, completed ${o.completed}, errors ${o.errors}, dropped ${o.dropped}, late sends ${o.late} (> ${o.lateThresholdMs} ms; max lag ${ms(o.maxSendLagMs)})`);
  if (o.latencyMs) console.log(`  latency from the scheduled send: ${lat(o.latencyMs)}`);
  if (o.serviceMs) console.log(`  (from the actual send:          ${lat(o.serviceMs)})`);
  if (o.firstError) console.log(`  first error: ${o.firstError}`);
  console.log(`peak RSS (VmHWM) ${mib(v.peakRssBytes)}, current RSS ${mib(v.rssBytes)}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      'duration-ms': { type: 'string' },
      concurrency: { type: 'string' },
      rounds: { type: 'string' },
      variants: { type: 'string' },
      'open-rate': { type: 'string' },
      'latency-requests': { type: 'string' },
      'transfer-runs': { type: 'string' },
      launch: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    // The header comment of this file is the usage: print it.
    const text = readFileSync(__filename, 'utf8').split('\n');
    console.log(text.slice(0, text.findIndex((l) => !l.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
    return;
  }
  const durationMs = intArg(values['duration-ms'], 5000, 'duration-ms');
  const concurrency = intArg(values.concurrency, 8, 'concurrency');
  const rounds = intArg(values.rounds, 3, 'rounds');
  const openRate = intArg(values['open-rate'], 250, 'open-rate');
  const latencyRequests = intArg(values['latency-requests'], 1000, 'latency-requests');
  const transferRuns = intArg(values['transfer-runs'], 3, 'transfer-runs', 0);
  const variants = (values.variants ?? '1').split(',').map((v) => intArg(v.trim(), 1, 'variants', 0));
  const launch = (values.launch ?? 'import') as RuntimeLaunch;
  if (launch !== 'import' && launch !== 'require') throw new Error('--launch must be import (node --import tsx, as the devices run it) or require (node --require tsx/cjs)');

  const model = await resolveBenchModel(values.model);
  console.log('== edgeship edge benchmark');
  console.log(`model:   ${model.path}`);
  console.log(`         ${model.origin}`);
  console.log(`         sha256 ${model.metadata.sha256}, ${model.metadata.sizeBytes} bytes, ${model.metadata.target}, input [${model.metadata.input.shape.join(',')}]`);
  console.log(`machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load avg ${load()} at the start, node ${process.version}`);
  console.log(`runtime: node ${launch === 'import' ? '--import tsx' : '--require tsx/cjs'} edge/cli.ts --inference-workers ${variants.join(' | ')}`);
  const perVariantS = (latencyRequests * 5) / 1000 + (rounds * 2 * durationMs + durationMs) / 1000;
  console.log(`plan:    per variant ≈ ${perVariantS.toFixed(0)} s (${latencyRequests} sequential, ${rounds} × (${durationMs / 1000} s in process + ${durationMs / 1000} s at concurrency ${concurrency}), ${durationMs / 1000} s open loop at ${openRate} req/s)`);

  const dir = await deviceDir(model);
  const figures: VariantFigures[] = [];
  try {
    for (const workers of variants) figures.push(await measureVariant(model, dir, workers, { concurrency, durationMs, rounds, latencyRequests, openRate, launch }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // A separate single-stream window for the in-process latency the overhead is computed against.
  const inproc = await measureInProcess(model.path, model.metadata, Math.min(durationMs, 3000));
  console.log(`\n-- onnxruntime-node in process (same model, same session options, no HTTP/JSON)`);
  console.log(`single stream for ${(Math.min(durationMs, 3000) / 1000).toFixed(1)} s: ${inproc.rps.toFixed(1)} inferences/s; ${lat(inproc.latencyMs)}`);
  for (const v of figures) printVariant(v, { concurrency, durationMs, latencyRequests, inProcessP50: inproc.latencyMs.p50 });

  console.log('\n-- summary (runtime / in-process throughput at concurrency ' + concurrency + '; open loop at ' + openRate + ' req/s)');
  console.log('workers | ratio median [min – max]     | HTTP req/s | CPU ms/req | open p50 / p95 / p99 ms    | achieved | dropped late errors | peak RSS');
  for (const v of figures) {
    const ratios = v.rounds.map((r) => r.ratio);
    const o = v.open;
    const ol = o.latencyMs ? `${o.latencyMs.p50.toFixed(2)} / ${o.latencyMs.p95.toFixed(2)} / ${o.latencyMs.p99.toFixed(2)}` : 'n/a';
    console.log(`${String(v.workers).padEnd(7)} | ${pct(median(ratios)).padEnd(7)} [${pct(Math.min(...ratios))} – ${pct(Math.max(...ratios))}]`.padEnd(40) + ` | ${median(v.rounds.map((r) => r.httpRps)).toFixed(1).padStart(10)} | ${median(v.rounds.map((r) => r.runtimeCpuMsPerRequest)).toFixed(2).padStart(10)} | ${ol.padEnd(26)} | ${o.achievedRps.toFixed(1).padStart(8)} | ${`${o.dropped} ${o.late} ${o.errors}`.padEnd(19)} | ${mib(v.peakRssBytes)}`);
  }
  console.log(`load avg at the end: ${load()}`);

  console.log('\n-- /infer body parsing on this machine (the probe bodies, single window)');
  const windows = model.metadata.probes.length ? model.metadata.probes.map((p) => p.window) : [Array.from({ length: 100 }, () => model.metadata.normalization.mean)];
  const pc = measureParseCost(windows.map((w) => Buffer.from(JSON.stringify({ x: w }))), createNormalizer(model.metadata.normalization));
  console.log(`${pc.bodyBytes} bytes per body: JSON.parse + validation ${pc.jsonParseUs.toFixed(1)} µs, byte scanner ${pc.scannerUs.toFixed(1)} µs (${(pc.jsonParseUs / pc.scannerUs).toFixed(1)}× less)`);

  if (transferRuns > 0) {
    console.log(`\n-- artifact transfer to a simulated device over OpenSSH (${transferRuns} runs each)`);
    const t = await measureTransfer(model, transferRuns);
    if ('skipped' in t) {
      console.log(`SKIPPED: ${t.skipped}`);
    } else {
      console.log(`file ${t.sizeBytes} bytes, sshd ${t.sshd}`);
      console.log(`pushArtifact (SFTP + metadata + on-device sha256 + rename): median ${ms(median(t.sftpPushMs))}  runs [${t.sftpPushMs.map((v) => v.toFixed(1)).join(', ')}] ms`);
      console.log(`scp of the same file:                                      median ${ms(median(t.scpMs))}  runs [${t.scpMs.map((v) => v.toFixed(1)).join(', ')}] ms`);
    }
  }
}

main().catch((err: unknown) => {
  console.error(`bench:edge failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
