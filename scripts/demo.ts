// `npm run demo`: the whole pipeline on an embedded default. Starts the Temporal dev server,
// makes the demo model, brings up simulated devices and workers, deploys, waits for approval
// (or approves with --auto-approve), prints the report and writes it as JSON.
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { stateDir } from '../common/paths';
import { deploymentWorkflowId, type DeployRequest } from '../common/request';
import { sourceSha256, startDeployment } from '../clients/startDeployment';
import { approveSignal, statusQuery } from '../workflows/messages';
import { awaitFinalReport } from '../clients/deploymentState';
import { buildDemoRequest, ROLLBACK_DEMO_P95_MS } from './demo/request';
import { demoWorkDir, startDemoStack } from './demo/stack';
import { renderStatus } from '../clients/format';
import { servedModels } from './demo/narrate';
import { ensureDemoSystemPackages } from './lib/toolchain';

interface DemoOptions {
  autoApprove: boolean;
  keepRunning: boolean;
  rollback: boolean;
  degenerate: boolean;
  devices: number;
  ssh: 'auto' | 'openssh' | 'embedded';
  minRps: number;
  p95Ms: number;
}

function parseArgs(argv: string[]): DemoOptions {
  const program = new Command('npm run demo --')
    .description('Run the edgeship pipeline end to end on this machine: Temporal dev server (UI on :8233), 2 simulated devices (sshd, runtime, edge worker each), GPU worker, one deployment.')
    .option('--auto-approve', 'approve the production swap as "demo" once it waits for approval (default: wait for a person)', false)
    .option('--keep-running', 'leave the dev server, devices and workers up to explore in the UI (Ctrl-C stops them)', false)
    .option('--rollback', `the compensation demo: the demo model with a device p95 gate of ${ROLLBACK_DEMO_P95_MS} ms that no device meets; validation fails after the swap and every device ends serving its backed-up model`, false)
    .option('--degenerate', 'the pre-flight demo: a candidate whose embeddings collapsed to one point; it fails on the GPU server before any device is touched', false)
    .option('--devices <n>', 'number of simulated devices (1-64; above 10 their edge workers run 10 to a process and their runtimes lean, see scripts/sim/fleet.ts)', parseDeviceCount, 2)
    .addOption(new Option('--ssh <kind>', 'SSH server of the simulated devices').choices(['auto', 'openssh', 'embedded']).default('auto'))
    .option('--min-rps <n>', 'throughput gate of the validation (req/s)', Number, 250)
    .option('--p95-ms <n>', 'p95 latency gate of the validation (ms)', Number, 50)
    .showHelpAfterError();
  program.parse(argv, { from: 'user' });
  return program.opts<DemoOptions>();
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
    const request = buildDemoRequest(stack, { mode, minRps: opts.minRps, p95Ms: opts.p95Ms });
    await terminateLeftoverDemoRuns(stack.client, request, log);
    const started = await startDeployment(stack.client, request);
    running = { workflowId: started.workflowId, runId: started.runId };
    const uiLink = stack.uiUrl ? `${stack.uiUrl}/namespaces/${stack.namespace}/workflows/${encodeURIComponent(started.workflowId)}` : undefined;
    log(`\ndeployment started: ${started.workflowId}`);
    if (uiLink) log(`Temporal UI: ${uiLink}`);

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

    // A run that did not deploy closes Failed in Temporal; its report comes with the failure.
    const { report, executionStatus } = await awaitFinalReport(stack.client, started.workflowId, started.runId);
    log(`Temporal closed the run as ${executionStatus}`);
    const reportsDir = path.join(workDir, 'reports');
    mkdirSync(reportsDir, { recursive: true });
    const reportPath = path.join(reportsDir, `${report.deploymentId}-${report.runId}.json`);
    writeFileSync(reportPath, `${JSON.stringify(report, null, 2)}\n`);
    log(`\n${renderStatus(report)}`);
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
