// Turns a failed connection to Temporal into one line that names the likely fix. The SDK's
// messages are gRPC/rustls texts; the operator of a Raspberry Pi needs to know which field of
// device.json (or which network path) to look at.
import type { DeviceConfig } from './config';

export function describeTemporalFailure(err: unknown, c: DeviceConfig, address: string): string {
  const msg = ((err as Error)?.message ?? String(err)).replace(/\s+/g, ' ').trim();
  const lower = msg.toLowerCase();
  const t = c.temporal;
  // rustls reading a plaintext HTTP/2 answer as a TLS record.
  if (/invalidcontenttype|invalidmessage|corruptmessage|wrong version number/.test(lower) && (t.tls || t.apiKeyFile)) {
    return `TLS with ${address} failed: the server does not answer TLS there (${msg}): remove temporal.tls (and apiKeyFile) for a plaintext server, or fix temporal.address to its TLS port`;
  }
  if (/certificate|tls|handshake|ssl|x509|unknownissuer|badsignature|invalid peer|alert/.test(lower)) {
    const fix = t.tls?.serverCaFile
      ? `check that temporal.tls.serverCaFile (${t.tls.serverCaFile}) signed the server's certificate, and temporal.tls.serverName matches it`
      : t.tls || t.apiKeyFile
        ? 'the server is not trusted by the system CAs: set temporal.tls.serverCaFile to the CA that signed it'
        : `the server at ${address} speaks TLS (or expects a client certificate): add a temporal.tls section`;
    return `TLS with ${address} failed (${msg}): ${fix}`;
  }
  if (/unauthenticated|permission ?denied|unauthorized|forbidden|api key|request unauthorized/.test(lower)) {
    return `${address} refused these credentials (${msg}): check temporal.apiKeyFile or the client certificate, and that it may use namespace ${t.namespace ?? 'default'}`;
  }
  if (/namespace.*not found|namespacenotfound/.test(lower)) {
    return `namespace ${t.namespace ?? 'default'} does not exist on ${address} (${msg}): fix temporal.namespace`;
  }
  return `cannot reach Temporal at ${address} (${msg}): check temporal.address, the device's network and firewall (port open from the device to the frontend)`;
}
