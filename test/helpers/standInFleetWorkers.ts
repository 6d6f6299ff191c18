// The workers of a workflow test over a StandInFleet (sim/standIns.ts), as a GPU server and its devices run them:
// the GPU server's `control` and `gpu` Workers with the fleet's stand-in GPU activities and the
// real ownership activities (they talk to the test server), and one edge worker per device with
// the fleet's stand-in device activities and the identity a current edge worker has.
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkerOptions } from '@temporalio/worker';
import { createEdgeVersionGate, gatePushArtifact } from '../../activities/gpu/edgeVersionGate';
import { createOwnershipActivities } from '../../activities/gpu/ownership';
import { edgeTaskQueue } from '../../common/queues';
import { createControlAndGpuWorkers } from '../../workers/gpuWorker';
import type { StandInFleet } from '../../sim/standIns';
import { testEdgeIdentity } from './edgeIdentity';

export interface StandInFleetWorkerOptions {
  /** The stand-in push behind the real edge-version gate, as the GPU worker's real one is (fleet paths). */
  gateVersions?: boolean;
  gpu?: Partial<WorkerOptions>;
  edge?: Partial<WorkerOptions>;
}

export async function createStandInFleetWorkers(env: TestWorkflowEnvironment, fleet: StandInFleet, deviceIds: readonly string[], opts: StandInFleetWorkerOptions = {}): Promise<Worker[]> {
  const connection = env.nativeConnection;
  const gpuActivities = opts.gateVersions ? gatePushArtifact(fleet.gpuActivities(), createEdgeVersionGate(env.client)) : fleet.gpuActivities();
  return [
    ...(await createControlAndGpuWorkers({
      connection,
      workflowsPath: require.resolve('../../workflows'),
      activities: { ...gpuActivities, ...createOwnershipActivities(env.client, { holderCheckIntervalMs: 500 }) },
      ...(opts.gpu ? { gpu: opts.gpu } : {}),
    })),
    ...(await Promise.all(deviceIds.map((id) => Worker.create({ connection, taskQueue: edgeTaskQueue(id), activities: fleet.edgeActivities(id), identity: testEdgeIdentity(id), ...opts.edge })))),
  ];
}
