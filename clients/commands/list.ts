// edgeship list: recent deployments from the visibility store, filtered by search attributes.
import { Command, Option } from 'commander';
import { serverView, type ServerView } from '../deploymentState';
import { printJson, withClient, withCommonOptions, type CommonOptions } from './shared';

interface ListOptions extends CommonOptions {
  model?: string;
  status?: string;
  stage?: string;
  device?: string;
  sha?: string;
  query?: string;
  limit: string;
}

const quote = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The visibility query for the given filters (always restricted to deployModel runs). */
export function listQuery(opts: Pick<ListOptions, 'model' | 'status' | 'stage' | 'device' | 'sha' | 'query'>): string {
  const parts = [`WorkflowType = 'deployModel'`];
  if (opts.model) parts.push(`EdgeshipModel = ${quote(opts.model)}`);
  if (opts.status) parts.push(`EdgeshipStatus = ${quote(opts.status)}`);
  if (opts.stage) parts.push(`EdgeshipStage = ${quote(opts.stage)}`);
  if (opts.device) parts.push(`EdgeshipDevices = ${quote(opts.device)}`);
  if (opts.sha) parts.push(`EdgeshipSha = ${quote(opts.sha)}`);
  if (opts.query) parts.push(`(${opts.query})`);
  return parts.join(' AND ');
}

function table(rows: ServerView[]): string {
  const header = ['WORKFLOW ID', 'STATUS', 'STAGE', 'MODEL', 'ARTIFACT', 'DEVICES', 'STARTED', 'TEMPORAL'];
  const cells = rows.map((r) => [r.workflowId, r.status ?? '?', r.stage ?? '?', r.model ?? '?', r.sha?.slice(0, 12) ?? '—', r.devices?.join(',') ?? '?', r.startTime.replace('T', ' ').slice(0, 19), r.executionStatus]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  return [header, ...cells].map((c) => c.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

export function listCommand(): Command {
  return withCommonOptions(new Command('list'))
    .description('list recent deployments (newest first), filtered by their search attributes')
    .option('--model <name>', 'EdgeshipModel')
    .option('--status <status>', 'EdgeshipStatus: running, awaiting-approval, completed, rolled-back, rollback-failed, rejected, failed, cancelled')
    .option('--stage <stage>', 'EdgeshipStage, e.g. approval')
    .option('--device <id>', 'runs that include this device (EdgeshipDevices)')
    .option('--sha <sha256>', 'runs that deployed this artifact (EdgeshipSha, full sha256)')
    .option('--query <visibility-query>', 'extra Temporal visibility query, ANDed')
    .addOption(new Option('--limit <n>', 'at most this many runs').default('20'))
    .action(async (opts: ListOptions) => {
      const limit = Math.max(1, Number(opts.limit) || 20);
      const query = listQuery(opts);
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
