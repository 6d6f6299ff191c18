// `npm run bench:fleet-scale -- [--devices 2000] [--wave-size 200] [--max-parallel 200] [--canary-percent 1]
//    [--program both|edgeship|bare] [--first edgeship|bare] [--rounds 1] [--bare-start-window n]
//    [--edge-queues shared|per-device] [--device-ms 0] [--fail 0] (these three: with --program edgeship) [--max-cached-workflows 600] [--keep]`
//
// By default it runs two programs, one after the other, each in a process and on a dev server of
// its own with the same settings (WAL, synchronous=NORMAL, a 64 MiB events cache): edgeship's
// fleet rollout, then THE BARE-ENGINE PROGRAM (bench/fleet-scale/: the same shape written with
// nothing but the SDK — a parent, a child per wave, a child per device running 4 no-op
// activities, an entity per device leased by update-with-start and released by signal). It
// prints both side by side: devices/s through the waves and their ratio, events, workflow tasks
// and activities per device, and each worker process's peak RSS, against the goals of issue 17.
//
// The fleet-rollout scale test: the REAL workflows (deployModel → rolloutWave per wave →
// deviceRollout per device, deviceOwner per device) on a REAL Temporal dev server of its own
// (scratch SQLite under <state>/scale-fleet, free port, edgeship's search attributes), with the
// REAL ownership activities (so N deviceOwner workflows really grant and take back leases) and
// IN-MEMORY STAND-INS of the GPU stages and of every device-side activity (sim/standIns.ts, the
// workflow tests' own, here recording no calls: they return at once). What it measures is Temporal's side: histories, payloads, children, time.
//
// Device-side activities go either to one shared task queue (the request's edge.sharedTaskQueue,
// one Worker, default) or, with --edge-queues per-device, to the real `edge.<id>` queues: one
// Worker per device in this process (2,000 Workers measured at ~+200 MiB and ~6 s to create).
//
// Prints progress every 5 s, then: the parent's history (events, bytes, largest event), each
// wave child's history and time, the largest deviceRollout and deviceOwner histories, the most
// children pending at once per workflow, memory of this process and of the dev server, and each
// figure next to the Temporal limit it approaches (2,000 pending children per workflow, 51,200
// events / 50 MB per history, 2 MB per payload), with a linear extrapolation to 10,000 devices.
import { mkdirSync, readdirSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Client, Connection, WorkflowFailedError, WorkflowIdConflictPolicy, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogEntry } from '@temporalio/worker';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createOwnershipActivities } from '../activities/gpu/ownership';
import { startDeployment } from '../clients/startDeployment';
import { deviceOwnerWorkflowId } from '../common/ownership';
import { stateDir } from '../lib/paths';
import { CONTROL_TASK_QUEUE, edgeTaskQueue } from '../common/queues';
import { CONTROL_MAX_CACHED_WORKFLOWS, createControlAndGpuWorkers } from '../workers/gpuWorker';
import { deploymentWorkflowId, parseDeployRequest, type DeployRequest } from '../common/request';
import { SA_MODEL, SA_STAGE, SA_STATUS } from '../common/searchAttributes';
import { deviceRolloutWorkflowId, waveWorkflowId, type PlannedWave, type WaveStatus } from '../common/rollout';
import { DEPLOY_MODEL_WORKFLOW_TYPE, MESSAGE_NAMES } from '../common/workflowNames';
import { planWaves } from '../workflows/fleet/plan';
import { startDevServer, type DevServer } from '../lib/devServer';
import { mib, readProcMemory } from '../sim/memory';
import { freePort } from '../sim/net';
import { nonNegativeInt, positiveInt } from '../lib/cliNumbers';
import { commandLineContains, isAlive, readPid } from '../sim/pidfile';
import { deviceIdOfCall, sha, StandInFleet } from '../sim/standIns';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { runBareEngine } from './fleet-scale/bareEngine';
import { writeWorkflowBundle } from '../workers/workflowBundle';
import { perDevice, readCounters, type Counters } from './fleet-scale/serverMetrics';
import { comparisonLines, cpuMs, programFigures, threadCpuMs, threadCpuPerDevice, type ProgramFigures } from './fleet-scale/figures';
import { hostname } from 'node:os';
import { EDGE_API_VERSION, formatEdgeWorkerIdentity } from '../common/edgeVersion';

const SHARED_EDGE_QUEUE = 'scale-test.edge-shared';

/** Temporal's default limits (server dynamic config), error level; warnings in brackets. */
export const TEMPORAL_LIMITS = {
  pendingChildrenPerWorkflow: 2000, // limit.numPendingChildExecutions.error
  historyEvents: 51_200, // limit.historyCount.error (warn 10,240)
  historyEventsWarn: 10_240,
  historyBytes: 50 * 1024 * 1024, // limit.historySize.error (warn 10 MB)
  historyBytesWarn: 10 * 1024 * 1024,
  payloadBytes: 2 * 1024 * 1024, // limit.blobSize.error (warn 512 KB)
  payloadBytesWarn: 512 * 1024,
};

