// Connection settings for the edgeship client: flags (each with its environment variable) over
// a temporal.toml profile over the local dev server (lib/connectionConfig.ts), and the Web UI
// links that follow the connection.
import { Client, Connection } from '@temporalio/client';
import { Option, type Command } from 'commander';
import { addTemporalConnectionOptions } from '../lib/connectionOptions';
import { DEFAULT_ADDRESS, DEFAULT_NAMESPACE, resolveConnection, type ConnectionFlagValues, type ResolvedConnection } from '../lib/connectionConfig';

export { DEFAULT_ADDRESS, DEFAULT_NAMESPACE };

/**
 * What a command's connection options hold after parsing. `address` and `namespace` are filled
 * in by applyConnectionDefaults (profile or default) before the action runs.
 */
export interface ConnectionSettings extends ConnectionFlagValues {
  address?: string;
  namespace?: string;
}

/**
 * Adds the connection flags to a command (each with its environment variable). No defaults here:
 * an unset flag must not hide the profile's value (applyConnectionDefaults fills them in).
 */
export function addConnectionOptions(cmd: Command): Command {
  return addTemporalConnectionOptions(cmd)
    .addOption(new Option('--ui-url <url>', 'Temporal Web UI base URL, for links (default: derived for a local dev server, else none)').env('EDGESHIP_UI_URL'));
}

/**
 * Resolves the connection and writes the effective address and namespace back into the command's
 * options, so everything the action prints (JSON included) names where it really went.
 */
export function applyConnectionDefaults(cmd: Command, env: NodeJS.ProcessEnv = process.env): ResolvedConnection {
  const resolved = resolveConnection(cmd.opts<ConnectionSettings>(), env);
  if (cmd.getOptionValue('address') === undefined) cmd.setOptionValueWithSource('address', resolved.address, resolved.profile ? 'config' : 'default');
  if (cmd.getOptionValue('namespace') === undefined) cmd.setOptionValueWithSource('namespace', resolved.namespace, resolved.profile ? 'config' : 'default');
  return resolved;
}

export async function connectClient(s: ConnectionSettings): Promise<{ client: Client; close: () => Promise<void> }> {
  const resolved = resolveConnection(s);
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...resolved.options, connectTimeout: '10s' });
  } catch (err) {
    const via = resolved.profile ? ` (profile "${resolved.profile.name}" of ${resolved.profile.file})` : '';
    throw new Error(`cannot reach Temporal at ${resolved.address}${via} (namespace ${resolved.namespace}): ${(err as Error).message}. Is the dev server running? (npm run dev-stack)`);
  }
  return { client: new Client({ connection, namespace: resolved.namespace }), close: () => connection.close() };
}

/** The run's page in the Web UI, or undefined when no UI URL is known for this connection. */
export function workflowUiLink(s: ConnectionSettings, workflowId: string, runId?: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const resolved = resolveConnection(s, env);
  if (!resolved.uiUrl) return undefined;
  const page = `${resolved.uiUrl}/namespaces/${encodeURIComponent(resolved.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${page}/${encodeURIComponent(runId)}/history` : page;
}

/** For text output: the link, or why there is none and how to give one. */
export function workflowUiUrl(s: ConnectionSettings, workflowId: string, runId?: string, env: NodeJS.ProcessEnv = process.env): string {
  return workflowUiLink(s, workflowId, runId, env)
    ?? `(no Temporal Web UI URL known for ${resolveConnection(s, env).address}: pass --ui-url or set EDGESHIP_UI_URL)`;
}
