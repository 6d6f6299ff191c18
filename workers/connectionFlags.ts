// Flags and environment shared by the worker entry points. The Temporal connection resolves as
// the client's does (lib/connectionConfig.ts): flags, then their environment variables, then
// the temporal CLI's temporal.toml profile, then the local dev server.
import { Command, Option } from 'commander';
import { NativeConnection } from '@temporalio/worker';
import { addTemporalConnectionOptions } from '../lib/connectionOptions';
import { ConnectionConfigError, resolveConnection, type ConnectionFlagValues, type ResolvedConnection } from '../lib/connectionConfig';
import { defaultInventoryPath } from '../lib/inventory';
import { stateDir } from '../lib/paths';
import type { ProcessLogger } from './logging';

export interface ConnectionFlags extends ConnectionFlagValues {
  inventory: string;
}

export function addConnectionFlags(cmd: Command): Command {
  return addTemporalConnectionOptions(cmd.addOption(new Option('--inventory <file>', 'device inventory (JSON)').env('EDGESHIP_INVENTORY').default(defaultInventoryPath(stateDir()))));
}

/**
 * Opens the worker's connection with the resolved settings (TLS and API key included). A bad
 * config file or unknown profile ends the process with exit code 2, like a bad inventory.
 */
export async function connectTemporal(flags: ConnectionFlags, log: ProcessLogger, env: NodeJS.ProcessEnv = process.env): Promise<{ resolved: ResolvedConnection; connection: NativeConnection }> {
  let resolved: ResolvedConnection;
  try {
    resolved = resolveConnection(flags, env);
  } catch (err) {
    if (!(err instanceof ConnectionConfigError)) throw err;
    log.fatal(err.message);
    process.exit(2);
  }
  return { resolved, connection: await NativeConnection.connect(resolved.options) };
}
