// edgeship watch <id>: follows a deployment stage by stage until it ends, then prints the final
// report. Exit code 0 when it completed, 3 when it ended otherwise (rolled back, rejected,
// failed, cancelled), 1 on errors — so scripts can gate on it.
import { Command, Option } from 'commander';
import type { Client } from '@temporalio/client';
import type { DeploymentStatus } from '../../workflows/report';
import { readDeployment } from '../deploymentState';
import { deviceLine, renderStatus, stageLine } from '../format';
import { printJson, UserError, withClient, withCommonOptions, type CommonOptions } from './shared';

interface WatchOptions extends CommonOptions {
  interval: string;
}

/** Lines describing what changed between two snapshots (all of it when there is no previous). */
export function changes(prev: DeploymentStatus | undefined, next: DeploymentStatus): string[] {
  const out: string[] = [];
  if (!prev || prev.status !== next.status) out.push(`status: ${next.status}`);
  next.stages.forEach((s, i) => {
    const before = prev?.stages[i];
    if (!before || before.outcome !== s.outcome) out.push(`  ${stageLine(s)}`);
  });
  for (const d of next.devices) {
    const before = prev?.devices.find((p) => p.deviceId === d.deviceId);
    if (!before || before.phase !== d.phase) out.push(`    ${deviceLine(d)}`);
  }
  if (next.awaiting && !prev?.awaiting) {
    const f = next.decisionFigures;
    out.push(`  awaiting approval until ${next.awaiting.deadline}`);
    if (f?.parity) out.push(`    parity min cosine ${f.parity.minCosine.toFixed(6)} (gate ${f.parity.gate})`);
    if (f?.int8Similarity) out.push(`    INT8 min cosine ${f.int8Similarity.minCosine.toFixed(4)} (gate ${f.int8Similarity.gate})`);
    for (const how of next.awaiting.how) out.push(`    $ ${how}`);
  }
  for (const c of next.compensations.slice(prev?.compensations.length ?? 0)) out.push(`  compensation: ${c.action} ${c.deviceId}`);
  for (const m of next.ignoredMessages.slice(prev?.ignoredMessages.length ?? 0)) out.push(`  ignored ${m.name} from ${m.by ?? '?'}: ${m.reason}`);
  return out;
}

async function follow(client: Client, id: string, opts: WatchOptions): Promise<DeploymentStatus> {
  const intervalMs = Math.max(200, Number(opts.interval) || 1000);
  let prev: DeploymentStatus | undefined;
  let warned = false;
  for (;;) {
    const { status, server, queryError } = await readDeployment(client, id);
    if (status) {
      if (!opts.json) for (const line of changes(prev, status)) process.stdout.write(`${line}\n`);
      prev = status;
      if (status.finished) return status;
    } else if (!warned) {
      process.stderr.write(`waiting for a worker to answer the status query (${queryError})\n`);
      warned = true;
    }
    if (server.executionStatus !== 'RUNNING') {
      if (prev?.finished) return prev;
      // Closed without a final report (terminated, timed out, or failed on a bad request).
      throw new UserError(`${id} closed as ${server.executionStatus} without a final report${queryError ? ` (${queryError})` : ''}`, 3);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function watchCommand(): Command {
  return withCommonOptions(new Command('watch'))
    .description('follow a deployment stage by stage until it ends, then print the report')
    .argument('<workflow-id>', 'deployment workflow id')
    .addOption(new Option('--interval <ms>', 'poll interval').default('1000'))
    .addHelpText('after', '\nExit code: 0 completed · 3 rolled back, rejected, failed or cancelled · 1 error.')
    .action(async (id: string, opts: WatchOptions) => {
      const final = await withClient(opts, (client) => follow(client, id, opts));
      if (opts.json) printJson(final);
      else process.stdout.write(`\n${renderStatus(final)}\n`);
      if (final.status !== 'completed') process.exitCode = 3;
    });
}
