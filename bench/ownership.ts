// npm run bench:ownership — what device ownership costs a deployment, on a real Temporal dev
// server with the real deviceOwner workflow and lease activities. Export, compile and the device
// activities are the workflow tests' stand-ins (sim/standIns.ts): they answer
// at once, so what is timed is the orchestration, not a model.
// Prints: the lease stage's time per deployment (asking each device's owner, update-with-start),
// the time from a holder's close to the queued deployment holding the lease, and the release.
import { Client } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { createOwnershipActivities } from '../activities/gpu/ownership';
import { awaitFinalReport } from '../clients/deploymentState';
import { startDeployment } from '../clients/startDeployment';
import { percentile } from '../common/percentiles';
import { edgeTaskQueue } from '../common/queues';
import { createControlAndGpuWorkers } from '../workers/gpuWorker';
import { parseDeployRequest } from '../common/request';
import { SA_DEVICES, SA_MODEL, SA_SHA, SA_STAGE, SA_STATUS } from '../common/searchAttributes';
import { DEV_SERVER_FLAGS, findTemporalCli } from '../lib/temporalCli';
import { StandInFleet, sha } from '../sim/standIns';
// A versioned identity, as a real edge worker has: the lease step's version gate lets it through.
import { testEdgeIdentity } from '../test/helpers/edgeIdentity';
import { approveSignal, statusQuery } from '../workflows/messages';
import type { DeploymentReport } from '../workflows/report';

const DEVICES = ['bench-1', 'bench-2'];
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);

function request(name: string, approval: boolean) {
  return parseDeployRequest({
    modelName: name,
    source: { kind: 'checkpoint', checkpointPath: `/bench/${name}.pt` },
    sourceSha256: sha(`/bench/${name}.pt`),
    target: 'cpu-int8',
    devices: DEVICES,
    approval: { required: approval, timeout: '10m' },
  });
}

const stageMs = (r: DeploymentReport, stage: string): number => r.stages.find((s) => s.stage === stage)?.durationMs ?? NaN;
const q = (xs: number[], rank: number): number => percentile([...xs].sort((a, b) => a - b), rank);
const fmt = (xs: number[]): string => `median ${q(xs, 0.5).toFixed(1)} ms, p95 ${q(xs, 0.95).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms (n=${xs.length})`;

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: findTemporalCli() }, searchAttributes: [SA_MODEL, SA_SHA, SA_STAGE, SA_STATUS, SA_DEVICES], extraArgs: ['--log-level', 'error', ...DEV_SERVER_FLAGS] },
  });
  const fleet = new StandInFleet(DEVICES);
  const client: Client = env.client;
  const workers = [
    ...(await createControlAndGpuWorkers({ connection: env.nativeConnection, workflowsPath: require.resolve('../workflows'), activities: { ...fleet.gpuActivities(), ...createOwnershipActivities(client) } })),
    ...(await Promise.all(DEVICES.map((id) => Worker.create({ connection: env.nativeConnection, taskQueue: edgeTaskQueue(id), activities: fleet.edgeActivities(id), identity: testEdgeIdentity(id) })))),
  ];
  const running = Promise.all(workers.map((w) => w.run()));
  try {
    // 1. The lease stage of a deployment nobody competes with (first round: owners are created).
    const leaseMs: number[] = [];
    const wallMs: number[] = [];
    for (let i = 0; i < ROUNDS + 1; i++) {
      const started = await startDeployment(client, request(`solo-${i}`, false));
      const { report } = await awaitFinalReport(client, started.workflowId, started.runId);
      if (i === 0) {
        process.stdout.write(`first lease (owner workflows started by update-with-start): ${stageMs(report, 'lease').toFixed(1)} ms for ${DEVICES.length} devices\n`);
        continue;
      }
      leaseMs.push(stageMs(report, 'lease'));
      wallMs.push(report.timing?.wallMs ?? NaN);
    }
    process.stdout.write(`lease stage, ${DEVICES.length} idle devices: ${fmt(leaseMs)}\n`);
    process.stdout.write(`whole deployment (stand-in activities, no approval): ${fmt(wallMs)} → the lease is ${((q(leaseMs, 0.5) / q(wallMs, 0.5)) * 100).toFixed(0)} % of it\n`);

    // 2. A queued deployment: from the holder's close to the waiting run holding every lease.
    const handoffMs: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const holder = await startDeployment(client, request(`holder-${i}`, true));
      for (;;) {
        if ((await holder.handle.query(statusQuery)).awaiting) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const queued = await startDeployment(client, request(`queued-${i}`, false));
      for (;;) {
        if ((await queued.handle.query(statusQuery)).status === 'queued') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await holder.handle.signal(approveSignal, { by: 'bench' });
      await awaitFinalReport(client, holder.workflowId, holder.runId);
      const closedAt = (await holder.handle.describe()).closeTime?.getTime() ?? NaN;
      const { report } = await awaitFinalReport(client, queued.workflowId, queued.runId);
      const lease = report.stages.find((s) => s.stage === 'lease');
      const leasedAt = lease ? Date.parse(lease.startedAt) + (lease.durationMs ?? NaN) : NaN;
      handoffMs.push(leasedAt - closedAt);
    }
    process.stdout.write(`queued deployment holds the lease after the holder closed: ${fmt(handoffMs)}\n`);
    process.stdout.write('(times are workflow time from the Temporal server on this machine; the holder releases before it closes, so a handoff can be negative)\n');
  } finally {
    for (const w of workers) w.shutdown();
    await running;
    await env.teardown();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:ownership: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
