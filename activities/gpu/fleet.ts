// The device-facing activities of the GPU worker, bound to one loaded inventory.
import type { GpuActivities } from '../../common/contracts';
import type { Inventory } from '../../lib/inventory';
import { createPushArtifact, type PushArtifactOptions } from './pushArtifact';
import { createResolveDevices } from './resolveDevices';

export type FleetActivities = Pick<GpuActivities, 'resolveDevices' | 'pushArtifact'>;

export function createFleetActivities(inventory: Inventory, options: PushArtifactOptions = {}): FleetActivities {
  return {
    resolveDevices: createResolveDevices(inventory),
    pushArtifact: createPushArtifact(inventory, options),
  };
}
