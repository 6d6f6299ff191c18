// What every edgeship command shares: connection flags, --json, and opening/closing the client.
import { Option, type Command } from 'commander';
import type { Client } from '@temporalio/client';
import { ConnectionConfigError } from '../../lib/connectionConfig';
import { addConnectionOptions, applyConnectionDefaults, connectClient, type ConnectionSettings } from '../connection';

export interface CommonOptions extends ConnectionSettings {
  json?: boolean;
}

export function withCommonOptions(cmd: Command): Command {
  return addConnectionOptions(cmd)
    .addOption(new Option('--json', 'machine-readable output (JSON on stdout)'))
    // Before the action: the profile's address and namespace become the options' values, and a
    // bad config file or unknown profile is the user's to fix, not a stack trace.
    .hook('preAction', (_self, action) => {
      // A subcommand that does not talk to Temporal (devices add) has no connection to resolve.
      if (!action.options.some((o) => o.long === '--address')) return;
      try {
        applyConnectionDefaults(action);
      } catch (err) {
        if (err instanceof ConnectionConfigError) throw new UserError(err.message, 2);
        throw err;
      }
    });
}

export async function withClient<T>(opts: ConnectionSettings, work: (client: Client) => Promise<T>): Promise<T> {
  let connected: Awaited<ReturnType<typeof connectClient>>;
  try {
    connected = await connectClient(opts);
  } catch (err) {
    // Temporal unreachable: one line naming where and what to do, not a stack trace.
    throw new UserError((err as Error).message);
  }
  const { client, close } = connected;
  try {
    return await work(client);
  } finally {
    await close();
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A failure the user can act on: printed without a stack, exit code 1 (or the given one). */
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'UserError';
  }
}
