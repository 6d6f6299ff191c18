// The workflow functions the GPU worker bundles. Only workflows are exported here: the worker
// registers every export of this module as a workflow type.
export { deployModel } from './deployModel';
export { deviceOwner } from './deviceOwner';
export { rolloutWave } from './fleet/rolloutWave';
export { deviceRollout } from './fleet/deviceRollout';
