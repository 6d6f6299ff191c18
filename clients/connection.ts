// Connection settings for the edgeship client: the local dev server by default; a real cluster
// or Temporal Cloud through TLS files (mTLS) and/or an API key. Flags win over the environment.
import { readFileSync } from 'node:fs';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { Option, type Command } from 'commander';

export interface ConnectionSettings {
  address: string;
  namespace: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tlsServerName?: string;
  apiKey?: string;
  uiUrl: string;
}

export const DEFAULT_ADDRESS = 'localhost:7233';
export const DEFAULT_NAMESPACE = 'default';
export const DEFAULT_UI_URL = 'http://localhost:8233';

/** Adds the connection flags to a command (each with its environment variable). */
export function addConnectionOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--address <host:port>', 'Temporal frontend').env('TEMPORAL_ADDRESS').default(DEFAULT_ADDRESS))
    .addOption(new Option('--namespace <ns>', 'Temporal namespace').env('TEMPORAL_NAMESPACE').default(DEFAULT_NAMESPACE))
    .addOption(new Option('--tls-cert <file>', 'client certificate (PEM) for mTLS').env('TEMPORAL_TLS_CERT'))
    .addOption(new Option('--tls-key <file>', 'client private key (PEM) for mTLS').env('TEMPORAL_TLS_KEY'))
    .addOption(new Option('--tls-ca <file>', 'CA certificate (PEM) that signed the server, if not a public CA').env('TEMPORAL_TLS_CA'))
    .addOption(new Option('--tls-server-name <name>', 'server name to verify (SNI), if it differs from the address host').env('TEMPORAL_TLS_SERVER_NAME'))
    .addOption(new Option('--api-key <key>', 'API key (Temporal Cloud); implies TLS').env('TEMPORAL_API_KEY'))
    .addOption(new Option('--ui-url <url>', 'Temporal Web UI base URL, for links').env('EDGESHIP_UI_URL').default(DEFAULT_UI_URL));
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read ${what} ${file}: ${(err as Error).message}`);
  }
}

export function connectionOptions(s: ConnectionSettings): ConnectionOptions {
  if (Boolean(s.tlsCert) !== Boolean(s.tlsKey)) throw new Error('--tls-cert and --tls-key go together (mTLS needs both)');
  const tlsWanted = Boolean(s.tlsCert || s.tlsCa || s.tlsServerName || s.apiKey);
  const tls = tlsWanted
    ? {
        ...(s.tlsCert && s.tlsKey ? { clientCertPair: { crt: readPem(s.tlsCert, 'TLS certificate'), key: readPem(s.tlsKey, 'TLS key') } } : {}),
        ...(s.tlsCa ? { serverRootCACertificate: readPem(s.tlsCa, 'TLS CA') } : {}),
        ...(s.tlsServerName ? { serverNameOverride: s.tlsServerName } : {}),
      }
    : undefined;
  return {
    address: s.address,
    ...(tls ? { tls } : {}),
    ...(s.apiKey ? { apiKey: s.apiKey } : {}),
    connectTimeout: '10s',
  };
}

export async function connectClient(s: ConnectionSettings): Promise<{ client: Client; close: () => Promise<void> }> {
  let connection: Connection;
  try {
    connection = await Connection.connect(connectionOptions(s));
  } catch (err) {
    throw new Error(`cannot reach Temporal at ${s.address} (namespace ${s.namespace}): ${(err as Error).message}. Is the dev server running? (npm run dev-stack)`);
  }
  return { client: new Client({ connection, namespace: s.namespace }), close: () => connection.close() };
}

export function workflowUiUrl(s: Pick<ConnectionSettings, 'uiUrl' | 'namespace'>, workflowId: string, runId?: string): string {
  const base = s.uiUrl.replace(/\/+$/, '');
  const path = `${base}/namespaces/${encodeURIComponent(s.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${path}/${encodeURIComponent(runId)}/history` : path;
}
