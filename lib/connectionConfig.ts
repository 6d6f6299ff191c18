// Where edgeship's clients and workers connect: the same settings the `temporal` CLI uses. A
// profile of temporal.toml (--config-file / TEMPORAL_CONFIG_FILE, else
// ~/.config/temporalio/temporal.toml; --profile / TEMPORAL_PROFILE, else "default") gives the
// base, read with @temporalio/envconfig exactly as the CLI and the SDKs read it (including its
// TEMPORAL_TLS_* variables); edgeship's own flags and their environment variables override it
// field by field. So an operator who set up `temporal` for a cluster needs nothing else, and the
// precedence is flags > environment > profile > defaults. Not for workflow code (reads files).
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadClientConfigProfile, toClientOptions, type ClientConfigProfile, type ClientConfigTLS } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';

export const DEFAULT_ADDRESS = 'localhost:7233';
export const DEFAULT_NAMESPACE = 'default';

/** What the command line gave, each flag or else its environment variable (commander's `.env()`). */
export interface ConnectionFlagValues {
  address?: string;
  namespace?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tlsServerName?: string;
  apiKey?: string;
  uiUrl?: string;
  profile?: string;
  configFile?: string;
}

export interface ResolvedConnection {
  address: string;
  namespace: string;
  /** For Connection.connect / NativeConnection.connect; TLS files are read when this is built. */
  options: Pick<NativeConnectionOptions, 'address' | 'tls' | 'apiKey' | 'metadata'>;
  tls: boolean;
  /** The Web UI base URL, or undefined when none is known (see temporalUiUrl). */
  uiUrl?: string;
  /** The profile that was applied, when a config file had one. */
  profile?: { name: string; file: string };
}

export class ConnectionConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionConfigError';
  }
}

/** The file envconfig reads when none is named (Linux/macOS conventions), for messages. */
function defaultConfigFile(env: NodeJS.ProcessEnv): string | undefined {
  if (os.platform() === 'darwin') return env.HOME ? path.join(env.HOME, 'Library', 'Application Support', 'temporalio', 'temporal.toml') : undefined;
  const base = env.XDG_CONFIG_HOME || (env.HOME ? path.join(env.HOME, '.config') : undefined);
  return base ? path.join(base, 'temporalio', 'temporal.toml') : undefined;
}

function loadProfile(values: ConnectionFlagValues, env: NodeJS.ProcessEnv): { profile: ClientConfigProfile; applied?: { name: string; file: string } } {
  const file = values.configFile ?? env.TEMPORAL_CONFIG_FILE ?? defaultConfigFile(env);
  // envconfig treats a missing file as "no profiles"; a file the user named must exist.
  const named = values.configFile ?? env.TEMPORAL_CONFIG_FILE;
  if (named && !existsSync(named)) throw new ConnectionConfigError(`Temporal config file ${named} does not exist (--config-file / TEMPORAL_CONFIG_FILE)`);
  const name = values.profile ?? env.TEMPORAL_PROFILE;
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({
      profile: name,
      configSource: named ? { path: named } : undefined,
      overrideEnvVars: env as Record<string, string>,
    });
  } catch (err) {
    const msg = (err as Error).message;
    if (/not found in config data/.test(msg)) {
      const where = file && existsSync(file) ? `is not in ${file}` : `was asked for, but there is no config file${file ? ` at ${file}` : ''}`;
      throw new ConnectionConfigError(`Temporal profile "${name}" ${where} (--profile / TEMPORAL_PROFILE; --config-file / TEMPORAL_CONFIG_FILE)`);
    }
    throw new ConnectionConfigError(`cannot read Temporal config ${file ?? ''}: ${msg}`);
  }
  const fromFile = file !== undefined && existsSync(file);
  return { profile, applied: fromFile ? { name: name ?? 'default', file } : undefined };
}

/** Flags win over the profile field by field; any TLS flag turns TLS on even if the profile disabled it. */
function mergeTls(values: ConnectionFlagValues, profileTls: ClientConfigTLS | undefined): ClientConfigTLS | undefined {
  if (Boolean(values.tlsCert) !== Boolean(values.tlsKey)) throw new ConnectionConfigError('--tls-cert and --tls-key go together (mTLS needs both)');
  const flags: ClientConfigTLS = {
    ...(values.tlsCert ? { clientCert: { path: values.tlsCert } } : {}),
    ...(values.tlsKey ? { clientKey: { path: values.tlsKey } } : {}),
    ...(values.tlsCa ? { serverCACert: { path: values.tlsCa } } : {}),
    ...(values.tlsServerName ? { serverName: values.tlsServerName } : {}),
  };
  if (Object.keys(flags).length === 0) return profileTls;
  return { ...profileTls, ...flags, disabled: false };
}

/**
 * The Web UI base URL for links: the explicit one (--ui-url / EDGESHIP_UI_URL), else the dev
 * server convention when the frontend is a local plaintext dev server (`temporal server
 * start-dev` serves the UI on the same host at the frontend port + 1000: 8233 for 7233), else
 * undefined — a guessed link to the wrong place is worse than saying none is known.
 */
export function temporalUiUrl(c: { address: string; tls: boolean; uiUrl?: string }): string | undefined {
  if (c.uiUrl) return c.uiUrl.replace(/\/+$/, '');
  if (c.tls) return undefined;
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(c.address.trim());
  if (!m) return undefined;
  const host = m[1] ?? m[2];
  const port = m[3] ? Number(m[3]) : 7233;
  const local = host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
  if (!local || port + 1000 > 65535) return undefined;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port + 1000}`;
}

/** Resolves flags, environment and profile into what to connect to; reads the TLS files. */
export function resolveConnection(values: ConnectionFlagValues, env: NodeJS.ProcessEnv = process.env): ResolvedConnection {
  const { profile, applied } = loadProfile(values, env);
  const merged: ClientConfigProfile = {
    address: values.address ?? profile.address ?? DEFAULT_ADDRESS,
    namespace: values.namespace ?? profile.namespace ?? DEFAULT_NAMESPACE,
    apiKey: values.apiKey ?? profile.apiKey,
    tls: mergeTls(values, profile.tls),
    grpcMeta: profile.grpcMeta,
  };
  // envconfig would drop a lone certificate or key silently; the server would then refuse us
  // with a far less helpful message.
  if (Boolean(merged.tls?.clientCert) !== Boolean(merged.tls?.clientKey)) {
    throw new ConnectionConfigError(`the Temporal profile "${applied?.name ?? 'default'}" has a client certificate or key without the other (mTLS needs both)`);
  }
  let connect;
  try {
    connect = toClientOptions(merged);
  } catch (err) {
    throw new ConnectionConfigError(`cannot read a TLS file of the Temporal connection: ${(err as Error).message}`);
  }
  const tlsCfg = connect.connectionOptions.tls;
  const tls = Boolean(tlsCfg);
  const address = merged.address as string;
  return {
    address,
    namespace: merged.namespace as string,
    options: {
      address,
      ...(tlsCfg ? { tls: tlsCfg } : {}),
      ...(merged.apiKey ? { apiKey: merged.apiKey } : {}),
      ...(merged.grpcMeta && Object.keys(merged.grpcMeta).length > 0 ? { metadata: merged.grpcMeta } : {}),
    },
    tls,
    uiUrl: temporalUiUrl({ address, tls, uiUrl: values.uiUrl }),
    profile: applied,
  };
}
