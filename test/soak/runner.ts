// The randomized invariant run: a Temporal dev server, simulated OpenSSH devices (each with its
// runtime and edge worker process), a GPU worker process, and seeded batches of overlapping
// deployments with random approve / reject / cancel timing and kill -9 of workers. After each
// batch every run has closed and the invariants are checked against the devices themselves.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import * as path from 'node:path';
import { Client, Connection, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { awaitFinalReport, readDeployment } from '../../clients/deploymentState';
import { startDeployment } from '../../clients/startDeployment';
import { exportModel } from '../../activities/gpu/exportModel';
import { ArtifactStore } from '../../activities/gpu/artifactStore';
import { ensureDemoCheckpoint } from '../../activities/gpu/demoCheckpoint';
import { PROJECT_ROOT } from '../../lib/paths';
import { parseDeployRequest } from '../../common/request';
import { DEPLOY_MODEL_WORKFLOW_TYPE } from '../../common/workflowNames';
import { approveSignal, rejectSignal } from '../../workflows/messages';
import type { DeploymentReport } from '../../workflows/report';
import { startDevServer } from '../../lib/devServer';
import { freePort } from '../../sim/net';
import { startSimulatedFleet, type SimulatedFleet } from '../../sim/fleet';
import { checkInvariants, Ledger } from './invariants';
import { planSoak, type PlannedBatch, type PlannedDeployment } from './plan';

export interface SoakOptions {
  runs: number;
  seed: number;
  devices: number;
  maxConcurrent: number;
  killProbability: number;
  workDir: string;
  /** Where the demo checkpoint is made or found (default: workDir). */
  checkpointDir?: string;
  /** Scratch root whose leftovers of a killed soak may be removed. */
  disposableRoot?: string;
  log: (line: string) => void;
}

export interface SoakResult {
  seed: number;
  runs: number;
  outcomes: Record<string, number>;
  kills: { edge: number; gpu: number };
  violations: string[];
  wallMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The GPU worker as its own process, so it can be killed as a crash would. */
class GpuWorkerProcess {
  private child?: ChildProcess;

  constructor(private readonly inventoryPath: string, private readonly address: string, private readonly storeDir: string, private readonly logFile: string) {}

  start(): void {
    const log = openSync(this.logFile, 'a');
    this.child = spawn(process.execPath, ['--import', 'tsx', 'workers/gpu.ts', '--inventory', this.inventoryPath, '--address', this.address], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', log, log],
      env: { ...process.env, EDGESHIP_ARTIFACT_STORE: this.storeDir },
    });
    closeSync(log);
  }

  kill(): void {
    this.child?.kill('SIGKILL');
    this.child = undefined;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(35_000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

interface Stack {
  client: Client;
  fleet: SimulatedFleet;
  gpu: GpuWorkerProcess;
  checkpoint: string;
  stop(): Promise<void>;
}

async function startStack(opts: SoakOptions): Promise<Stack> {
  const stops: Array<() => Promise<void>> = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s().catch((err: unknown) => opts.log(`teardown: ${(err as Error).message}`));
  };
  try {
    mkdirSync(opts.workDir, { recursive: true });
    const port = await freePort();
    const server = await startDevServer({ dbFile: path.join(opts.workDir, `temporal-${port}.sqlite`), port, headless: true });
    stops.push(() => server.stop());
    const checkpoint = await ensureDemoCheckpoint(path.join(opts.checkpointDir ?? opts.workDir, 'tcn-vae-demo.pt'));
    const storeDir = path.join(opts.workDir, 'artifacts');
    const baseline = await exportModel({ modelName: 'soak-baseline', source: { kind: 'checkpoint', checkpointPath: checkpoint.path }, conv2d: false }, new ArtifactStore(storeDir));
    const fleet = await startSimulatedFleet({
      count: opts.devices,
      baseDir: path.join(opts.workDir, 'fleet'),
      target: 'cpu-int8',
      sshServer: 'auto',
      baseline: { modelPath: baseline.onnx.path, metadataPath: baseline.metadataPath },
      startEdgeWorkers: { temporalAddress: server.address },
      disposableRoot: opts.disposableRoot,
    });
    stops.push(() => fleet.stop());
    const connection = await Connection.connect({ address: server.address });
    stops.push(() => connection.close());
    const gpu = new GpuWorkerProcess(fleet.inventoryPath, server.address, storeDir, path.join(opts.workDir, 'gpu-worker.log'));
    gpu.start();
    stops.push(() => gpu.stop());
    opts.log(`stack: Temporal ${server.address}, ${fleet.devices.length} devices (${fleet.sshServerKind} SSH), GPU worker process`);
    return { client: new Client({ connection }), fleet, gpu, checkpoint: checkpoint.path, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function requestFor(stack: Stack, d: PlannedDeployment) {
  const failing = d.decision === 'approve-fails';
  return parseDeployRequest({
    modelName: d.spec.modelName,
    source: { kind: 'checkpoint', checkpointPath: stack.checkpoint },
    target: d.spec.target,
    conv2d: d.spec.conv2d,
    devices: d.devices,
    calibration: { samples: 512 },
    // approve-fails: a latency gate no device meets, so validation fails after the swap.
    gates: { minThroughputRps: 1, p95LatencyMs: failing ? 0.001 : 1000 },
    validation: { latencyRequests: 100, concurrency: 2, throughputDurationMs: 500 },
    approval: { required: true, timeout: '10m' },
    edge: { healthTimeoutMs: 30_000, deviceDeadline: '10m', queueWait: '1m' },
  });
}

type RunOutcome = { kind: 'report'; report: DeploymentReport } | { kind: 'refused-duplicate' } | { kind: 'no-report'; why: string };

/** Starts one planned deployment and takes its decision when the plan says. */
async function drive(stack: Stack, d: PlannedDeployment, batchStart: number): Promise<RunOutcome> {
  await sleep(Math.max(0, batchStart + d.startAtMs - Date.now()));
  let started;
  try {
    started = await startDeployment(stack.client, requestFor(stack, d));
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { kind: 'refused-duplicate' };
    throw err;
  }
  const { workflowId, runId, handle } = started;
  const t0 = Date.now();
  if (d.decision === 'cancel') {
    await sleep(d.atMs);
    await handle.cancel().catch(() => undefined);
  } else {
    // Wait for the approval stage (or an early end), then decide after the planned delay.
    for (;;) {
      const { status, server } = await readDeployment(stack.client, workflowId, { queryTimeoutMs: 2000 }).catch(() => ({ status: undefined, server: undefined }));
      if (server && server.executionStatus !== 'RUNNING') break;
      if (status?.awaiting) {
        await sleep(d.atMs);
        if (d.decision === 'reject') await handle.signal(rejectSignal, { by: 'soak', reason: `planned reject (${d.label})` });
        else await handle.signal(approveSignal, { by: 'soak', comment: d.label });
        break;
      }
      if (Date.now() - t0 > 600_000) return { kind: 'no-report', why: 'no approval stage within 10 min' };
      await sleep(300);
    }
  }
  try {
    const { report } = await awaitFinalReport(stack.client, workflowId, runId);
    return { kind: 'report', report };
  } catch (err) {
    return { kind: 'no-report', why: (err as Error).message };
  }
}

async function injectKills(stack: Stack, batch: PlannedBatch, batchStart: number, counts: SoakResult['kills'], log: SoakOptions['log']): Promise<void> {
  await Promise.all(
    batch.kills.map(async (k) => {
      await sleep(Math.max(0, batchStart + k.atMs - Date.now()));
      if (k.worker === 'edge' && k.deviceId) {
        const pid = stack.fleet.killEdgeWorker(k.deviceId);
        if (pid === undefined) return;
        counts.edge++;
        log(`  kill -9 edge worker of ${k.deviceId} (pid ${pid}); back in ${k.downMs} ms`);
        await sleep(k.downMs);
        stack.fleet.restartEdgeWorker(k.deviceId);
      } else {
        // A GPU activity cut off waits out its heartbeat timeout (minutes) before its retry: the
        // kill waits for a moment with none running, so it hits the workflow tasks instead.
        await waitForGpuQuiet(stack.client, 20_000);
        counts.gpu++;
        log(`  kill -9 GPU worker; back in ${k.downMs} ms`);
        stack.gpu.kill();
        await sleep(k.downMs);
        stack.gpu.start();
      }
    }),
  );
}

/** Stages in which a deployment runs no activity on the GPU worker. */
const GPU_QUIET_STAGES = new Set(['lease', 'approval', 'swap', 'validate', 'compensate', 'done']);

async function waitForGpuQuiet(client: Client, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    let quiet = true;
    for await (const info of client.workflow.list({ query: `WorkflowType = '${DEPLOY_MODEL_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'` })) {
      const stage = (info.memo?.edgeship as { stage?: string } | undefined)?.stage;
      if (!stage || !GPU_QUIET_STAGES.has(stage)) quiet = false;
    }
    if (quiet) return;
    await sleep(200);
  }
}

export async function runSoak(opts: SoakOptions): Promise<SoakResult> {
  const t0 = performance.now();
  opts.log(`soak: seed ${opts.seed}, ${opts.runs} runs, ${opts.devices} devices, up to ${opts.maxConcurrent} at once, kill probability ${opts.killProbability}`);
  const stack = await startStack(opts);
  const outcomes: Record<string, number> = {};
  const kills = { edge: 0, gpu: 0 };
  const violations: string[] = [];
  try {
    const ids = stack.fleet.devices.map((d) => d.id);
    const ledger = new Ledger(stack.fleet.devices.map((d) => ({ id: d.id, baselineSha256: d.baselineSha256 ?? '', healthUrl: d.spec.healthUrl, modelDir: d.spec.modelDir, keepBackups: d.spec.keepBackups })));
    const batches = planSoak(opts.seed, { runs: opts.runs, deviceIds: ids, maxConcurrent: opts.maxConcurrent, killProbability: opts.killProbability });
    for (const batch of batches) {
      const batchStart = Date.now();
      opts.log(`batch ${batch.index}: ${batch.deployments.map((d) => `${d.label} ${d.spec.key}→[${d.devices.join(',')}] ${d.decision}`).join(' · ')}`);
      const [results] = await Promise.all([Promise.all(batch.deployments.map((d) => drive(stack, d, batchStart))), injectKills(stack, batch, batchStart, kills, opts.log)]);
      const reports: DeploymentReport[] = [];
      results.forEach((r, i) => {
        const label = batch.deployments[i].label;
        const key = r.kind === 'report' ? r.report.status : r.kind;
        outcomes[key] = (outcomes[key] ?? 0) + 1;
        if (r.kind === 'report') {
          reports.push(r.report);
          ledger.add(r.report);
          opts.log(`  ${label} ${r.report.deploymentId}: ${r.report.status}${r.report.failure ? ` (${r.report.failure.stage}: ${r.report.failure.type})` : ''}`);
        } else if (r.kind === 'no-report') {
          violations.push(`${label}: ${r.why}`);
        }
      });
      const found = await checkInvariants(stack.client, ledger, reports);
      for (const v of found) opts.log(`  VIOLATION ${v}`);
      violations.push(...found.map((v) => `batch ${batch.index}: ${v}`));
    }
  } finally {
    await stack.stop();
  }
  return { seed: opts.seed, runs: opts.runs, outcomes, kills, violations, wallMs: Math.round(performance.now() - t0) };
}
