// Flags and environment shared by the worker entry points. The Temporal connection resolves as
// the client's does (common/connectionConfig.ts): flags, then their environment variables, then
// the temporal CLI's temporal.toml profile, then the local dev server.
import { Command, Option } from 'commander';
import { NativeConnection } from '@temporalio/worker';
import { ConnectionConfigError, DEFAULT_ADDRESS, DEFAULT_NAMESPACE, resolveConnection, type ConnectionFlagValues, type ResolvedConnection } from '../common/connectionConfig';
import { defaultInventoryPath } from '../common/inventory';
import { stateDir } from '../common/paths';
import type { ProcessLogger } from './logging';

export interface ConnectionFlags extends ConnectionFlagValues {
  inventory: string;
}

export function addConnectionFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('--inventory <file>', 'device inventory (JSON)').env('EDGESHIP_INVENTORY').default(defaultInventoryPath(stateDir())))
    .addOption(new Option('--address <host:port>', `Temporal frontend (default: the profile's, else ${DEFAULT_ADDRESS})`).env('TEMPORAL_ADDRESS'))
    .addOption(new Option('--namespace <ns>', `Temporal namespace (default: the profile's, else "${DEFAULT_NAMESPACE}")`).env('TEMPORAL_NAMESPACE'))
    .addOption(new Option('--profile <name>', 'profile of the Temporal config file, as for the temporal CLI (default "default")').env('TEMPORAL_PROFILE'))
    .addOption(new Option('--config-file <file>', 'Temporal config file (default ~/.config/temporalio/temporal.toml)').env('TEMPORAL_CONFIG_FILE'))
    .addOption(new Option('--tls-cert <file>', 'client certificate (PEM) for mTLS').env('TEMPORAL_TLS_CERT'))
    .addOption(new Option('--tls-key <file>', 'client private key (PEM) for mTLS').env('TEMPORAL_TLS_KEY'))
    .addOption(new Option('--tls-ca <file>', 'CA certificate (PEM) that signed the server, if not a public CA').env('TEMPORAL_TLS_CA'))
    .addOption(new Option('--tls-server-name <name>', 'server name to verify (SNI), if it differs from the address host').env('TEMPORAL_TLS_SERVER_NAME'))
    .addOption(new Option('--api-key <key>', 'API key (Temporal Cloud); implies TLS').env('TEMPORAL_API_KEY'));
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
