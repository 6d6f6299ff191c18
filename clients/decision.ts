// approve / reject, shared: by signal (fire and forget, then read back whether the workflow
// took it), or with --update, which answers — or refuses through the workflow's validator.
import * as os from 'node:os';
import { Command, Option } from 'commander';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import type { deployModel } from '../workflows';
import { approveSignal, decideUpdate, rejectSignal, statusQuery, type DecisionInput } from '../workflows/messages';
import type { DeploymentStatus } from '../workflows/report';
import { printJson, UserError, withClient, withCommonOptions, type CommonOptions } from './commands/shared';

interface DecideOptions extends CommonOptions {
  by: string;
  comment?: string;
  reason?: string;
  update?: boolean;
}

/** Who a decision (or a pause) is recorded as when --by is not given: EDGESHIP_USER, else the login name. */
export function defaultUser(): string {
  try {
    return process.env.EDGESHIP_USER ?? os.userInfo().username;
  } catch {
    return '';
  }
}

export interface SignalOutcome {
  taken: boolean;
  detail: string;
}

/**
 * A signal cannot be refused to its sender, so read back what the workflow did with it: `judge`
 * finds the outcome in the status (recorded, or ignored with its reason) — polled for 5 s.
 */
export async function readBackSignal(handle: WorkflowHandle<typeof deployModel>, judge: (s: DeploymentStatus) => SignalOutcome | undefined): Promise<SignalOutcome> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    const s = await handle.query(statusQuery).catch(() => undefined);
    const outcome = s && judge(s);
    if (outcome) return outcome;
  }
  return { taken: true, detail: 'sent; the workflow has not confirmed it yet (is the gpu worker running?) — check with `edgeship status`' };
}

/** The decision recorded, or the reason it was ignored (wrong stage, not an approver, decided). */
function decisionOutcome(s: DeploymentStatus, before: DeploymentStatus | undefined, by: string): SignalOutcome | undefined {
  const ignored = s.ignoredMessages.slice(before?.ignoredMessages.length ?? 0).find((m) => m.by === by);
  if (ignored) return { taken: false, detail: `ignored by the workflow: ${ignored.reason}` };
  if (s.approval && s.approval.by === by) return { taken: true, detail: `recorded: ${s.approval.decision} by ${by} at ${s.approval.at}` };
  return undefined;
}

async function decide(id: string, input: DecisionInput, opts: DecideOptions): Promise<void> {
  await withClient(opts, async (client) => {
    const handle = client.workflow.getHandle<typeof deployModel>(id);
    if (opts.update) {
      try {
        const answer = await handle.executeUpdate(decideUpdate, { args: [input] });
        if (opts.json) printJson({ workflowId: id, accepted: true, ...answer });
        else process.stdout.write(`${id}: ${answer.decision} by ${answer.by} at ${answer.at}\n`);
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError) {
          const reason = (err.cause as Error | undefined)?.message ?? err.message;
          if (opts.json) printJson({ workflowId: id, accepted: false, reason });
          throw new UserError(`${id}: refused: ${reason}`);
        }
        throw err;
      }
      return;
    }
    const before = await handle.query(statusQuery).catch(() => undefined);
    if (input.decision === 'approve') await handle.signal(approveSignal, { by: input.by, ...(input.comment ? { comment: input.comment } : {}) });
    else await handle.signal(rejectSignal, { by: input.by, reason: input.reason });
    const result = await readBackSignal(handle, (s) => decisionOutcome(s, before, input.by));
    if (opts.json) printJson({ workflowId: id, signal: input.decision, ...result });
    else process.stdout.write(`${id}: ${input.decision} signal ${result.detail}\n`);
    if (!result.taken) throw new UserError(`${id}: ${input.decision} was not taken`, 1);
  });
}

export function decisionCommand(name: 'approve' | 'reject'): Command {
  const cmd = withCommonOptions(new Command(name))
    .argument('<workflow-id>', 'deployment workflow id (deploy-<model>-<target>-<sha12>)')
    .addOption(new Option('--by <name>', 'who decides (recorded in the report)').env('EDGESHIP_USER').default(defaultUser()))
    .option('--update', 'use the "decide" update: waits for the answer, refused with a reason if the decision is not allowed');
  if (name === 'approve') cmd.description('approve the production swap of a deployment awaiting approval').option('--comment <text>', 'note recorded with the approval');
  else cmd.description('reject a deployment awaiting approval (staged artifacts are discarded)').requiredOption('--reason <text>', 'why (recorded in the report)');
  return cmd
    .addHelpText('after', `
The same by hand, with the temporal CLI (or the Temporal UI's "Send a Signal" button):
  temporal workflow signal --workflow-id <id> --name ${name} --input '{"by":"alice"${name === 'reject' ? ',"reason":"…"' : ''}}'`)
    .action(async (id: string, opts: DecideOptions) => {
      if (!opts.by?.trim()) throw new UserError('--by is required (or set EDGESHIP_USER)');
      const input: DecisionInput = name === 'approve'
        ? { decision: 'approve', by: opts.by.trim(), ...(opts.comment ? { comment: opts.comment } : {}) }
        : { decision: 'reject', by: opts.by.trim(), reason: opts.reason ?? '' };
      await decide(id, input, opts);
    });
}



