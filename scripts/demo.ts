// `npm run demo`: the whole pipeline on an embedded default. Starts the Temporal dev server,
// makes the demo model, brings up simulated devices and workers, deploys, waits for approval
// (or approves with --auto-approve), prints the report and writes it as JSON. --rollout deploys
// with a fleet rollout plan: canary, approval with the canary's figures, then the waves.
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { stateDir } from '../lib/paths';
import { deploymentWorkflowId, type DeployRequest } from '../common/request';
import { sourceSha256, startDeployment } from '../clients/startDeployment';
import { approveSignal, statusQuery } from '../workflows/messages';
import { awaitFinalReport } from '../clients/deploymentState';
import { buildDemoRequest, ROLLBACK_DEMO_P95_MS } from '../sim/demoRequest';
import { demoWorkDir, startDemoStack } from '../sim/demoStack';
import { renderStatus } from '../clients/format';
import { canaryDecisionLines, servedModels, waveSummaryLines } from './demo/narrate';
import { newRolloutWatchState, rolloutUpdates, updateLines } from '../clients/fleetFormat';
import { readLiveWaves } from '../clients/fleetState';
import { planWaves } from '../workflows/fleet/plan';
import type { deployModel } from '../workflows';
import { ensureDemoSystemPackages } from '../lib/toolchain';

interface DemoOptions {
  autoApprove: boolean;
  keepRunning: boolean;
  rollback: boolean;
  degenerate: boolean;
  rollout: boolean;
  devices: number;
  ssh: 'auto' | 'openssh' | 'embedded';
  minRps: number;
  p95Ms: number;
}

const DEFAULTS = { devices: 2, minRps: 250, p95Ms: 50 };
/**
 * Real devices validate on their own CPUs; the simulated devices of a wave (and the old-model
 * devices measured next to the canary) validate at once on this machine's shared cores, so
 * the rollout demo's gates leave room for that contention.
 */
const ROLLOUT_DEFAULTS = { devices: 4, minRps: 25, p95Ms: 100 };

function parseArgs(argv: string[]): DemoOptions {
  const program = new Command('npm run demo --')
    .description('Run the edgeship pipeline end to end on this machine: Temporal dev server (UI on :8233), simulated devices (2, or 4 with --rollout; sshd, runtime, edge worker each), GPU worker, one deployment.')
    .option('--auto-approve', 'approve the production swap as "demo" once it waits for approval (default: wait for a person)', false)
    .option('--keep-running', 'leave the dev server, devices and workers up to explore in the UI (Ctrl-C stops them)', false)
    .option('--rollback', `the compensation demo: the demo model with a device p95 gate of ${ROLLBACK_DEMO_P95_MS} ms that no device meets; validation fails after the swap and every device ends serving its backed-up model`, false)
    .option('--degenerate', 'the pre-flight demo: a candidate whose embeddings collapsed to one point; it fails on the GPU server before any device is touched', false)
    .option('--rollout', 'the fleet rollout demo: canary 1 device, approval after it (showing the canary\'s figures next to devices still on the old model), then 50 % of the fleet, then the rest, up to 4 devices at once; with --rollback the canary fails its validation, the rollout halts and the canary is restored', false)
    .option('--devices <n>', 'number of simulated devices (1-64, default 2; with --rollout 2-64, default 4; above 10 their edge workers run 10 to a process and their runtimes lean, see sim/fleet.ts)', parseDeviceCount)
    .addOption(new Option('--ssh <kind>', 'SSH server of the simulated devices').choices(['auto', 'openssh', 'embedded']).default('auto'))
    .option('--min-rps <n>', `throughput gate of the validation (req/s; default ${DEFAULTS.minRps}, with --rollout ${ROLLOUT_DEFAULTS.minRps}: a wave's simulated devices validate at once on this machine's shared cores)`, Number)
    .option('--p95-ms <n>', `p95 latency gate of the validation (ms; default ${DEFAULTS.p95Ms}, with --rollout ${ROLLOUT_DEFAULTS.p95Ms})`, Number)
    .showHelpAfterError();
  program.parse(argv, { from: 'user' });
  const opts = program.opts<Omit<DemoOptions, 'devices' | 'minRps' | 'p95Ms'> & { devices?: number; minRps?: number; p95Ms?: number }>();
  if (opts.rollout && opts.devices !== undefined && opts.devices < 2) program.error('error: --rollout needs --devices 2 or more (a canary and at least one device after it)');
  const defaults = opts.rollout ? ROLLOUT_DEFAULTS : DEFAULTS;
  return { ...opts, devices: opts.devices ?? defaults.devices, minRps: opts.minRps ?? defaults.minRps, p95Ms: opts.p95Ms ?? defaults.p95Ms };
}

