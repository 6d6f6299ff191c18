// edgeship watch <id>: follows a deployment stage by stage until it ends, then prints the final
// report. Exit code 0 when it completed, 3 when it ended otherwise (rolled back, rejected,
// failed, cancelled, halted), 1 on errors — so scripts can gate on it. A fleet rollout is followed
// wave by wave: each wave's state and counts (a running wave's read live from its own workflow,
// with the halt criteria's figure), devices that end other than validated, the halt verdict, and
// the canary comparison when the approval after the canary starts. With --json, a rollout's
// updates are printed one JSON object per line, the final report last (also on one line).
import { Command, Option } from 'commander';
import type { Client } from '@temporalio/client';
import type { DeploymentStatus } from '../../workflows/report';
import { readDeployment } from '../deploymentState';
import { deviceLine, renderStatus, stageLine } from '../format';
import { newRolloutWatchState, rolloutUpdates, updateLines } from '../fleetFormat';
import { readLiveWaves } from '../fleetState';
import { printJson, UserError, withClient, withCommonOptions, type CommonOptions } from './shared';

interface WatchOptions extends CommonOptions {
  interval: string;
  all?: boolean;
}

/** Lines describing what changed between two snapshots (all of it when there is no previous). */
export function changes(prev: DeploymentStatus | undefined, next: DeploymentStatus): string[] {
  const out: string[] = [];
  if (!prev || prev.status !== next.status) out.push(`status: ${next.status}`);
  next.stages.forEach((s, i) => {
    const before = prev?.stages[i];
    if (!before || before.outcome !== s.outcome) out.push(`  ${stageLine(s)}`);
  });
  // A fleet rollout reports its devices by wave instead (see rolloutUpdates).
  for (const d of next.rollout ? [] : next.devices) {
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

interface Followed {
  final: DeploymentStatus;
  /** Rollout updates were printed as JSON lines: the final report follows on one line too. */
  jsonLines: boolean;
}

async function follow(client: Client, id: string, opts: WatchOptions): Promise<Followed> {
  const intervalMs = Math.max(200, Number(opts.interval) || 1000);
  let prev: DeploymentStatus | undefined;
  let warned = false;
  const rollout = newRolloutWatchState();
  let jsonLines = false;
  for (;;) {
    const { status, server, queryError } = await readDeployment(client, id);
    if (status) {
      const live = status.rollout && !status.finished ? await readLiveWaves(client, status.rollout) : {};
      const updates = rolloutUpdates(rollout, status, live);
      if (opts.json) {
        for (const u of updates) process.stdout.write(`${JSON.stringify({ ...u, at: new Date().toISOString() })}\n`);
        jsonLines ||= updates.length > 0;
      } else {
        for (const line of [...changes(prev, status), ...updateLines(updates)]) process.stdout.write(`${line}\n`);
      }
      prev = status;
      if (status.finished) return { final: status, jsonLines: jsonLines || !!status.rollout };
    } else if (!warned) {
      process.stderr.write(`waiting for a worker to answer the status query (${queryError})\n`);
      warned = true;
    }
    if (server.executionStatus !== 'RUNNING') {
      if (prev?.finished) return { final: prev, jsonLines: jsonLines || !!prev.rollout };
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
    .option('--all', 'fleet rollouts: list every device in the final report (else, above 50 devices, only those that need a look)')
    .addHelpText('after', `
Fleet rollouts: a line per wave as its state or counts change (a running wave's counts and halt
figure read live from its rolloutWave workflow), a line per device that ends other than validated,
the halt verdict, and the canary-vs-baseline table when the approval after the canary starts.
--json: a rollout's updates one JSON object per line ({"type":"wave"|"device"|"halted"|
"canary-comparison",…}), then the final report on one line; other deployments print the final report.

Exit code: 0 completed · 3 rolled back, halted, rejected, failed or cancelled · 1 error.`)
    .action(async (id: string, opts: WatchOptions) => {
      const { final, jsonLines } = await withClient(opts, (client) => follow(client, id, opts));
      if (opts.json && jsonLines) process.stdout.write(`${JSON.stringify(final)}\n`);
      else if (opts.json) printJson(final);
      else process.stdout.write(`\n${renderStatus(final, { all: opts.all })}\n`);
      if (final.status !== 'completed') process.exitCode = 3;
    });
}
