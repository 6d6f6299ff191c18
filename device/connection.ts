// The device's Temporal connection, from device.json only: the same resolution as every edgeship
// process (lib/connectionConfig.ts: a temporal.toml profile as the base, explicit fields over
// it), but never from the service's environment or a home directory, so what `check` validates
// is exactly what the worker uses.
import { readFileSync } from 'node:fs';
import { resolveConnection, type ConnectionFlagValues, type ResolvedConnection } from '../lib/connectionConfig';
import type { DeviceConfig } from './config';

export function connectionValuesOf(c: DeviceConfig): ConnectionFlagValues {
  const t = c.temporal;
  return {
    address: t.address,
    namespace: t.namespace,
    tlsCert: t.tls?.clientCertFile,
    tlsKey: t.tls?.clientKeyFile,
    tlsCa: t.tls?.serverCaFile,
    tlsServerName: t.tls?.serverName,
    apiKey: t.apiKeyFile ? readFileSync(t.apiKeyFile, 'utf8').trim() : undefined,
    profile: t.profile,
    configFile: t.configFile,
  };
}

/** Throws ConnectionConfigError (a profile missing from the file, an unreadable TLS file, …). */
export function resolveDeviceConnection(c: DeviceConfig): ResolvedConnection {
  const resolved = resolveConnection(connectionValuesOf(c), {});
  // An empty tls section asks for TLS with the system's CAs: the flags cannot say that, so set it here.
  if (c.temporal.tls && !resolved.options.tls) return { ...resolved, tls: true, options: { ...resolved.options, tls: true } };
  return resolved;
}
