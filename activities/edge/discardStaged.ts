// discardStaged: drops a staged artifact that will not be swapped in (rejected, failed before the
// swap). Idempotent: what is already gone is simply not listed. Only staging/ is touched, so a
// live release of the same sha stays served.
import { rm } from 'node:fs/promises';
import type { DiscardStagedInput, DiscardStagedResult } from '../../common/contracts';
import type { DeviceSpec } from '../../common/inventory';
import { checkArtifactId, exists, metaPathOf, stagedPath } from './modelDir';
import { withModelDirLock } from './options';

export function createDiscardStaged(device: DeviceSpec) {
  return async function discardStaged(input: DiscardStagedInput): Promise<DiscardStagedResult> {
    checkArtifactId(input.sha256, input.ext);
    const staged = stagedPath(device.modelDir, input.sha256, input.ext);
    return withModelDirLock(device.modelDir, async () => {
      const removed: string[] = [];
      for (const file of [staged, metaPathOf(staged)]) {
        if (await exists(file)) {
          await rm(file, { force: true });
          removed.push(file);
        }
      }
      return { deviceId: device.id, removed };
    });
  };
}
