// edgeship status <id>: stage, what is awaited, the figures to decide, per-device state.
import { Command } from 'commander';
import { readDeployment } from '../deploymentState';
import { renderStatus } from '../format';
import { workflowUiUrl } from '../connection';
import { printJson, withClient, withCommonOptions, type CommonOptions } from './shared';

export function statusCommand(): Command {
  return withCommonOptions(new Command('status'))
    .description('show where a deployment is, what it waits for, and the figures to decide on')
    .argument('<workflow-id>', 'deployment workflow id')
    .action(async (id: string, opts: CommonOptions) => {
      await withClient(opts, async (client) => {
        const { status, server, queryError } = await readDeployment(client, id);
        if (opts.json) {
          printJson({ server, status: status ?? null, ...(queryError ? { queryError } : {}) });
          return;
        }
        if (status) {
          process.stdout.write(`${renderStatus(status)}\n\n  Temporal: ${server.executionStatus} · ${workflowUiUrl(opts, id, server.runId)}\n`);
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