const log = (line: string): void => void process.stdout.write(`${line}\n`);
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const kib = (bytes: number): string => (bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(2)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`);
const pct = (x: number, of: number): string => `${((100 * x) / of).toFixed(2)} %`;

function percent(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 100) throw new InvalidArgumentError('expected a percentage in (0, 100]');
  return n;
}

interface Options {
  devices: number;
  waveSize: number;
  maxParallel?: number;
  canaryPercent: number;
  edgeQueues: 'shared' | 'per-device';
  deviceMs: number;
  fail: number;
  maxCachedWorkflows: number;
  timeoutMin: number;
  dir: string;
  keep: boolean;
  program: 'both' | 'edgeship' | 'bare';
  first: 'edgeship' | 'bare';
  rounds: number;
  resultFile?: string;
  workflowBundle?: string;
  bareStartWindow?: number;
}

/** What issue 17 asks of a 2,000-device run on this machine. */
const GOALS = { devicesPerSecond: 15, ratioToBare: 0.9, peakRssKiB: 1024 * 1024 };

/** Runs one program in a process of its own (a clean peak RSS) and reads back its figures. */
async function runProgramProcess(program: 'edgeship' | 'bare', args: string[]): Promise<ProgramFigures> {
  const resultFile = path.join(tmpdir(), `fleet-scale-${process.pid}-${program}.json`);
  rmSync(resultFile, { force: true });
  // Each program's workflows are bundled here, ahead of its run, as a production worker's are
  // (`npm run build`): webpack's memory stays out of the process whose peak RSS is measured.
  const bundle = await writeWorkflowBundle(program === 'bare' ? require.resolve('./fleet-scale/bareEngineWorkflows') : require.resolve('../workflows'), path.join(tmpdir(), `fleet-scale-${process.pid}-${program}-bundle.js`), new DefaultLogger('WARN'));
  const child = spawn(process.execPath, [...process.execArgv, __filename, ...args, '--program', program, '--result-file', resultFile, '--workflow-bundle', bundle.file], { stdio: 'inherit' });
  // The child handles the signal itself (it stops its Workers and its dev server); this process
  // waits for it rather than dying first.
  const forward = (): void => void child.kill('SIGINT');
  process.on('SIGINT', forward);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  process.removeListener('SIGINT', forward);
  rmSync(bundle.file, { force: true });
  if (code !== 0) throw new Error(`the ${program} run exited with ${code}`);
  const figures = JSON.parse(readFileSync(resultFile, 'utf8')) as ProgramFigures;
  rmSync(resultFile, { force: true });
  return figures;
}

/** `args` without `name` and its value. */
const withoutOption = (args: string[], name: string): string[] => args.filter((a, i) => a !== name && args[i - 1] !== name);

async function compareBoth(o: Options): Promise<void> {
  const own = ['--program', '--first', '--rounds', '--result-file', '--workflow-bundle'];
  const args = process.argv.slice(2).filter((a, i, all) => !own.includes(a) && !own.includes(all[i - 1]));
  const mark = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  const rounds: Array<{ order: Array<'edgeship' | 'bare'>; e: ProgramFigures; b: ProgramFigures; ratio: number }> = [];
  for (let round = 1; round <= o.rounds; round++) {
    // Rounds alternate which program goes first (ABBA…): this machine's speed drifts by tens of
    // percent over minutes, for either program alike, and alternation spreads the drift over both.
    const bareFirst = (o.first === 'bare') !== (round % 2 === 0);
    const order: Array<'edgeship' | 'bare'> = bareFirst ? ['bare', 'edgeship'] : ['edgeship', 'bare'];
    const figures: Partial<Record<'edgeship' | 'bare', ProgramFigures>> = {};
    for (const program of order) {
      const window = program === 'bare' && o.bareStartWindow !== undefined ? `, its waves asking for at most ${o.bareStartWindow} child starts at a time` : '';
      log(`\n==== ${o.rounds > 1 ? `round ${round} of ${o.rounds}: ` : ''}${program === 'bare' ? `THE BARE-ENGINE PROGRAM (not edgeship${window})` : 'edgeship'}: its own process and dev server ====`);
      figures[program] = await runProgramProcess(program, program === 'bare' ? args : withoutOption(args, '--bare-start-window'));
    }
    const e = figures.edgeship!;
    const b = figures.bare!;
    log(`\n==== edgeship against the bare engine, same shape, same dev server settings (${order.join(' first, then ')}${o.rounds > 1 ? `; round ${round} of ${o.rounds}` : ''}) ====`);
    for (const line of comparisonLines(e, b)) log(line);
    const ratio = e.devicesPerSecond / b.devicesPerSecond;
    rounds.push({ order, e, b, ratio });
    log(`goals (issue 17, 2,000 devices on this machine): ≥ ${GOALS.devicesPerSecond} devices/s ${mark(e.devicesPerSecond >= GOALS.devicesPerSecond)} (${e.devicesPerSecond.toFixed(1)}); ≥ ${GOALS.ratioToBare}× the bare engine ${mark(ratio >= GOALS.ratioToBare)} (${ratio.toFixed(2)}×); worker peak RSS ≤ 1 GiB ${mark(e.peakRssKiB <= GOALS.peakRssKiB)} (${(e.peakRssKiB / 1024).toFixed(0)} MiB)${e.devices === 2000 ? '' : ` — this run had ${e.devices} devices`}`);
  }
  if (rounds.length > 1) {
    log(`\n==== ${rounds.length} rounds ====`);
    log('  round  order           edgeship devices/s  bare engine devices/s  ratio  edgeship peak RSS');
    for (const [i, r] of rounds.entries()) log(`  ${String(i + 1).padStart(5)}  ${r.order[0].padEnd(8)} first  ${r.e.devicesPerSecond.toFixed(1).padStart(18)}  ${r.b.devicesPerSecond.toFixed(1).padStart(21)}  ${r.ratio.toFixed(2).padStart(4)}×  ${(r.e.peakRssKiB / 1024).toFixed(0).padStart(13)} MiB`);
    const ratios = rounds.map((r) => r.ratio);
    const sum = (f: (r: (typeof rounds)[number]) => number): number => rounds.reduce((t, r) => t + f(r), 0);
    // Devices over wave time, summed over the rounds: each program's speed across the same stretch of time.
    const pooled = (sum((r) => r.e.devices) / sum((r) => r.e.wavesMs)) / (sum((r) => r.b.devices) / sum((r) => r.b.wavesMs));
    log(`  ratio: median ${median(ratios).toFixed(2)}×, range ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}×; pooled (all devices over all wave time) ${pooled.toFixed(2)}×`);
    log(`  goals: ≥ ${GOALS.ratioToBare}× the bare engine ${mark(median(ratios) >= GOALS.ratioToBare)} by the median, in ${ratios.filter((x) => x >= GOALS.ratioToBare).length} of ${ratios.length} rounds; ≥ ${GOALS.devicesPerSecond} devices/s in ${rounds.filter((r) => r.e.devicesPerSecond >= GOALS.devicesPerSecond).length} of ${rounds.length}; worker peak RSS ≤ 1 GiB in ${rounds.filter((r) => r.e.peakRssKiB <= GOALS.peakRssKiB).length} of ${rounds.length}`);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Runs `work` over items, at most `limit` at once, results in order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]);
    }
  }));
  return out;
}

type Described = { historyLength: number; historySizeBytes: number; status: string; startMs?: number; closeMs?: number };

async function describe(client: Client, workflowId: string): Promise<Described | undefined> {
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    return { historyLength: d.historyLength, historySizeBytes: d.historySize ?? 0, status: d.status.name, startMs: d.startTime.getTime(), closeMs: d.closeTime?.getTime() };
  } catch {
    return undefined; // not started yet
  }
}

const EventType = temporal.api.enums.v1.EventType;

/**
 * From a whole history: its encoded size, its largest event, the most children pending at once
 * (start asked for, not closed) and the most of them starting at once (start asked for, neither
 * started nor failed to start: what a wave's start window bounds, workflows/fleet/startWindow.ts).
 */
export function historyFigures(history: temporal.api.history.v1.IHistory): { events: number; bytes: number; largestEventBytes: number; largestEventType: string; maxPendingChildren: number; maxStartingChildren: number; children: number } {
  const events = history.events ?? [];
  let largest = 0;
  let largestType = '';
  let pending = 0;
  let maxPending = 0;
  let starting = 0;
  let maxStarting = 0;
  let children = 0;
  for (const e of events) {
    const size = temporal.api.history.v1.HistoryEvent.encode(e).finish().length;
    if (size > largest) {
      largest = size;
      largestType = EventType[e.eventType ?? 0] ?? String(e.eventType);
    }
    switch (e.eventType) {
      case EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
        pending += 1;
        starting += 1;
        children += 1;
        break;
      case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
        starting -= 1;
        break;
      case EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED:
        starting -= 1;
        pending -= 1;
        break;
      case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
      case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED:
      case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED:
      case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT:
      case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED:
        pending -= 1;
        break;
    }
    maxPending = Math.max(maxPending, pending);
    maxStarting = Math.max(maxStarting, starting);
  }
  return { events: events.length, bytes: temporal.api.history.v1.History.encode(history).finish().length, largestEventBytes: largest, largestEventType: largestType.replace(/^EVENT_TYPE_/, ''), maxPendingChildren: maxPending, maxStartingChildren: maxStarting, children };
}

async function fetchFigures(client: Client, workflowId: string): Promise<ReturnType<typeof historyFigures>> {
  return historyFigures(await client.workflow.getHandle(workflowId).fetchHistory());
}

function buildRequest(o: Options, devices: string[], canary: number): DeployRequest {
  const checkpointPath = '/scale-test/fake-checkpoint.pt';
  const after = o.devices - canary;
  const waves = Array.from({ length: Math.max(0, Math.ceil(after / o.waveSize) - 1) }, () => o.waveSize); // the rest forms the last wave
  return parseDeployRequest({
    modelName: 'scale-test-model',
    source: { kind: 'checkpoint', checkpointPath },
    sourceSha256: sha(checkpointPath), // what the stand-in exportModel reports for this path
    target: 'cpu-fp32',
    devices,
    approval: { required: false },
    onBusy: 'fail',
    edge: o.edgeQueues === 'shared' ? { sharedTaskQueue: SHARED_EDGE_QUEUE } : {},
    rollout: {
      canary: { count: canary },
      waves,
      maxParallel: o.maxParallel ?? o.waveSize,
      soak: 0,
      // The stand-ins answer at once; a device counts as offline only if the queue itself backs up.
      offlineAfter: '2m',
      ...(o.fail > 0 ? { halt: { maxFailedPercent: 50, minDoneForPercent: 10 } } : {}),
    },
  });
}

async function main(): Promise<void> {
  const o = new Command('bench:fleet-scale')
    .description('fleet rollout at scale: real workflows, real dev server, real ownership activities, in-memory stand-ins of GPU and device activities')
    .option('--devices <n>', 'devices in the rollout', positiveInt, 2000)
    .option('--wave-size <m>', 'devices per wave after the canary', positiveInt, 200)
    .option('--max-parallel <k>', 'device rollouts at once within a wave (default: the wave size, at most 500)', positiveInt)
    .option('--canary-percent <p>', 'canary size as a percentage of the fleet (at least 1 device)', percent, 1)
    .addOption(new Option('--edge-queues <how>', 'device-side activities on one shared queue (edge.sharedTaskQueue) or on edge.<id> with a Worker per device').choices(['shared', 'per-device']).default('shared'))
    .option('--device-ms <ms>', 'simulated time of each fake device activity', nonNegativeInt, 0)
    .option('--fail <n>', 'devices of the first wave after the canary whose fake validation fails (halt: > 50 % failed)', nonNegativeInt, 0)
    .option('--max-cached-workflows <n>', 'the control Worker\'s workflow cache, for both programs (default: the GPU worker\'s, CONTROL_MAX_CACHED_WORKFLOWS)', positiveInt, CONTROL_MAX_CACHED_WORKFLOWS)
    .option('--timeout-min <m>', 'give up after this many minutes', positiveInt, 90)
    .option('--dir <dir>', 'scratch directory of the dev server (SQLite, log); emptied at the start', path.join(stateDir(), 'scale-fleet'))
    .option('--keep', 'keep the dev server\'s SQLite file and log in --dir')
    .addOption(new Option('--program <which>', 'both: edgeship, then the bare-engine program of the same shape, each in its own process and dev server, compared; or only one of them').choices(['both', 'edgeship', 'bare']).default('both'))
    .addOption(new Option('--first <which>', 'with --program both: which program runs first').choices(['edgeship', 'bare']).default('edgeship'))
    .option('--bare-start-window <n>', 'the bare-engine program\'s waves ask for at most n child starts at a time, as edgeship\'s do (workflows/fleet/startWindow.ts): per-device cost on equal terms; default: every free slot at once', positiveInt)
    .option('--rounds <n>', 'with --program both: compare this many times, alternating which program goes first; prints each ratio, the median and the pooled ratio', positiveInt, 1)
    .addOption(new Option('--result-file <file>', 'write this program\'s figures as JSON (used by --program both)').hideHelp())
    .addOption(new Option('--workflow-bundle <file>', 'the program\'s workflows prebuilt (used by --program both); else bundled in this process').hideHelp())
    .parse()
    .opts<Options>();
  if (o.program === 'both' && (o.edgeQueues !== 'shared' || o.fail > 0 || o.deviceMs > 0)) {
    throw new InvalidArgumentError('--edge-queues per-device, --fail and --device-ms shape edgeship\'s run alone (the bare-engine program has no devices to route or fail): add --program edgeship');
  }
  if (o.program !== 'both' && o.rounds > 1) throw new InvalidArgumentError(`--rounds compares the two programs, and --program ${o.program} runs one: leave out --program (or --rounds)`);
  if (o.program === 'both') return compareBoth(o);
  if (o.program === 'edgeship' && o.bareStartWindow !== undefined) throw new InvalidArgumentError('--bare-start-window shapes the bare-engine program, and --program edgeship runs edgeship alone: leave out one of them');
  if (o.program === 'bare' && (o.edgeQueues !== 'shared' || o.fail > 0 || o.deviceMs > 0)) throw new InvalidArgumentError('the bare-engine program has no --edge-queues per-device, --fail or --device-ms: it is the engine alone');
  if ((o.maxParallel ?? o.waveSize) > 500) throw new InvalidArgumentError('--max-parallel (default: --wave-size) must be ≤ 500 (the request schema\'s bound)');

  const canary = Math.max(1, Math.ceil((o.devices * o.canaryPercent) / 100));
  if (canary >= o.devices) throw new InvalidArgumentError(`a canary of ${canary} leaves no wave: use more devices`);
  const width = String(o.devices).length;
  const devices = Array.from({ length: o.devices }, (_, i) => `dev-${String(i + 1).padStart(width, '0')}`);
  const request = buildRequest(o, devices, canary);
  const planned: PlannedWave[] = planWaves(request.devices, request.rollout!);
  const failOn = new Set(o.fail > 0 && planned[1] ? planned[1].devices.slice(0, o.fail) : []);
  log(`plan: ${o.devices} devices, canary ${planned[0].devices.length}, then ${planned.length - 1} wave(s) of ${planned.slice(1).map((w) => w.devices.length).join('/')}, maxParallel ${request.rollout!.maxParallel}, soak 0, no approval; device activities on ${o.edgeQueues === 'shared' ? `one shared queue (${SHARED_EDGE_QUEUE})` : `${o.devices} edge.<id> queues, one Worker each`}${failOn.size ? `; ${failOn.size} device(s) of ${planned[1].name} fail validation` : ''}`);

  const dir = path.resolve(o.dir);
  mkdirSync(dir, { recursive: true });
  // One scale test per directory: a second one would delete the first's SQLite file (and two dev
  // servers on one SQLite path corrupt each other's journal). Measured the hard way.
  const lock = path.join(dir, 'scale-fleet.lock');
  const holder = readPid(lock);
  if (holder !== undefined && holder !== process.pid && isAlive(holder) && commandLineContains(holder, path.basename(__filename))) {
    throw new InvalidArgumentError(`another scale test (pid ${holder}) uses ${dir}: wait for it, or give this one its own --dir`);
  }
  writeFileSync(lock, `${process.pid}\n`);
  const dropLock = (): void => {
    if (readPid(lock) === process.pid) rmSync(lock, { force: true });
  };
  const dbFile = path.join(dir, 'temporal.sqlite');
  // Only the files this script makes are removed (a fresh server each run), never the directory's other content.
  const scratch = (): string[] => readdirSync(dir).filter((f) => f.startsWith('temporal.sqlite') || f === 'temporal.log').map((f) => path.join(dir, f));
  for (const f of scratch()) rmSync(f, { force: true });

  // The SDK's own chatter (and "no workflows registered" of every device Worker) stays out.
  // shutdownSignals: [] — this script's own handler stops the run (bounded), not the SDK's drain.
  Runtime.install({ shutdownSignals: [], logger: new DefaultLogger('WARN', (e: LogEntry) => { if (!/No workflows registered/.test(e.message)) process.stderr.write(`[sdk ${e.level}] ${e.message}\n`); }) });

  const t0 = Date.now();
  let server: DevServer | undefined;
  let nativeConnection: NativeConnection | undefined;
  let connection: Connection | undefined;
  const workers: Worker[] = [];
  let running: Promise<unknown> | undefined;
  let stopping = false;
  /** Shuts the workers down; an overloaded worker may take long to drain, so the wait is bounded. */
  const stopWorkers = async (boundMs = 20_000): Promise<void> => {
    if (stopping) return;
    stopping = true;
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await Promise.race([running?.catch(() => undefined), new Promise((r) => setTimeout(r, boundMs).unref())]);
  };
  let interrupted = false;
  const onSignal = (): void => {
    // A second signal (npx/tsx relay the first one, a user presses Ctrl-C twice) must not kill
    // the process before it has stopped its dev server: that leaked a server, measured.
    if (interrupted) return;
    interrupted = true;
    log('interrupted: stopping workers (≤ 20 s) and the dev server');
    const force = setTimeout(() => process.exit(130), 40_000);
    force.unref();
    void stopWorkers().finally(() => server?.stop()).finally(() => {
      dropLock();
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const metricsPort = await freePort();
    const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    server = await startDevServer({ dbFile, port: await freePort(), metricsPort, headless: true, logFile: path.join(dir, 'temporal.log') });
    log(`dev server ${server.address} (pid ${server.pid}), SQLite ${dbFile}, up after ${secs(Date.now() - t0)}`);
    nativeConnection = await NativeConnection.connect({ address: server.address });
    connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection, namespace: 'default' });
    const standIns = new StandInFleet(devices, { record: false, deviceMs: o.deviceMs, scenario: { validationFailsOnDevices: [...failOn] }, target: 'cpu-fp32', servedBefore: () => sha('scale test: baseline model') });

    const memoryLine = (): string => {
      const m = process.memoryUsage();
      return `RSS ${mib(readProcMemory(process.pid)?.rssKiB ?? 0)} (main thread's heap ${mib(m.heapUsed / 1024)}, external ${mib(m.external / 1024)}), server RSS ${server?.pid ? mib(readProcMemory(server.pid)?.rssKiB ?? 0) : '?'}`;
    };
    const writeResult = (figures: ProgramFigures): void => {
      if (o.resultFile) writeFileSync(o.resultFile, JSON.stringify(figures));
    };

    if (o.program === 'bare') {
      const cpuAtStart = { worker: 0, server: 0 };
      let countersAtStart: Promise<Counters> = Promise.resolve(new Map());
      let threadsAtStart = threadCpuMs(process.pid);
      const beforeStart = (): void => {
        Object.assign(cpuAtStart, { worker: cpuMs(process.pid), server: cpuMs(server!.pid ?? 0) });
        threadsAtStart = threadCpuMs(process.pid);
        countersAtStart = readCounters(metricsUrl);
      };
      // Read while the bare program's Workers still run: the same moment as edgeship's figures.
      let atClose: { peakRssKiB: number; workerCpuMs: number; serverCpuMs: number; threads: ReturnType<typeof threadCpuMs>; counters: Promise<Counters> } | undefined;
      const afterClose = (): void => {
        atClose = { peakRssKiB: readProcMemory(process.pid)?.hwmKiB ?? 0, workerCpuMs: cpuMs(process.pid) - cpuAtStart.worker, serverCpuMs: cpuMs(server!.pid ?? 0) - cpuAtStart.server, threads: threadCpuMs(process.pid), counters: readCounters(metricsUrl) };
      };
      const bare = await runBareEngine({ connection: nativeConnection, client, waves: planned.map((w) => w.devices), maxParallel: request.rollout!.maxParallel, maxCachedWorkflows: o.maxCachedWorkflows, ...(o.bareStartWindow !== undefined ? { startWindow: o.bareStartWindow } : {}), timeoutMin: o.timeoutMin, log, extra: memoryLine, beforeStart, afterClose, workflowBundlePath: o.workflowBundle });
      if (!atClose) throw new Error('the bare engine returned without closing its parent');
      const { peakRssKiB } = atClose;
      const cpu = { workerCpuMs: atClose.workerCpuMs, serverCpuMs: atClose.serverCpuMs, serverCountersPerDevice: perDevice(await countersAtStart, await atClose.counters, o.devices), workerThreadsCpuMsPerDevice: threadCpuPerDevice(process.pid, threadsAtStart, atClose.threads, o.devices) };
      log(`bare engine closed after ${secs(bare.wallMs)} (its Workers created in ${secs(bare.workersCreatedMs)})`);
      const figures = await programFigures('bare engine', client, { devices: o.devices, waveWorkflowIds: bare.waveWorkflowIds, wallMs: bare.wallMs, peakRssKiB, ...cpu }, log);
      log(`bare engine: ${figures.devicesPerSecond.toFixed(1)} devices/s through the waves; ${figures.eventsPerDevice.toFixed(1)} events, ${figures.workflowTasksPerDevice.toFixed(1)} workflow tasks, ${figures.activitiesPerDevice.toFixed(2)} activities per device; peak RSS ${mib(peakRssKiB)}`);
      writeResult(figures);
      return;
    }

    const rssBefore = readProcMemory(process.pid)?.rssKiB ?? 0;
    workers.push(...(await createControlAndGpuWorkers({
      connection: nativeConnection,
      workflowsPath: require.resolve('../workflows'),
      ...(o.workflowBundle ? { workflowBundlePath: o.workflowBundle } : {}),
      activities: { ...standIns.gpuActivities(), ...createOwnershipActivities(client) },
      control: { maxCachedWorkflows: o.maxCachedWorkflows, maxConcurrentWorkflowTaskExecutions: 100, maxConcurrentActivityTaskExecutions: 1000 },
      gpu: { maxCachedWorkflows: 10, maxConcurrentActivityTaskExecutions: 1000 },
    })));
    const tEdge = Date.now();
    if (o.edgeQueues === 'shared') {
      workers.push(await Worker.create({ connection: nativeConnection, taskQueue: SHARED_EDGE_QUEUE, activities: standIns.edgeActivities(deviceIdOfCall), maxConcurrentActivityTaskExecutions: 1000, maxConcurrentActivityTaskPolls: 10 }));
    } else {
      for (const [i, id] of devices.entries()) {
        workers.push(await Worker.create({ connection: nativeConnection, taskQueue: edgeTaskQueue(id), activities: standIns.edgeActivities(id), maxConcurrentActivityTaskExecutions: 8, maxConcurrentActivityTaskPolls: 1, identity: formatEdgeWorkerIdentity({ version: 'scale-fake', api: EDGE_API_VERSION, deviceId: id, host: hostname(), pid: process.pid }) }));
        if ((i + 1) % 500 === 0) log(`  ${i + 1} device Workers created (${secs(Date.now() - tEdge)}, RSS ${mib(readProcMemory(process.pid)?.rssKiB ?? 0)})`);
      }
    }
    const rssWorkers = readProcMemory(process.pid)?.rssKiB ?? 0;
    log(`workers: control (bundle + real ownership) and gpu (fake GPU stages), and ${workers.length - 2} edge Worker(s) created; edge Workers took ${secs(Date.now() - tEdge)}; RSS ${mib(rssBefore)} → ${mib(rssWorkers)}`);
    running = Promise.all(workers.map((w) => w.run()));
    running.catch((err: unknown) => log(`a worker failed: ${(err as Error).message}`));

    // ---- the rollout ----------------------------------------------------------------------
    const tStart = Date.now();
    const cpuAtStart = { worker: cpuMs(process.pid), server: cpuMs(server.pid ?? 0) };
    const countersAtStart = await readCounters(metricsUrl);
    const threadsAtStart = threadCpuMs(process.pid);
    let started: { workflowId: string; handle: WorkflowHandle };
    try {
      started = await startDeployment(client, request);
    } catch (err) {
      // The start itself is part of what scales: say exactly what the server refused, then start
      // the same workflow (same id, same request) without the per-device search attribute.
      const why = `${(err as Error).message}: ${String((err as { cause?: Error }).cause?.message ?? '')}`;
      if (!/search attribute|size limit|summary/i.test(why)) throw err;
      log(`FINDING: clients/startDeployment refused for ${o.devices} devices: ${why}`);
      log('  → starting the same deployModel directly, without EdgeshipDevices and with a short summary (what the client would have to do)');
      const workflowId = deploymentWorkflowId(request.modelName, request.target, request.sourceSha256!);
      const handle = await client.workflow.start(DEPLOY_MODEL_WORKFLOW_TYPE, {
        taskQueue: CONTROL_TASK_QUEUE,
        workflowId,
        args: [request],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
        typedSearchAttributes: [{ key: SA_MODEL, value: request.modelName }, { key: SA_STAGE, value: 'queued' }, { key: SA_STATUS, value: 'running' }],
        staticSummary: `deploy ${request.modelName} → ${request.target} on ${o.devices} devices (${devices[0]} … ${devices[devices.length - 1]})`,
      });
      started = { workflowId, handle };
    }
    const { workflowId, handle } = started;
    log(`started ${workflowId}`);
    const deploymentId = workflowId;
    const waveIds = planned.map((w) => waveWorkflowId(deploymentId, w.name));
    let lastLine = '';
    let done = false;
    const resultPromise = handle.result().then(
      (r: unknown) => ({ ok: true as const, report: r }),
      (err: unknown) => ({ ok: false as const, err }),
    ).finally(() => (done = true));
    const deadline = tStart + o.timeoutMin * 60_000;
    while (!done) {
      await Promise.race([resultPromise, new Promise((r) => setTimeout(r, 5000))]);
      if (done) break;
      if (Date.now() > deadline) throw new Error(`no result after ${o.timeoutMin} min`);
      const parent = await describe(client, workflowId);
      const waves = await Promise.all(waveIds.map((id) => describe(client, id)));
      const current = waves.findIndex((w) => w?.status === 'RUNNING');
      let waveText = `${waves.filter((w) => w && w.status !== 'RUNNING').length}/${planned.length} waves closed`;
      if (current >= 0) {
        try {
          const s = await client.workflow.getHandle(waveIds[current]).query<WaveStatus>(MESSAGE_NAMES.rolloutWave.waveStatusQuery);
          waveText += `; ${planned[current].name}: ${s.counts.validated} validated, ${s.counts.running} running, ${s.counts.failed} failed, ${s.counts.skipped} offline, ${s.counts.pending} pending (${waves[current]!.historyLength} events)`;
        } catch {
          waveText += `; ${planned[current].name} running`;
        }
      }
      const line = `[${secs(Date.now() - tStart)}] parent ${parent?.historyLength ?? '?'} events; ${waveText}; ${memoryLine()}`;
      if (line !== lastLine) log(line);
      lastLine = line;
    }
    const outcome = await resultPromise;
    const wallMs = Date.now() - tStart;
    const peakRssKiB = readProcMemory(process.pid)?.hwmKiB ?? 0;
    const cpu = { workerCpuMs: cpuMs(process.pid) - cpuAtStart.worker, serverCpuMs: cpuMs(server.pid ?? 0) - cpuAtStart.server, serverCountersPerDevice: perDevice(countersAtStart, await readCounters(metricsUrl), o.devices), workerThreadsCpuMsPerDevice: threadCpuPerDevice(process.pid, threadsAtStart, threadCpuMs(process.pid), o.devices) };
    let report: { status?: string; rollout?: { devices: Array<{ outcome: string }>; omittedDeviceRows?: number } } | undefined;
    if (outcome.ok) report = outcome.report as typeof report;
    else if (outcome.err instanceof WorkflowFailedError && outcome.err.cause instanceof ApplicationFailure) report = outcome.err.cause.details?.[0] as typeof report;
    const outcomes = new Map<string, number>();
    for (const d of report?.rollout?.devices ?? []) outcomes.set(d.outcome, (outcomes.get(d.outcome) ?? 0) + 1);
    log(`\nrollout closed ${outcome.ok ? 'COMPLETED' : `FAILED (${(outcome.err as Error).message.slice(0, 200)})`} after ${secs(wallMs)}: status ${report?.status ?? '?'}; devices ${[...outcomes].map(([k, n]) => `${n} ${k}`).join(', ') || '(no rows in the report)'}${report?.rollout?.omittedDeviceRows ? ` (+ ${report.rollout.omittedDeviceRows} validated rows omitted from the compacted result)` : ''}`);
    if (!outcome.ok && !(outcome.err instanceof WorkflowFailedError)) throw outcome.err;

    // ---- figures ------------------------------------------------------------------------
    log('\nmeasuring histories…');
    const parentD = await describe(client, workflowId);
    const parentF = await fetchFigures(client, workflowId);
    log(`parent deployModel: ${parentD?.historyLength} events, ${kib(parentD?.historySizeBytes ?? 0)} (server's historySizeBytes; encoded ${kib(parentF.bytes)}); largest event ${kib(parentF.largestEventBytes)} (${parentF.largestEventType}); ${parentF.children} children, at most ${parentF.maxPendingChildren} pending at once`);
    const waveRows: Array<{ name: string; devices: number; d?: Described; f?: ReturnType<typeof historyFigures> }> = [];
    for (const [i, w] of planned.entries()) {
      const d = await describe(client, waveIds[i]);
      const f = d ? await fetchFigures(client, waveIds[i]) : undefined;
      waveRows.push({ name: w.name, devices: w.devices.length, d, f });
    }
    log('waves (rolloutWave children):');
    log('  wave        devices  events  history    largest event            max pending children  max starting  time');
    for (const r of waveRows) {
      const t = r.d?.startMs && r.d.closeMs ? secs(r.d.closeMs - r.d.startMs) : '-';
      log(`  ${r.name.padEnd(10)}  ${String(r.devices).padStart(7)}  ${String(r.d?.historyLength ?? '-').padStart(6)}  ${kib(r.d?.historySizeBytes ?? 0).padStart(9)}  ${`${kib(r.f?.largestEventBytes ?? 0)} ${r.f?.largestEventType ?? ''}`.padEnd(23).slice(0, 40)}  ${String(r.f?.maxPendingChildren ?? '-').padStart(20)}  ${String(r.f?.maxStartingChildren ?? '-').padStart(12)}  ${t}`);
    }
    const deviceIds = devices.map((id) => deviceRolloutWorkflowId(deploymentId, id, 'deploy'));
    const devD = await mapLimited(deviceIds, 32, (id) => describe(client, id));
    const ran = devD.map((d, i) => ({ d, id: deviceIds[i] })).filter((x): x is { d: Described; id: string } => x.d !== undefined);
    const maxDev = ran.reduce((a, b) => (b.d.historyLength > a.d.historyLength ? b : a), ran[0]);
    const devF = maxDev ? await fetchFigures(client, maxDev.id) : undefined;
    const meanDev = ran.reduce((s, x) => s + x.d.historyLength, 0) / Math.max(1, ran.length);
    log(`deviceRollout children: ${ran.length} ran; history ${Math.min(...ran.map((x) => x.d.historyLength))}–${maxDev?.d.historyLength} events (mean ${meanDev.toFixed(1)}); largest ${maxDev?.id}: ${kib(maxDev?.d.historySizeBytes ?? 0)}, largest event ${kib(devF?.largestEventBytes ?? 0)} (${devF?.largestEventType})`);
    const ownD = await mapLimited(devices, 32, (id) => describe(client, deviceOwnerWorkflowId(id)));
    const owners = ownD.filter((d): d is Described => d !== undefined);
    log(`deviceOwner workflows: ${owners.length} (${owners.filter((d) => d.status === 'RUNNING').length} running); history ${Math.min(...owners.map((d) => d.historyLength))}–${Math.max(...owners.map((d) => d.historyLength))} events`);
    const phases = waveRows.filter((r) => r.d?.startMs && r.d.closeMs);
    if (phases.length > 0) {
      const first = Math.min(...phases.map((r) => r.d!.startMs!));
      const last = Math.max(...phases.map((r) => r.d!.closeMs!));
      log(`time: total ${secs(wallMs)} wall (start → result); before the canary (GPU fakes, leases of ${o.devices} owners) ${secs(first - (parentD?.startMs ?? first))}; waves ${secs(last - first)} (${(o.devices / ((last - first) / 1000)).toFixed(1)} devices/s); after the last wave (lease release) ${secs((parentD?.closeMs ?? last) - last)}`);
    }
    const self = readProcMemory(process.pid);
    const srv = server.pid ? readProcMemory(server.pid) : undefined;
    let dbBytes = 0;
    try {
      dbBytes = statSync(dbFile).size;
    } catch {
      // no file
    }
    log(`memory: this process (workers, fakes, client) VmHWM ${mib(self?.hwmKiB ?? 0)}; dev server VmHWM ${srv ? mib(srv.hwmKiB) : '?'}; SQLite file ${kib(dbBytes)}`);

    // ---- against Temporal's limits ---------------------------------------------------------
    const L = TEMPORAL_LIMITS;
    const maxEvents = Math.max(parentD?.historyLength ?? 0, ...waveRows.map((r) => r.d?.historyLength ?? 0), maxDev?.d.historyLength ?? 0, ...owners.map((d) => d.historyLength));
    const maxBytes = Math.max(parentD?.historySizeBytes ?? 0, ...waveRows.map((r) => r.d?.historySizeBytes ?? 0), maxDev?.d.historySizeBytes ?? 0);
    const maxEvent = Math.max(parentF.largestEventBytes, ...waveRows.map((r) => r.f?.largestEventBytes ?? 0), devF?.largestEventBytes ?? 0);
    const maxPending = Math.max(parentF.maxPendingChildren, ...waveRows.map((r) => r.f?.maxPendingChildren ?? 0));
    log('\nagainst Temporal\'s default limits (measured maximum over parent, waves, devices, owners):');
    log(`  pending children per workflow  ${maxPending} of ${L.pendingChildrenPerWorkflow} (${pct(maxPending, L.pendingChildrenPerWorkflow)})`);
    log(`  events per history             ${maxEvents} of ${L.historyEvents} (${pct(maxEvents, L.historyEvents)}; warning at ${L.historyEventsWarn})`);
    log(`  bytes per history              ${kib(maxBytes)} of 50 MiB (${pct(maxBytes, L.historyBytes)}; warning at 10 MiB)`);
    log(`  largest event (≈ payload)      ${kib(maxEvent)} of 2 MiB (${pct(maxEvent, L.payloadBytes)}; warning at 512 KiB)`);
    const approached = maxPending > 0.5 * L.pendingChildrenPerWorkflow || maxEvents > L.historyEventsWarn || maxBytes > L.historyBytesWarn || maxEvent > L.payloadBytesWarn;
    log(`  → ${approached ? 'a limit is APPROACHED (past a warning level or half of the pending-children limit)' : 'no limit approached (all below the warning levels)'}`);
    // Linear extrapolation: the parent grows per wave, a wave per device, each payload with its rows.
    const waveCount = planned.length;
    const perWaveParent = ((parentD?.historyLength ?? 0) - 0) / waveCount;
    const w = waveRows.filter((r) => r.d && r.devices > 0);
    const perDeviceWave = w.reduce((s, r) => s + r.d!.historyLength / r.devices, 0) / Math.max(1, w.length);
    const per10k = 10_000 / o.devices;
    log(`  extrapolated: parent ≈ ${perWaveParent.toFixed(1)} events per wave (${Math.round(perWaveParent * (1 + Math.ceil((10_000 - canary * per10k) / o.waveSize)))} events for 10,000 devices in waves of ${o.waveSize}); a wave ≈ ${perDeviceWave.toFixed(2)} events per device (one wave of ${Math.floor(L.historyEvents / perDeviceWave)} devices would reach 51,200); parent's largest event × ${per10k.toFixed(1)} ≈ ${kib(parentF.largestEventBytes * per10k)} at 10,000 devices`);
    const figures = await programFigures('edgeship', client, { devices: o.devices, waveWorkflowIds: waveIds.filter((_, k) => waveRows[k].d?.closeMs !== undefined), wallMs, peakRssKiB, ...cpu }, log);
    log(`edgeship: ${figures.devicesPerSecond.toFixed(1)} devices/s through the waves; ${figures.eventsPerDevice.toFixed(1)} events, ${figures.workflowTasksPerDevice.toFixed(1)} workflow tasks, ${figures.activitiesPerDevice.toFixed(2)} activities per device; peak RSS ${mib(peakRssKiB)} (when the rollout closed)`);
    writeResult(figures);
  } finally {
    const tStop = Date.now();
    await stopWorkers();
    await nativeConnection?.close().catch(() => undefined);
    await connection?.close().catch(() => undefined);
    await server?.stop();
    dropLock();
    if (!o.keep) {
      for (const f of scratch()) rmSync(f, { force: true });
      if (readdirSync(dir).length === 0) rmdirSync(dir);
    }
    log(`teardown ${secs(Date.now() - tStop)}; whole script ${secs(Date.now() - t0)}`);
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench:fleet-scale: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
