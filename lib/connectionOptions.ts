// The Temporal connection flags every edgeship process takes (clients and workers alike), with
// the environment variables the `temporal` CLI reads; resolved by lib/connectionConfig.ts.
import { Option, type Command } from 'commander';
import { DEFAULT_ADDRESS, DEFAULT_NAMESPACE } from './connectionConfig';

export function addTemporalConnectionOptions(cmd: Command): Command {
  return cmd
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
