// `npm run bench:fleet -- [--devices 50] [--devices-per-worker 10] [--ssh auto] [--hold-s 20] [--baseline-model f.onnx]
//    [--skip-rollout] [--json] [--runs 2] [--max-parallel 10] [--canary 1] [--waves 20%,40%] [--latency-requests 100]
//    [--throughput-ms 500] [--concurrency 2] [--min-rps 5] [--p95-ms 500] [--offline-after 2m] [--fresh-source]`
// A simulated fleet at size, the way the rollout tests and the demo run it: a headless Temporal
// dev server of its own (free ports, scratch SQLite), N devices (sshd, model dir with the demo's
// FP32 baseline, runtime each) and their edge workers K to a process. Prints the wall time to
// start, until every runtime serves its model and every edge.<id> queue is polled; the memory of
// every process the fleet started (ΣVmHWM per kind = its peak, ΣVmRSS, ΣPss) after --hold-s; the
// load average; how long a killed worker process's group takes to poll again after a restart;
// and the teardown time. Everything lives under <state>/bench-fleet and is removed by the stop
// (the artifact store <state>/bench-fleet/artifacts stays: export and compile are reused).
//
// Then, unless --skip-rollout, REAL fleet rollouts (bench/fleet/rollout.ts) of the
// demo model (cpu-int8) with light validation, no approval, no soak, run by a GPU worker process
// of its own: a 1-device warm-up (export/compile/pre-flight land in the artifact store; its GPU
// stage time is the cold one when the store was empty), a 1-device rollout, and --runs rollouts of
// all N devices (canary, --waves, the rest, at most --max-parallel at once; each a new run of the
// same deployment id). Prints per run the wall time of each phase (GPU stages, lease, each wave,
// release, close) from the final report, N-device ÷ 1-device wall time (device phase lease →
// close, and whole run), per deviceRollout run its wall time minus its activities' own run time
// (from its history; median, p95), the histories' event counts and sizes, and the peak memory of
// the fleet, the GPU worker and the Temporal server. --json prints all of it as one JSON object on
// stdout (progress goes to stderr); the last result is also written to <state>/bench-fleet/last-rollout.json.
//
// --fresh-source: the 1-device rollout and each N-device one deploy a checkpoint the artifact
// store has never seen (the demo recipe trained with a new seed, bench/fleet/fresh.ts;
// made before its run, outside it), so export, INT8 compile and pre-flight really run in every
// measured rollout, as for a user rolling out a new model; the warm-up still deploys the demo
// checkpoint (Python, the calibration set and the devices' first swap are warm). Per run: the
// seed, the checkpoint / ONNX / INT8 sha256, GPU stages apart and whole run; a run whose report
// shows a reused export, compile or pre-flight, or an ONNX / INT8 seen before, fails the bench.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ArtifactStore } from '../activities/gpu/artifactStore';
import { ensureDemoCheckpoint } from '../activities/gpu/demoCheckpoint';
import { exportModel } from '../activities/gpu/exportModel';
import { stateDir } from '../lib/paths';
import { startDevServer } from '../lib/devServer';
import { ensureToolchain } from '../lib/toolchain';
import type { Baseline } from '../sim/baseline';
import { FreshSources, type FreshCheckpoint, type Freshness } from './fleet/fresh';
import { buildRolloutRequest, GpuWorkerProcess, MemorySampler, planDepth, processPeakKiB, runRollout, type RolloutFigures, type RolloutSettings } from './fleet/rollout';
import { activityTable, gpuReuse, gpuStageList, phaseTable, s as secsTable, summaryTable, table } from './fleet/table';
import { startSimulatedFleet } from '../sim/fleet';
import { formatFleetMemory, mib, readProcMemory, type FleetMemory } from '../sim/memory';
import { freePort } from '../sim/net';
import { positiveInt } from '../lib/cliNumbers';
import { waitForEdgePollers, waitForRuntimesServing } from '../sim/readiness';


function positiveNumber(value: string): number {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError('expected a positive number');
  return n;
}

function waveList(value: string): Array<string | number> {
  const parts = value.split(',').map((x) => x.trim()).filter(Boolean);
  for (const p of parts) if (!/^\d+%?$/.test(p)) throw new InvalidArgumentError('expected wave sizes like 20%,40% or 5,10');
  return parts.map((p) => (p.endsWith('%') ? p : Number(p)));
}

