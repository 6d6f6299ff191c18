// The device config's `trust` section as the runtime and the edge activities use it: the release
// keys loaded once at start (a bad key file stops the service with the reason), none when the
// device trusts no key yet (then releases install unsigned, as before signing).
import { loadDeviceTrust, type DeviceTrust } from '../edge/trust';
import type { DeviceConfig } from './config';

export function deviceTrustOf(c: DeviceConfig): DeviceTrust | undefined {
  return c.trust.publicKeyFiles.length > 0 ? loadDeviceTrust(c.trust) : undefined;
}

/** What `edgeship-device check` says of the trust section: the key ids it loads, or why it cannot. */
export function describeTrust(c: DeviceConfig): { ok: boolean; detail: string } {
  if (c.trust.publicKeyFiles.length === 0) return { ok: true, detail: 'no release keys configured: unsigned releases install (docs/security.md turns signatures on)' };
  try {
    const trust = loadDeviceTrust(c.trust);
    return { ok: true, detail: `release keys ${[...trust.keys.keys()].join(', ')}; requireSignatures ${trust.requireSignatures}` };
  } catch (err) {
    return { ok: false, detail: `${(err as Error).message}: put the release public key from \`edgeship keys create\` there (docs/security.md)` };
  }
}
