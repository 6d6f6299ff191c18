// The activities of one device's edge worker, bound to that device: the workflow never passes
// paths or commands, only content hashes and the deployment id.
import type { EdgeActivities } from '../../common/contracts';
import type { EdgeDevice } from './device';
import { createDiscardStaged } from './discardStaged';
import { createMeasureServing } from './measureServing';
import type { EdgeActivityOptions } from './options';
import { createProbeServing } from './probeServing';
import { createRestoreBackup } from './restoreBackup';
import { createSwapModel } from './swapModel';
import { createValidateDeployment } from './validateDeployment';
import { createWatchServing } from './watchServing';

export type { EdgeActivityOptions } from './options';

export function createEdgeActivities(device: EdgeDevice, options: EdgeActivityOptions = {}): EdgeActivities {
  return {
    swapModel: createSwapModel(device, options),
    validateDeployment: createValidateDeployment(device),
    restoreBackup: createRestoreBackup(device, options),
    discardStaged: createDiscardStaged(device),
    probeServing: createProbeServing(device),
    measureServing: createMeasureServing(device),
    watchServing: createWatchServing(device),
  };
}
