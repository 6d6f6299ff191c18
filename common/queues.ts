import { assertDeviceId } from './ids';

/** Task queue of the GPU workers (export, calibrate, compile, push). */
export const GPU_TASK_QUEUE = 'gpu';

/** Task queue polled by the edge worker that runs on one device. */
export function edgeTaskQueue(deviceId: string): string {
  assertDeviceId(deviceId);
  return `edge.${deviceId}`;
}