function parseDeviceCount(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 64) throw new InvalidArgumentError('expected an integer 1..64');
  return Number(value);
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (!(await ensureDemoSystemPackages(opts.ssh))) {
    process.exitCode = 1;
    return;
  }
  // The GPU worker runs in this process: keep the SDK's per-activity INFO lines off the narrative.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const workDir = demoWorkDir(stateDir());
  const stack = await startDemoStack({
    workDir,
    deviceCount: opts.devices,
    target: 'cpu-int8',
    ssh: opts.ssh,
    devServer: { dbFile: path.join(stateDir(), 'temporal', 'dev.sqlite'), port: 7233, uiPort: 8233 },
    log,
  });
  const { fleet } = stack;
  const mem = fleet.memory().total;
  log(`fleet: ${fleet.devices.length} devices started in ${(fleet.startedInMs / 1000).toFixed(1)} s; edge workers in ${fleet.workerGroups.length} process(es) of up to ${Math.max(...fleet.workerGroups.map((g) => g.length))} devices; memory of its ${mem.processes} processes: peak ΣVmHWM ${(mem.hwmKiB / 1024).toFixed(0)} MiB, ΣPss ${(mem.pssKiB / 1024).toFixed(0)} MiB`);
  let interrupted = false;
  let running: { workflowId: string; runId: string } | undefined;
  const onSignal = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log('\ninterrupted: tearing down what the demo started (Ctrl-C again to exit at once)');
    // The deployment's devices go away with the stack: end its run too, or it would wait in the
    // dev server's database (and refuse the next demo's start of the same id).
    const ending = running ? terminateDemoRun(stack.client, running, 'the demo was interrupted; its simulated devices were torn down') : Promise.resolve();
    void ending.then(() => stack.stop()).then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    if (opts.rollback && opts.degenerate) throw new Error('choose --rollback or --degenerate, not both');
    const mode = opts.rollback ? 'rollback' : opts.degenerate ? 'degenerate' : 'deploy';
    const request = buildDemoRequest(stack, { mode, minRps: opts.minRps, p95Ms: opts.p95Ms, rollout: opts.rollout });
    await terminateLeftoverDemoRuns(stack.client, request, log);
    const started = await startDeployment(stack.client, request);
    running = { workflowId: started.workflowId, runId: started.runId };
    const uiLink = stack.uiUrl ? `${stack.uiUrl}/namespaces/${stack.namespace}/workflows/${encodeURIComponent(started.workflowId)}` : undefined;
    log(`\ndeployment started: ${started.workflowId}`);
    if (uiLink) log(`Temporal UI: ${uiLink}`);

    if (opts.rollout) {
      // Canary, approval, waves: followed until the run ends (approvals answered on the way).
      await followRollout(stack.client, started.handle, request, opts.autoApprove);
    } else {
      // Wait for the approval stage (or an early end) by polling the status query.
      for (;;) {
        const status = await started.handle.query(statusQuery);
        if (status.finished || status.awaiting) {
          if (status.awaiting) log(`\n${renderStatus(status)}`);
          break;
        }
        await new Promise((r) => setTimeout(r, 500));
      }

      const status = await started.handle.query(statusQuery);
      if (status.awaiting) {
        if (opts.autoApprove) {
          await started.handle.signal(approveSignal, { by: 'demo --auto-approve', comment: 'approved by the demo script' });
          log('approved (signal `approve`, by "demo --auto-approve")');
        } else {
          log('waiting for a person to approve or reject (any of the ways above)…');
        }
      }
    }

    // A run that did not deploy closes Failed in Temporal; its report comes with the failure.
    const { report, executionStatus } = await awaitFinalReport(stack.client, started.workflowId, started.runId);
    log(`Temporal closed the run as ${executionStatus}`);
    const reportsDir = path.join(workDir, 'reports');
    mkdirSync(reportsDir, { recursive: true });
    const reportPath = path.join(reportsDir, `${report.deploymentId}-${report.runId}.json`);
    writeFileSync(reportPath, `${JSON.stringify(report, null, 2)}\n`);
    log(`\n${renderStatus(report)}`);
    if (report.rollout) log(`\n${waveSummaryLines(report).join('\n')}\n`);
    log(await servedModels(stack.fleet, report, stack.baselineSha256));
    log(`report JSON: ${reportPath}`);

    if (opts.keepRunning) {
      log(`\n--keep-running: the stack stays up. Temporal UI: ${stack.uiUrl ?? stack.address}. Ctrl-C tears it down.`);
      await new Promise<void>(() => undefined);
    }
    const expected = mode === 'rollback' ? 'rolled-back' : mode === 'degenerate' ? 'failed' : 'completed';
    process.exitCode = report.status === expected ? 0 : 1;
    if (report.status !== expected) log(`the demo expected status ${expected}, got ${report.status}`);
  } catch (err) {
    // Ctrl-C closes the client under the waiting code: the teardown in onSignal exits, quietly.
    if (interrupted) return new Promise<never>(() => undefined);
    throw err;
  } finally {
    if (!interrupted && (!opts.keepRunning || process.exitCode)) await stack.stop();
  }
}