let toStderr = false;
const log = (line: string) => (toStderr ? process.stderr : process.stdout).write(`${line}\n`);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function demoCheckpointPath(): Promise<string> {
  const checkpoint = await ensureDemoCheckpoint(path.join(stateDir(), 'demo', 'tcn-vae-demo.pt'), { onProgress: (l) => log(`  ${l}`) });
  return checkpoint.path;
}

async function demoBaseline(dir: string): Promise<Baseline> {
  await ensureToolchain(log);
  const exported = await exportModel({ modelName: 'tcn-vae-baseline', source: { kind: 'checkpoint', checkpointPath: await demoCheckpointPath() } }, new ArtifactStore(path.join(dir, 'artifacts')));
  return { modelPath: exported.onnx.path, metadataPath: exported.metadataPath };
}

interface Options {
  devices: number;
  devicesPerWorker?: number;
  ssh: 'auto' | 'openssh' | 'embedded';
  holdS: number;
  baselineModel?: string;
  leanRuntimes: boolean;
  skipRollout: boolean;
  json: boolean;
  runs: number;
  maxParallel: number;
  canary: number;
  waves: Array<string | number>;
  latencyRequests: number;
  throughputMs: number;
  concurrency: number;
  minRps: number;
  p95Ms: number;
  offlineAfter: string;
  freshSource: boolean;
}

const memoryJson = (m: FleetMemory) => ({ kinds: m.kinds.map((k) => ({ ...k })), total: { ...m.total } });

