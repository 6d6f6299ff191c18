// `npm run bench:edge [-- --model <file.onnx>] [--duration-ms 5000] [--concurrency 8]
//   [--latency-requests 1000] [--transfer-runs 3]`
// Prints, in one run, measured figures for the edge runtime: HTTP single-stream latency and
// throughput at concurrency N, onnxruntime-node in process on the same model (the ceiling),
// their ratio, the runtime's peak RSS, and SFTP push vs scp of the artifact.
import { copyFile, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { LatencyFigures } from '../common/contracts';
import { summarizeLatencies } from '../common/percentiles';
import { LoadClient, measureConcurrent, measureSequential } from '../activities/edge/loadTest';
import { measureInProcess } from './bench-edge/inProcess';
import { resolveBenchModel, type BenchModel } from './bench-edge/modelSource';
import { memoryOf, startRuntimeChild } from './bench-edge/runtimeProcess';
import { measureTransfer } from './bench-edge/transfer';

const ms = (v: number): string => `${v.toFixed(3)} ms`;
const mib = (b: number): string => `${(b / 1024 / 1024).toFixed(1)} MiB`;
const lat = (l: LatencyFigures): string => `p50 ${ms(l.p50)}  p90 ${ms(l.p90)}  p95 ${ms(l.p95)}  p99 ${ms(l.p99)}  max ${ms(l.max)}  (n=${l.count})`;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

async function deviceDir(model: BenchModel): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'edgeship-bench-device-'));
  await mkdir(path.join(dir, 'releases'));
  const release = path.join(dir, 'releases', `${model.metadata.sha256}.onnx`);
  await copyFile(model.path, release);
  await copyFile(model.metadataPath, `${release}.meta.json`);
  await symlink(path.join('releases', `${model.metadata.sha256}.onnx`), path.join(dir, 'current'));
  return dir;
}

function intArg(v: string | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      'duration-ms': { type: 'string' },
      concurrency: { type: 'string' },
      'latency-requests': { type: 'string' },
      'transfer-runs': { type: 'string' },
    },
  });
  const durationMs = intArg(values['duration-ms'], 5000, 'duration-ms');
  const concurrency = intArg(values.concurrency, 8, 'concurrency');
  const latencyRequests = intArg(values['latency-requests'], 1000, 'latency-requests');
  const transferRuns = intArg(values['transfer-runs'], 3, 'transfer-runs');

  const model = await resolveBenchModel(values.model);
  console.log('== edgeship edge benchmark');
  console.log(`model:   ${model.path}`);
  console.log(`         ${model.origin}`);
  console.log(`         sha256 ${model.metadata.sha256}, ${model.metadata.sizeBytes} bytes, ${model.metadata.target}`);
  console.log(`machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load avg ${loadavg().map((l) => l.toFixed(2)).join(' ')}, node ${process.version}`);

  const dir = await deviceDir(model);
  const runtime = await startRuntimeChild(dir, 'bench-dev');
  const client = new LoadClient(concurrency);
  let http: { single: LatencyFigures; conc: Awaited<ReturnType<typeof measureConcurrent>>; concLat: LatencyFigures };
  let mem: Awaited<ReturnType<typeof memoryOf>>;
  try {
    const windows = model.metadata.probes.length ? model.metadata.probes.map((p) => p.window) : [Array.from({ length: 100 }, () => model.metadata.normalization.mean)];
    const bodies = windows.map((w) => Buffer.from(JSON.stringify({ x: w })));
    const url = `${runtime.url}/infer`;
    await measureSequential(client, url, bodies, 100);
    const seq = await measureSequential(client, url, bodies, latencyRequests);
    if (seq.errors) throw new Error(`single-stream: ${seq.errors} errors, first: ${seq.firstError}`);
    const conc = await measureConcurrent(client, url, bodies, concurrency, durationMs);
    if (conc.errors) throw new Error(`concurrency ${concurrency}: ${conc.errors} errors, first: ${conc.firstError}`);
    http = { single: summarizeLatencies(seq.samplesMs), conc, concLat: summarizeLatencies(conc.latenciesMs) };
    mem = await memoryOf(runtime.pid);
  } finally {
    client.close();
    const code = await runtime.stop();
    if (code !== 0) console.log(`warning: runtime exited with code ${code} on SIGTERM`);
    await rm(dir, { recursive: true, force: true });
  }

  const inproc = await measureInProcess(model.path, model.metadata, durationMs);

  console.log('\n-- runtime over HTTP (child process, keep-alive, node:http client on the same machine)');
  console.log(`single stream (${latencyRequests} sequential requests): ${lat(http.single)}`);
  console.log(`concurrency ${concurrency} for ${(http.conc.durationMs / 1000).toFixed(2)} s: ${http.conc.rps.toFixed(1)} req/s (${http.conc.completed} completed, ${http.conc.errors} errors)`);
  console.log(`  latency under concurrency ${concurrency}: ${lat(http.concLat)}`);
  console.log('\n-- onnxruntime-node in process (same model, same session options, no HTTP/JSON)');
  console.log(`single stream for ${(durationMs / 1000).toFixed(1)} s: ${inproc.rps.toFixed(1)} inferences/s; ${lat(inproc.latencyMs)}`);
  console.log('\n-- ratio (runtime / in-process)');
  console.log(`throughput: ${(http.conc.rps / inproc.rps * 100).toFixed(1)} % of the in-process ceiling`);
  console.log(`p50 latency: ${(http.single.p50 / inproc.latencyMs.p50).toFixed(2)}× in-process (HTTP + JSON overhead ${ms(http.single.p50 - inproc.latencyMs.p50)} per request)`);
  console.log('\n-- runtime memory (/proc/<pid>/status after the load)');
  console.log(`peak RSS (VmHWM) ${mib(mem.peakRssBytes)}, current RSS ${mib(mem.rssBytes)}; the original target was 512 MiB`);

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

main().catch((err: unknown) => {
  console.error(`bench:edge failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
