// The device as its own edge activities see it: what the fleet inventory says of it minus the SSH
// side (that is the GPU server's business), so a packaged device can build it from its own
// config (device/config.ts) and never hold the fleet inventory or an SSH private key.
import type { DeviceSpec } from '../../lib/inventory';

export type EdgeDevice = Omit<DeviceSpec, 'ssh' | 'restartCommand'> & {
  /**
   * argv that restarts the inference runtime, run without a shell (containers, the simulator);
   * null when the runtime reloads by itself when `current` changes (edge/currentWatcher.ts): the
   * swap and the restore then only wait for /healthz to name the new sha, as they always do.
   */
  restartCommand: readonly string[] | null;
};