async function main(): Promise<void> {
  const o = new Command('bench:fleet')
    .option('--devices <n>', 'simulated devices', positiveInt, 50)
    .option('--devices-per-worker <k>', 'edge workers per process (default: 10 above 10 devices, else 1)', positiveInt)
    .addOption(new Option('--ssh <kind>', 'SSH server of the devices').choices(['auto', 'openssh', 'embedded']).default('auto'))
    .option('--hold-s <s>', 'seconds to keep the fleet up (idle) before the memory figures', positiveInt, 20)
    .option('--baseline-model <file>', 'model every device serves (its .meta.json beside it); default: the demo model\'s FP32 export')
    .option('--no-lean-runtimes', 'runtimes as on a real device (inference worker thread, default young generation)')
    .option('--skip-rollout', 'only measure the bring-up (no GPU worker, no deployment)', false)
    .option('--json', 'print the figures as one JSON object on stdout (progress on stderr)', false)
    .option('--runs <n>', 'rollouts of all N devices (each a new run of the same deployment id)', positiveInt, 2)
    .option('--max-parallel <n>', 'rollout.maxParallel', positiveInt, 10)
    .option('--canary <n>', 'canary devices', positiveInt, 1)
    .option('--waves <list>', 'rollout.waves after the canary (the rest forms a last wave)', waveList, ['20%', '40%'])
    .option('--latency-requests <n>', 'validation.latencyRequests (≥ 100)', positiveInt, 100)
    .option('--throughput-ms <ms>', 'validation.throughputDurationMs (≥ 500)', positiveInt, 500)
    .option('--concurrency <n>', 'validation.concurrency', positiveInt, 2)
    .option('--min-rps <n>', 'throughput gate (req/s); low: 2 shared cores run every device', positiveNumber, 5)
    .option('--p95-ms <n>', 'p95 latency gate (ms)', positiveNumber, 500)
    .option('--offline-after <duration>', 'rollout.offlineAfter (a loaded machine picks up late)', '2m')
    .option('--fresh-source', 'each measured rollout deploys a new checkpoint (the demo recipe, another seed): export, compile and pre-flight run every time', false)
    .parse()
    .opts<Options>();
  toStderr = o.json;

  const dir = path.join(stateDir(), 'bench-fleet');
  mkdirSync(dir, { recursive: true });
  // Scratch: a deployment or device owner left by an earlier bench would meet this fleet's devices.
  for (const f of ['temporal.sqlite', 'temporal.sqlite-wal', 'temporal.sqlite-shm']) rmSync(path.join(dir, f), { force: true });
  const baseline = o.baselineModel ? { modelPath: path.resolve(o.baselineModel), metadataPath: `${path.resolve(o.baselineModel)}.meta.json` } : await demoBaseline(dir);
  const server = await startDevServer({ dbFile: path.join(dir, 'temporal.sqlite'), port: await freePort(), uiPort: await freePort(), headless: true });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: 'default' });
  const loadBefore = loadavg()[0];
  let loadMax = loadBefore;
  const loadSampler = setInterval(() => (loadMax = Math.max(loadMax, loadavg()[0])), 1000);
  const startedAt = Date.now();
  const fleet = await startSimulatedFleet({
    count: o.devices, baseDir: path.join(dir, 'fleet'), sshServer: o.ssh, baseline, devicesPerWorker: o.devicesPerWorker, target: 'cpu-int8',
    leanRuntimes: o.leanRuntimes === false ? false : undefined, startEdgeWorkers: { temporalAddress: server.address },
  });
  let gpuWorker: GpuWorkerProcess | undefined;
  const out: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model, cores: cpus().length },
    command: `npm run bench:fleet -- ${process.argv.slice(2).join(' ')}`.trim(),
    options: o,
  };
  try {
    log(`${fleet.devices.length} devices (${fleet.sshServerKind}), edge workers in ${fleet.workerGroups.length} process(es); startSimulatedFleet took ${secs(fleet.startedInMs)}`);
    let servingAt = 0;
    let polledAt = 0;
    const [serving, polled] = await Promise.all([
      waitForRuntimesServing(fleet, 300_000).then((n) => ((servingAt = Date.now() - startedAt), log(`${n}/${fleet.devices.length} runtimes serve the baseline after ${secs(servingAt)}`), n)),
      waitForEdgePollers(client, 'default', fleet, 300_000).then((n) => ((polledAt = Date.now() - startedAt), log(`${n}/${fleet.devices.length} edge.<id> queues polled after ${secs(polledAt)}`), n)),
    ]);
    const readyAt = Date.now() - startedAt;
    log(`fleet ready (all serving, all polled) in ${secs(readyAt)}`);
    await new Promise((r) => setTimeout(r, o.holdS * 1000));
    const m = fleet.memory();
    log(`memory after ${o.holdS} s idle (ΣVmHWM is each process's own peak, added up; ΣPss counts shared pages once):`);
    for (const line of formatFleetMemory(m)) log(line);
    const hostHwm = readProcMemory(process.pid)?.hwmKiB ?? 0;
    log(`  this bench process (fleet host${fleet.sshServerKind === 'embedded' ? ', embedded SSH servers' : ''}): VmHWM ${mib(hostHwm)}`);
    log(`load average (1 min): ${loadBefore.toFixed(2)} before the start, max ${loadMax.toFixed(2)} while up, ${loadavg()[0].toFixed(2)} now (2 cores; other work on the machine counts too)`);

    const victim = fleet.devices[0].id;
    const group = fleet.workerGroupOf(victim);
    const killed = fleet.killEdgeWorker(victim);
    const restartAt = Date.now();
    // SIGKILL is asynchronous: right after kill() the process may still be alive, and then
    // restartEdgeWorker does nothing (its group "still runs") while the server still lists the
    // dead process's poller — the group would stay off its queues. Retry until it starts one.
    let restarted: number | undefined;
    while ((restarted = fleet.restartEdgeWorker(victim)) === undefined && Date.now() - restartAt < 10_000) await new Promise((r) => setTimeout(r, 50));
    if (restarted === undefined) throw new Error(`the edge worker process of ${victim}'s group was not restarted within 10 s of its kill`);
    const respawnMs = Date.now() - restartAt;
    const back = await waitForEdgePollers(client, 'default', fleet, 120_000, group);
    const backMs = Date.now() - restartAt;
    log(`kill -9 of ${victim}'s worker process (pid ${killed}, ${group.length} device(s)) and restart (pid ${restarted}, spawned ${respawnMs} ms after the kill): ${back}/${group.length} queues polled again ${secs(backMs)} after the kill`);
    out.bringUp = {
      devices: fleet.devices.length, sshServer: fleet.sshServerKind, workerProcesses: fleet.workerGroups.length,
      startSimulatedFleetMs: fleet.startedInMs, allServingMs: servingAt, allPolledMs: polledAt, readyMs: readyAt,
      serving, polled, memoryIdle: memoryJson(m), benchProcessHwmKiB: hostHwm, loadBefore, loadMaxWhileUp: loadMax,
      workerGroupRestart: { devices: group.length, respawnedAfterMs: respawnMs, pollingAgainMs: backMs, polled: back },
    };
    let ok = serving === fleet.devices.length && polled === fleet.devices.length && back === group.length;

    if (!o.skipRollout && ok) {
      ok = (await rollouts(o, { client, fleet, serverPid: server.pid, address: server.address, dir, out, setGpu: (g) => (gpuWorker = g) })) && ok;
    }
    if (o.json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    if (!o.skipRollout) writeFileSync(path.join(dir, 'last-rollout.json'), `${JSON.stringify(out, null, 2)}\n`);
    process.exitCode = ok ? 0 : 1;
  } finally {
    clearInterval(loadSampler);
    const stopAt = Date.now();
    await gpuWorker?.stop();
    await fleet.stop();
    log(`teardown ${secs(Date.now() - stopAt)}`);
    await connection.close();
    await server.stop();
    rmSync(path.join(dir, 'fleet'), { recursive: true, force: true });
  }
}