/**
 * --rollout: follows the run until it ends, as `edgeship watch` does (stage changes, a line per
 * wave as its state or counts change, devices that end other than validated, the halt); at each
 * approval it shows the canary's figures next to devices still on the old model (the status
 * query's decisionFigures.canaryComparison), then approves with --auto-approve or waits.
 */
async function followRollout(client: Client, handle: WorkflowHandle<typeof deployModel>, request: DeployRequest, autoApprove: boolean): Promise<void> {
  if (request.rollout) {
    const waves = planWaves(request.devices, request.rollout);
    log(`plan: ${waves.map((w) => `${w.name} [${w.devices.join(', ')}]`).join(' → ')}; up to ${request.rollout.maxParallel} devices at once; approval ${request.approval.required ? request.rollout.approval : 'none'}; on halt ${request.rollout.onHalt}`);
  }
  const watch = newRolloutWatchState();
  watch.canaryShown = true; // shown below, with the approval
  const answered = new Set<string>();
  let stage = '';
  for (;;) {
    const status = await handle.query(statusQuery);
    if (status.stage !== stage && !status.finished) {
      stage = status.stage;
      log(`stage ${stage}`);
    }
    const live = status.rollout && !status.finished ? await readLiveWaves(client, status.rollout) : {};
    // Waves still pending are in the plan line above; print them once they move.
    const updates = rolloutUpdates(watch, status, live).filter((u) => !(u.type === 'wave' && u.state === 'pending'));
    for (const line of updateLines(updates)) log(line);
    if (status.finished) return;
    if (status.awaiting) {
      const key = `${status.awaiting.gate ?? ''}@${status.awaiting.since}`;
      if (!answered.has(key)) {
        answered.add(key);
        log('');
        for (const line of canaryDecisionLines(status)) log(line);
        if (autoApprove) {
          await handle.signal(approveSignal, { by: 'demo --auto-approve', comment: 'approved by the demo script after the canary comparison' });
          log(`approved${status.awaiting.gate ? ` ${status.awaiting.gate}` : ''} (signal \`approve\`, by "demo --auto-approve")\n`);
        } else {
          log('waiting for a person to approve or reject:');
          for (const how of status.awaiting.how) log(`  $ ${how}`);
        }
      }
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Ends one demo run (Terminated in the UI, with the reason); nothing to do if it has closed. */
async function terminateDemoRun(client: Client, run: { workflowId: string; runId: string }, reason: string): Promise<void> {
  await client.workflow.getHandle(run.workflowId, run.runId).terminate(reason).catch(() => undefined);
}

/**
 * A demo killed before it could clean up (kill -9, a closed terminal) leaves its run open in the
 * persistent dev server, waiting for devices that no longer exist: end it, saying so.
 */
async function terminateLeftoverDemoRuns(client: Client, request: DeployRequest, say: (line: string) => void): Promise<void> {
  const workflowId = deploymentWorkflowId(request.modelName, request.target, request.sourceSha256 ?? (await sourceSha256(request.source)));
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    if (d.status.name !== 'RUNNING') return;
    await terminateDemoRun(client, { workflowId, runId: d.runId }, 'left open by an earlier demo that was interrupted; its simulated devices are gone');
    say(`terminated ${workflowId}: an earlier demo left it open (its devices are gone)`);
  } catch {
    // No such workflow yet: nothing left over.
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
