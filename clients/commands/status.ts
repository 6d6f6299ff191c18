// edgeship status <id>: stage, what is awaited, the figures to decide, per-device state. A fleet
// rollout shows its plan, its waves (a running wave's counts live from its own workflow), the halt
// and a row per device (above 50 devices: a count per outcome and the devices that need a look,
// unless --all).
import { Command } from 'commander';
import type { Client } from '@temporalio/client';
import type { DeploymentStatus } from '../../workflows/report';
import { readDeployment } from '../deploymentState';
import { readDeviceRecord } from '../deviceRecords';
import { decisionSendersFromHistory } from '../decisionSenders';
import { activityTimingsFromHistory, renderActivityTimings } from '../activityTimings';
import { renderStatus } from '../format';
import { readLiveWaves } from '../fleetState';
import { workflowUiUrl } from '../connection';
import { printJson, withClient, withCommonOptions, type CommonOptions } from './shared';

interface StatusOptions extends CommonOptions {
  all?: boolean;
}

export function statusCommand(): Command {
  return withCommonOptions(new Command('status'))
    .description('show where a deployment is, what it waits for, and the figures to decide on')
    .argument('<workflow-id>', 'deployment workflow id')
    .option('--all', 'fleet rollouts: list every device (else, above 50 devices, a count per outcome and only the devices not validated)')
    .action(async (id: string, opts: StatusOptions) => {
      await withClient(opts, async (client) => {
        const { status, server, queryError, source } = await readDeployment(client, id);
        // One read of the history serves both: who sent each decision, and each activity's timing.
        const events = (await client.workflow.getHandle(id, server.runId).fetchHistory().catch(() => undefined))?.events ?? [];
        const senders = decisionSendersFromHistory(events);
        const timings = activityTimingsFromHistory(events);
        // A fleet rollout's running waves, asked directly (the parent counts a wave when it ends).
        const live = status?.rollout && !status.finished ? await readLiveWaves(client, status.rollout) : {};
        if (opts.json) {
          printJson({ server, status: status ?? null, source: source ?? null, decisionSenders: senders, activityTimings: timings, ...(Object.keys(live).length ? { liveWaves: live } : {}), ...(queryError ? { queryError } : {}) });
          return;
        }
        if (status) {
          const queues = status.stage === 'lease' ? await liveQueues(client, status) : '';
          const sent = senders.length
            ? `\n\n  decisions as Temporal recorded them ("by" is what the sender typed; the identity is the client that sent it):\n${senders.map((d) => `    ${d.at ?? ''} ${d.via} ${d.name}${d.by ? ` by "${d.by}"` : ''} from ${d.identity || '(no identity)'}`).join('\n')}`
            : '';
          const attempts = timings.length ? `\n\n  activities, from the run's history (last attempt's run, and what came before it):\n${renderActivityTimings(timings)}` : '';
          process.stdout.write(`${renderStatus(status, { all: opts.all, live })}${queues}${sent}${attempts}\n\n  Temporal: ${server.executionStatus} · ${workflowUiUrl(opts, id, server.runId)}\n`);
          return;
        }
        process.stdout.write(
          [
            `${id}  ${server.status ?? '?'} (stage ${server.stage ?? '?'}) — Temporal: ${server.executionStatus}`,
            `  model ${server.model ?? '?'} · artifact ${server.sha?.slice(0, 16) ?? '—'} · devices ${server.devices?.join(', ') ?? '?'}`,
            `  memo: ${JSON.stringify(server.memo ?? {})}`,
            `  (no worker answered the status query: ${queryError})`,
            `  ${workflowUiUrl(opts, id, server.runId)}`,
          ].join('\n') + '\n',
        );
      });
    });
}

/** Where the run stands in each device's queue now (the run's own status has its first answer). */
async function liveQueues(client: Client, status: DeploymentStatus): Promise<string> {
  const lines: string[] = [];
  for (const d of status.devices.filter((x) => x.phase === 'queued')) {
    const record = await readDeviceRecord(client, d.deviceId);
    if (!record) continue;
    const position = record.queue.findIndex((q) => q.deploymentId === status.deploymentId && q.runId === status.runId) + 1;
    lines.push(`    ${d.deviceId}: ${position > 0 ? `position ${position} of ${record.queue.length}` : 'lease being granted'} · held by ${record.holder?.deploymentId ?? 'nobody'}`);
  }
  return lines.length ? `\n\n  device queues now:\n${lines.join('\n')}` : '';
}
