// The workflow functions the GPU worker bundles. Only workflows are exported here: the worker
// registers every export of this module as a workflow type.
//
// Each workflow execution evaluates its own copy of every module it requires (the SDK keeps a
// module cache per execution), so this entry requires a workflow's module only when an execution
// of that type runs: a device's owner or rollout then carries its own few modules, not the
// deployment's stages and request schema (~1.1 MiB → ~0.1 MiB per cached execution;
// npm run bench:workflow-heap). Each wrapper has its workflow's exact type, so clients keep
// `typeof deployModel` etc.
/* eslint-disable @typescript-eslint/no-require-imports */
import type * as DeployModel from './deployModel';
import type * as DeviceOwner from './deviceOwner';
import type * as RolloutWave from './fleet/rolloutWave';
import type * as DeviceRollout from './fleet/deviceRollout';

export const deployModel: typeof DeployModel.deployModel = (input) => (require('./deployModel') as typeof DeployModel).deployModel(input);
export const deviceOwner: typeof DeviceOwner.deviceOwner = (input) => (require('./deviceOwner') as typeof DeviceOwner).deviceOwner(input);
export const rolloutWave: typeof RolloutWave.rolloutWave = (input) => (require('./fleet/rolloutWave') as typeof RolloutWave).rolloutWave(input);
export const deviceRollout: typeof DeviceRollout.deviceRollout = (input) => (require('./fleet/deviceRollout') as typeof DeviceRollout).deviceRollout(input);
