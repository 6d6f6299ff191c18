// resolveDevices: turns requested device ids into the public facts the workflow needs, failing
// fast (non-retryable) on ids that are malformed or not in the inventory.
import { ApplicationFailure } from '@temporalio/common';
import type { DeviceInfo, ResolveDevicesInput } from '../../common/contracts';
import { ErrorType } from '../../common/errors';
import { isDeviceId } from '../../common/ids';
import { findDevice, publicDeviceInfo, type DeviceSpec, type Inventory } from '../../lib/inventory';

/** The inventory entry for an id, or a typed non-retryable failure. */
export function requireDevice(inventory: Inventory, deviceId: unknown): DeviceSpec {
  if (!isDeviceId(deviceId)) {
    throw ApplicationFailure.create({
      type: ErrorType.InvalidIdentifier,
      nonRetryable: true,
      message: `invalid device id ${JSON.stringify(deviceId)}: use 1-63 lowercase letters, digits or dashes`,
    });
  }
  const device = findDevice(inventory, deviceId);
  if (!device) {
    const known = inventory.devices.map((d) => d.id).join(', ');
    throw ApplicationFailure.create({ type: ErrorType.DeviceNotFound, nonRetryable: true, message: `device ${deviceId} is not in the inventory (known: ${known})` });
  }
  return device;
}

export function createResolveDevices(inventory: Inventory) {
  return async function resolveDevices(input: ResolveDevicesInput): Promise<DeviceInfo[]> {
    const ids: unknown = input?.deviceIds;
    if (!Array.isArray(ids) || ids.length === 0) {
      throw ApplicationFailure.create({ type: ErrorType.InvalidRequest, nonRetryable: true, message: 'deviceIds must be a non-empty list' });
    }
    const seen = new Set<string>();
    for (const id of ids) {
      if (seen.has(id as string)) {
        throw ApplicationFailure.create({ type: ErrorType.InvalidRequest, nonRetryable: true, message: `device ${String(id)} is listed twice` });
      }
      seen.add(id as string);
    }
    return ids.map((id) => publicDeviceInfo(requireDevice(inventory, id)));
  };
}
