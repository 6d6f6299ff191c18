// edgeship list: recent deployments from the visibility store, filtered by their search attributes.
// With --device: every deployment that touched the device — plain runs (which carry all their
// devices in EdgeshipDevices) and fleet rollouts, found by their deviceRollout child for the
// device and shown under the parent deployment with the device's outcome.
import { Command, Option } from 'commander';
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { SA_MODEL, SA_SHA, SA_STAGE, SA_STATUS, SA_DEVICES } from '../../common/searchAttributes';
import { serverView, type ServerView } from '../deploymentState';
import { deviceRuns, listQuery, renderDeviceRuns, table as columns, type DeviceRun, type ListedExecution, type ListFilters } from '../fleetFormat';
import { printJson, withClient, withCommonOptions, type CommonOptions } from './shared';

interface ListOptions extends CommonOptions, ListFilters {
  limit: string;
}

export { listQuery };

function table(rows: ServerView[]): string {
  const header = ['WORKFLOW ID', 'STATUS', 'STAGE', 'MODEL', 'ARTIFACT', 'DEVICES', 'STARTED', 'TEMPORAL'];
  const cells = rows.map((r) => [r.workflowId, r.status ?? '?', r.stage ?? '?', r.model ?? '?', r.sha?.slice(0, 12) ?? '—', r.devices?.join(',') ?? '?', r.startTime.replace('T', ' ').slice(0, 19), r.executionStatus]);
  return columns(header, cells).join('\n');
}

/** What `list --device` keeps of a listed execution. */
export function listedExecution(info: WorkflowExecutionInfo): ListedExecution {
  const sa = info.typedSearchAttributes;
  return {
    workflowId: info.workflowId,
    runId: info.runId,
    type: info.type,
    executionStatus: info.status.name,
    startTime: info.startTime.toISOString(),
    ...(info.closeTime ? { closeTime: info.closeTime.toISOString() } : {}),
    model: sa.get(SA_MODEL),
    sha: sa.get(SA_SHA),
    stage: sa.get(SA_STAGE),
    status: sa.get(SA_STATUS),
    devices: sa.get(SA_DEVICES),
    ...(info.parentExecution?.workflowId ? { parent: { workflowId: info.parentExecution.workflowId, runId: info.parentExecution.runId ?? '' } } : {}),
    ...(info.rootExecution?.workflowId ? { root: { workflowId: info.rootExecution.workflowId, runId: info.rootExecution.runId ?? '' } } : {}),
  };
}

export function listCommand(): Command {
  return withCommonOptions(new Command('list'))
    .description('list recent deployments (newest first), filtered by their search attributes')
    .option('--model <name>', 'EdgeshipModel')
    .option('--status <status>', 'EdgeshipStatus: running, awaiting-approval, completed, halted, rolled-back, rollback-failed, rejected, failed, cancelled (with --device, a fleet device\'s outcome too: validated, failed, skipped-offline, reverted, …)')
    .option('--stage <stage>', 'EdgeshipStage, e.g. approval')
    .option('--device <id>', 'deployments that touched this device: plain runs listing it and fleet rollouts\' deviceRollout children for it (EdgeshipDevices)')
    .option('--sha <sha256>', 'runs that deployed this artifact (EdgeshipSha, full sha256)')
    .option('--query <visibility-query>', 'extra Temporal visibility query, ANDed')
    .addOption(new Option('--limit <n>', 'at most this many runs').default('20'))
    .action(async (opts: ListOptions) => {
      const limit = Math.max(1, Number(opts.limit) || 20);
      const query = listQuery(opts);
      if (opts.device) {
        const device = opts.device;
        const runs = await withClient(opts, async (client) => {
          // A fleet deployment lists as up to three children (deploy, catch-up, revert): read until
          // one more deployment than asked for shows up, then drop it (it may be incomplete).
          const listed: ListedExecution[] = [];
          let folded: DeviceRun[] = [];
          for await (const info of client.workflow.list({ query, pageSize: Math.min(limit * 3, 300) })) {
            listed.push(listedExecution(info));
            folded = deviceRuns(listed, device);
            if (folded.length > limit) break;
          }
          return folded.slice(0, limit);
        });
        if (opts.json) printJson({ query, device, runs });
        else process.stdout.write(`${renderDeviceRuns(runs, device)}\n`);
        return;
      }
      const rows = await withClient(opts, async (client) => {
        const out: ServerView[] = [];
        for await (const info of client.workflow.list({ query, pageSize: Math.min(limit, 100) })) {
          out.push(serverView(info));
          if (out.length >= limit) break;
        }
        return out;
      });
      if (opts.json) printJson({ query, runs: rows });
      else process.stdout.write(rows.length ? `${table(rows)}\n` : `no deployments match: ${query}\n`);
    });
}
