// Task queue names: three kinds of work, three kinds of queue (DESIGN.md). Pure: workflow code
// imports it.
import { assertDeviceId } from './ids';

/**
 * The control plane: every workflow (deployModel, deviceOwner, the fleet children) and the short
 * activities that only talk to Temporal or read the inventory. It has its own slots, so exports
 * and compiles that fill `gpu` for hours never hold back a lease, a release or an owner's check.
 */
export const CONTROL_TASK_QUEUE = 'control';

/** Task queue of the GPU workers' model work: export, calibrate, compile, pre-flight, compare, push. */
export const GPU_TASK_QUEUE = 'gpu';

/**
 * Activities the GPU worker process serves on `control` rather than `gpu`: the lease and
 * ownership activities and the inventory lookup. Read by the workflows' activity stubs (where an
 * activity is scheduled) and by workers/gpuWorker.ts (where it is registered).
 */
export const CONTROL_ACTIVITIES = [
  'resolveDevices',
  'requestDeviceLease',
  'requestDeviceLeases',
  'releaseDeviceLeases',
  'recordDesiredModels',
  'describeDeploymentRun',
] as const;
export type ControlActivityName = (typeof CONTROL_ACTIVITIES)[number];

export function isControlActivity(name: string): name is ControlActivityName {
  return (CONTROL_ACTIVITIES as readonly string[]).includes(name);
}

/** Where a GPU-server activity is scheduled. */
export function gpuServerActivityQueue(name: string): string {
  return isControlActivity(name) ? CONTROL_TASK_QUEUE : GPU_TASK_QUEUE;
}

/** Task queue polled by the edge worker that runs on one device. */
export function edgeTaskQueue(deviceId: string): string {
  assertDeviceId(deviceId);
  return `edge.${deviceId}`;
}
