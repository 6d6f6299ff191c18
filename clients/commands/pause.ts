// edgeship pause <id> [--by <name>] [--reason <text>] / edgeship resume <id> [--by <name>]
// A fleet rollout stops starting devices while paused (the ones in flight finish) and goes on
// where it was when resumed. Sent as signals; what the workflow did with one is read back.
import { Command, Option } from 'commander';
import type { Client } from '@temporalio/client';
import type { deployModel } from '../../workflows';
import { pauseSignal, resumeSignal, statusQuery } from '../../workflows/messages';
import type { DeploymentStatus } from '../../workflows/report';
import { defaultUser, readBackSignal, type SignalOutcome } from '../decision';
import { printJson, UserError, withClient, withCommonOptions, type CommonOptions } from './shared';

interface PauseOptions extends CommonOptions {
  by: string;
  reason?: string;
}

/** Whether the workflow took the signal: the pause recorded, or the reason it was ignored. */
export function pauseOutcome(name: 'pause' | 'resume', s: DeploymentStatus, ignoredBefore: number, by: string): SignalOutcome | undefined {
  const ignored = s.ignoredMessages.slice(ignoredBefore).find((m) => m.name === name && m.by === by);
  if (ignored) return { taken: false, detail: `ignored by the workflow: ${ignored.reason}` };
  const last = s.rollout?.pauses?.at(-1);
  if (name === 'pause' && last && last.by === by && last.resumedAt === undefined) return { taken: true, detail: `paused by ${by} at ${last.at}: no new device starts; devices in flight finish` };
  if (name === 'resume' && last && last.resumedBy === by && last.resumedAt !== undefined) return { taken: true, detail: `resumed by ${by} at ${last.resumedAt}` };
  return undefined;
}

async function send(client: Client, id: string, name: 'pause' | 'resume', opts: PauseOptions): Promise<SignalOutcome> {
  const handle = client.workflow.getHandle<typeof deployModel>(id);
  const before = await handle.query(statusQuery).catch(() => undefined);
  if (before && !before.rollout) throw new UserError(`${id}: ${name} applies to fleet rollouts; this deployment has no rollout plan`, 2);
  if (name === 'pause') await handle.signal(pauseSignal, { by: opts.by, ...(opts.reason ? { reason: opts.reason } : {}) });
  else await handle.signal(resumeSignal, { by: opts.by });
  return readBackSignal(handle, (s) => pauseOutcome(name, s, before?.ignoredMessages.length ?? 0, opts.by));
}

function pauseLikeCommand(name: 'pause' | 'resume', description: string): Command {
  const cmd = withCommonOptions(new Command(name))
    .description(description)
    .argument('<workflow-id>', 'deployment workflow id (deploy-<model>-<target>-<sha12>)')
    .addOption(new Option('--by <name>', `who ${name}s (recorded in the report)`).env('EDGESHIP_USER').default(defaultUser()));
  if (name === 'pause') cmd.option('--reason <text>', 'why (shown in watch, status and the Temporal UI)');
  return cmd.action(async (id: string, opts: PauseOptions) => {
    if (!opts.by?.trim()) throw new UserError(`--by <name> is required (or set EDGESHIP_USER)`, 2);
    const result = await withClient(opts, (client) => send(client, id, name, opts));
    if (opts.json) printJson({ workflowId: id, signal: name, ...result });
    else process.stdout.write(`${id}: ${name} ${result.detail}\n`);
    if (!result.taken) throw new UserError(`${id}: ${name} was not taken`, 1);
  });
}

export const pauseCommand = (): Command =>
  pauseLikeCommand('pause', 'pause a fleet rollout: no new device starts (devices in flight finish) until `edgeship resume`');
export const resumeCommand = (): Command => pauseLikeCommand('resume', 'resume a paused fleet rollout where it stopped');