interface RolloutContext {
  client: Client;
  fleet: Awaited<ReturnType<typeof startSimulatedFleet>>;
  serverPid?: number;
  address: string;
  dir: string;
  out: Record<string, unknown>;
  setGpu: (g: GpuWorkerProcess) => void;
}

/** The rollout benchmark; true when every rollout completed. */
async function rollouts(o: Options, c: RolloutContext): Promise<boolean> {
  const { client, fleet, dir, out } = c;
  const settings: RolloutSettings = {
    canary: o.canary, waves: o.waves, maxParallel: o.maxParallel, latencyRequests: o.latencyRequests,
    throughputDurationMs: o.throughputMs, concurrency: o.concurrency, minRps: o.minRps, p95Ms: o.p95Ms, offlineAfter: o.offlineAfter,
  };
  const logFile = path.join(dir, 'gpu-worker.log');
  rmSync(logFile, { force: true });
  const gpu = new GpuWorkerProcess({ inventoryPath: fleet.inventoryPath, address: c.address, storeDir: path.join(dir, 'artifacts'), logFile });
  c.setGpu(gpu);
  const gpuAt = Date.now();
  gpu.start();
  await gpu.waitPolling(client, 240_000);
  log(`GPU worker (pid ${gpu.pid}, workflows + GPU activities, store ${path.join(dir, 'artifacts')}) polling after ${secs(Date.now() - gpuAt)}; log ${logFile}`);

  const sampler = new MemorySampler(() => {
    const t = fleet.memory().total;
    return { pssKiB: t.pssKiB, rssKiB: t.rssKiB };
  });
  sampler.start(10_000);
  let loadMax = loadavg()[0];
  const loadTimer = setInterval(() => (loadMax = Math.max(loadMax, loadavg()[0])), 1000);
  const checkpoint = await demoCheckpointPath();
  const one = [fleet.devices[0].id];
  const all = fleet.devices.map((d) => d.id);
  const runs: RolloutFigures[] = [];
  const n = fleet.devices.length;
  const fresh = o.freshSource ? new FreshSources(dir, log) : undefined;
  const freshness: Array<Freshness & { label: string; madeInMs: number }> = [];
  const depths = new Map<string, ReturnType<typeof planDepth>>();
  try {
    const plan: Array<{ label: string; devices: string[]; measured: boolean }> = [
      { label: 'warm-up ×1', devices: one, measured: false },
      { label: '1 device', devices: one, measured: true },
      ...Array.from({ length: o.runs }, (_, i) => ({ label: `${n} devices #${i + 1}`, devices: all, measured: true })),
    ];
    for (const p of plan) {
      let source: FreshCheckpoint | undefined;
      if (fresh && p.measured) {
        source = await fresh.make();
        log(`[${p.label}] fresh source: the demo recipe trained with seed ${source.seed} in ${secs(source.madeInMs)} (before the run, not part of it): ${source.path}, sha256 ${source.sha256.slice(0, 16)}`);
      }
      const request = buildRolloutRequest(source?.path ?? checkpoint, p.devices, settings);
      depths.set(p.label, planDepth(request));
      const { figures, report } = await runRollout(client, request, p.label, log);
      runs.push(figures);
      log(`[${p.label}] ${figures.status}: whole run ${secs(figures.wholeRunMs)} = GPU stages ${secs(figures.gpuStagesMs)}${gpuReuse(figures)} + device phase ${secs(figures.devicePhaseMs)} + the rest; ${figures.deviceRuns} deviceRollout runs, overhead median ${Math.round(figures.perDevice.overhead.median)} ms`);
      log(`[${p.label}]   GPU stages: ${gpuStageList(figures)}`);
      if (fresh && source) {
        const f = fresh.check(source, report);
        freshness.push({ ...f, label: p.label, madeInMs: source.madeInMs });
        log(`[${p.label}]   ${f.fresh ? 'fresh' : 'NOT FRESH'}: checkpoint ${f.checkpointSha256.slice(0, 12)} → ONNX ${f.onnxSha256?.slice(0, 12) ?? '—'} → INT8 ${f.artifactSha256?.slice(0, 12) ?? '—'}${f.reused.length ? `; reused: ${f.reused.join(', ')}` : ''}${f.problems.length ? `; ${f.problems.join('; ')}` : ''}`);
      } else if (fresh) {
        fresh.remember(report);
      }
      for (const f of figures.failures.slice(0, 10)) log(`  ${f}`);
      if (figures.status !== 'completed') break;
    }
  } finally {
    sampler.stop();
    clearInterval(loadTimer);
    fresh?.cleanUp();
  }
  const fleetMem = fleet.memory();
  const gpuMem = processPeakKiB(gpu.pid);
  const serverMem = processPeakKiB(c.serverPid);
  const benchMem = processPeakKiB(process.pid);

  const single = runs.find((r) => r.label === '1 device');
  const many = runs.filter((r) => r.label.startsWith(`${n} devices`));
  const depthOne = depths.get('1 device')?.depth ?? 1;
  const ratios = many.map((r) => {
    const depth = depths.get(r.label)?.depth ?? Number.NaN;
    return {
      run: r.label,
      devicePhase: single ? r.devicePhaseMs / single.devicePhaseMs : Number.NaN,
      wholeRun: single ? r.wholeRunMs / single.wholeRunMs : Number.NaN,
      gpuStagesMs: r.gpuStagesMs,
      planDepth: depth,
      /** Device phase ≥ planDepth device-times: the ratio cannot go below planDepth / the 1-device plan's depth. */
      devicePhaseLowerBound: depth / depthOne,
      /** The whole-run ratio if the GPU stages took as long as in the 1-device run and every device-time as long as its device phase. */
      wholeRunAtPlanDepth: single ? (single.wholeRunMs - single.devicePhaseMs + (depth / depthOne) * single.devicePhaseMs) / single.wholeRunMs : Number.NaN,
    };
  });

  log('');
  log(`rollouts: canary ${o.canary}, waves ${o.waves.join(', ')} (+ the rest), maxParallel ${o.maxParallel}, soak 0, no approval; validation ${o.latencyRequests} requests, ${o.throughputMs} ms at concurrency ${o.concurrency}, gates p95 ≤ ${o.p95Ms} ms, ≥ ${o.minRps} req/s; GPU worker maxConcurrentActivityTaskExecutions 4`);
  for (const line of summaryTable(runs)) log(line);
  const warm = runs[0];
  if (warm) log(`GPU stages of the warm-up: ${warm.gpuStages.map((g) => `${g.stage} ${secsTable(g.durationMs ?? Number.NaN)}${g.reused ? ' (reused)' : ''}`).join(', ')}`);
  for (const r of many) {
    log('');
    log(`phases of "${r.label}" (${r.workflowId} run ${r.runId}):`);
    for (const line of phaseTable(r)) log(line);
    log('');
    for (const line of activityTable(r)) log(line);
  }
  if (fresh) {
    log('');
    log('--fresh-source: every measured rollout deployed a checkpoint new to the artifact store (the demo recipe, another seed; calibrate stays reused: its key does not depend on the model):');
    for (const line of table(['run', 'seed', 'checkpoint', 'ONNX', 'INT8', 'fresh', 'export', 'compile', 'preflight', 'GPU stages', 'device phase', 'whole run'], freshness.map((f) => {
      const r = runs.find((x) => x.label === f.label);
      const stage = (name: string): string => secsTable(r?.gpuStages.find((g) => g.stage === name)?.durationMs ?? Number.NaN);
      return [f.label, String(f.seed), f.checkpointSha256.slice(0, 12), f.onnxSha256?.slice(0, 12) ?? '—', f.artifactSha256?.slice(0, 12) ?? '—', f.fresh ? 'yes' : 'NO', stage('export'), stage('compile'), stage('preflight'), secsTable(r?.gpuStagesMs ?? Number.NaN), secsTable(r?.devicePhaseMs ?? Number.NaN), secsTable(r?.wholeRunMs ?? Number.NaN)];
    }))) log(`  ${line}`);
  }
  log('');
  for (const label of ['1 device', many[0]?.label]) {
    const d = label ? depths.get(label) : undefined;
    if (!d) continue;
    log(`plan depth, ${label}: ${d.waves.map((w) => `${w.name} ⌈${w.devices}/${d.maxParallel}⌉`).join(' + ')} = ${d.depth} device-time${d.depth === 1 ? '' : 's'}`);
  }
  log(`(the waves run one after another, each at most maxParallel ${o.maxParallel} devices at once, so with canary c and waves w_i at p = ${o.maxParallel} the device phase is at least ⌈c/p⌉ + Σ ⌈w_i/p⌉ (= 1 + Σ ⌈w_i/p⌉ for c ≤ p) device-times deep, on idle cores too: its ratio to 1 device cannot go below that depth ÷ ${depthOne})`);
  for (const x of ratios) {
    log(`${x.run} ÷ 1 device: device phase (lease → close) ${x.devicePhase.toFixed(2)}× (plan-depth lower bound ${x.devicePhaseLowerBound.toFixed(2)}×; goal ≤ 3 with maxParallel ${o.maxParallel}), whole run ${x.wholeRun.toFixed(2)}× (GPU stages ${secsTable(x.gpuStagesMs)} vs ${secsTable(single?.gpuStagesMs ?? Number.NaN)}; at plan depth with the 1-device GPU stages and device time: ${x.wholeRunAtPlanDepth.toFixed(2)}×)`);
  }
  log('');
  log(`peak memory over the rollouts (ΣVmHWM: each process's own peak since it started; ΣPss/ΣVmRSS: the highest of ${sampler.samples} samples every 10 s):`);
  for (const line of table(['processes', 'n', 'ΣVmHWM', 'ΣVmRSS now', 'ΣPss now'], [
    ...fleetMem.kinds.map((k) => [k.kind, String(k.processes), mib(k.hwmKiB), mib(k.rssKiB), mib(k.pssKiB)]),
    ['fleet total', String(fleetMem.total.processes), mib(fleetMem.total.hwmKiB), mib(fleetMem.total.rssKiB), mib(fleetMem.total.pssKiB)],
    ['fleet total, sampled max', '', '', mib(sampler.maxRssKiB), mib(sampler.maxPssKiB)],
    ['GPU worker (workflows + GPU activities; Python subprocesses not counted)', '1', gpuMem ? mib(gpuMem.hwmKiB) : '—', gpuMem ? mib(gpuMem.rssKiB) : '—', gpuMem ? mib(gpuMem.pssKiB) : '—'],
    ['Temporal dev server', '1', serverMem ? mib(serverMem.hwmKiB) : '—', serverMem ? mib(serverMem.rssKiB) : '—', serverMem ? mib(serverMem.pssKiB) : '—'],
    ['this bench process', '1', benchMem ? mib(benchMem.hwmKiB) : '—', benchMem ? mib(benchMem.rssKiB) : '—', benchMem ? mib(benchMem.pssKiB) : '—'],
  ])) log(`  ${line}`);
  log(`load average (1 min) max while rolling out: ${loadMax.toFixed(2)} (2 cores; other work on the machine counts too)`);
  const gpuLogErrors = readFileSync(logFile, 'utf8').split('\n').filter((l) => /"level":(50|60)/.test(l)).length;
  if (gpuLogErrors) log(`GPU worker log: ${gpuLogErrors} error line(s) in ${logFile}`);

  out.rollout = {
    settings,
    runs,
    ratios,
    planDepth: Object.fromEntries(depths),
    ...(fresh ? { freshSource: freshness } : {}),
    memory: { fleet: memoryJson(fleetMem), fleetSampledMax: { rssKiB: sampler.maxRssKiB, pssKiB: sampler.maxPssKiB, samples: sampler.samples }, gpuWorker: gpuMem, temporalServer: serverMem, benchProcess: benchMem },
    loadMax,
  };
  if (fresh && freshness.some((f) => !f.fresh)) log(`--fresh-source: ${freshness.filter((f) => !f.fresh).map((f) => f.label).join(', ')} did not run every GPU stage (see above): the figures are not those of a new model`);
  return runs.length === 2 + o.runs && runs.every((r) => r.status === 'completed') && freshness.every((f) => f.fresh);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:fleet: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
