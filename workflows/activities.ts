// Activity stubs with their timeouts and retry policies, one place per stage. Each call gets its
// own `summary`, which the Temporal UI shows on the event ("swap pi-01 → 3fa2…").
import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { EdgeActivities, GpuActivities } from '../common/contracts';
import { DEVICE_CALL_NON_RETRYABLE_ERROR_TYPES, NON_RETRYABLE_ERROR_TYPES } from '../common/errors';
import type { OwnershipActivities } from '../common/ownership';
import { CONTROL_TASK_QUEUE, edgeTaskQueue, gpuServerActivityQueue } from '../common/queues';
import type { DeployRequest } from '../common/request';

const nonRetryableErrorTypes = [...NON_RETRYABLE_ERROR_TYPES];
/** Calls to a device, scheduled per device in a fleet: only the types they can raise (common/errors.ts). */
const deviceCallNonRetryable = [...DEVICE_CALL_NON_RETRYABLE_ERROR_TYPES];

// GPU stages heartbeat every few seconds while their Python tools run, so a silent minute means
// the worker died and the attempt should move to another one.
const GPU_OPTIONS: { [K in keyof GpuActivities]: ActivityOptions } = {
  exportModel: {
    startToCloseTimeout: '30m',
    heartbeatTimeout: '2m',
    retry: { initialInterval: '10s', backoffCoefficient: 2, maximumInterval: '2m', maximumAttempts: 3, nonRetryableErrorTypes },
  },
  buildCalibrationSet: {
    startToCloseTimeout: '30m',
    heartbeatTimeout: '2m',
    retry: { initialInterval: '10s', backoffCoefficient: 2, maximumInterval: '2m', maximumAttempts: 3, nonRetryableErrorTypes },
  },
  // A Hailo compile takes tens of minutes; its heartbeat proves progress, the 3 h bound catches
  // a wedged compiler. Two attempts: a crash may pass, a deterministic failure is non-retryable.
  compileModel: {
    startToCloseTimeout: '3h',
    heartbeatTimeout: '2m',
    retry: { initialInterval: '30s', backoffCoefficient: 2, maximumInterval: '5m', maximumAttempts: 2, nonRetryableErrorTypes },
  },
  // The pre-flight sweep runs the artifact over ~1,200 windows on the GPU server's CPU.
  preflightModel: {
    startToCloseTimeout: '30m',
    heartbeatTimeout: '2m',
    retry: { initialInterval: '10s', backoffCoefficient: 2, maximumInterval: '2m', maximumAttempts: 3, nonRetryableErrorTypes },
  },
  // Champion vs challenger: both models over a few hundred held-out windows.
  compareWithServed: {
    startToCloseTimeout: '30m',
    heartbeatTimeout: '2m',
    retry: { initialInterval: '10s', backoffCoefficient: 2, maximumInterval: '2m', maximumAttempts: 3, nonRetryableErrorTypes },
  },
  resolveDevices: {
    startToCloseTimeout: '1m',
    retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5, nonRetryableErrorTypes },
  },
  // SSH trouble (DeviceUnreachable) is worth several retries; pushes resume by content hash.
  pushArtifact: {
    startToCloseTimeout: '30m',
    heartbeatTimeout: '1m',
    retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 5, nonRetryableErrorTypes: deviceCallNonRetryable },
  },
};

export function gpuActivity<K extends keyof GpuActivities>(name: K, summary: string, extra: ActivityOptions = {}): GpuActivities[K] {
  // Model work goes to `gpu`; resolveDevices, a quick inventory lookup, to `control` (common/queues.ts).
  const proxy = proxyActivities<GpuActivities>({ ...GPU_OPTIONS[name], ...extra, taskQueue: gpuServerActivityQueue(name), summary });
  return proxy[name] as GpuActivities[K];
}

/** The restart command is bounded at 120 s on the device, then /healthz is polled. */
const RESTART_BOUND_MS = 120_000;

/** The device-side deadlines a call needs (a whole request's `edge`, or a fleet rollout's copy). */
export type EdgeDeadlines = Pick<DeployRequest['edge'], 'healthTimeoutMs' | 'deviceDeadline' | 'restoreDeadline' | 'queueWait' | 'sharedTaskQueue'>;

function edgeOptions(name: keyof EdgeActivities, edge: EdgeDeadlines): ActivityOptions {
  const swapLike = RESTART_BOUND_MS + edge.healthTimeoutMs + 60_000;
  switch (name) {
    case 'swapModel':
      // scheduleToClose bounds queueing too: a device whose worker is gone fails the swap (and
      // so triggers the rollback) instead of waiting forever.
      return {
        startToCloseTimeout: swapLike,
        heartbeatTimeout: '30s',
        scheduleToCloseTimeout: edge.deviceDeadline,
        retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 3, nonRetryableErrorTypes: deviceCallNonRetryable },
      };
    case 'validateDeployment':
      return {
        startToCloseTimeout: '15m',
        heartbeatTimeout: '1m',
        scheduleToCloseTimeout: edge.deviceDeadline,
        retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 3, nonRetryableErrorTypes: deviceCallNonRetryable },
      };
    case 'restoreBackup':
      // The compensation keeps trying for as long as restoreDeadline allows: giving up leaves a
      // device on a model that failed.
      return {
        startToCloseTimeout: swapLike,
        heartbeatTimeout: '30s',
        scheduleToCloseTimeout: edge.restoreDeadline,
        retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', nonRetryableErrorTypes: deviceCallNonRetryable },
      };
    case 'probeServing':
      // The caller sets scheduleToStartTimeout: not being picked up in time means "offline".
      return {
        startToCloseTimeout: '30s',
        retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 3, nonRetryableErrorTypes: deviceCallNonRetryable },
      };
    case 'measureServing':
      return {
        startToCloseTimeout: '15m',
        heartbeatTimeout: '1m',
        scheduleToCloseTimeout: edge.deviceDeadline,
        retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 3, nonRetryableErrorTypes: deviceCallNonRetryable },
      };
    case 'watchServing':
      // The caller adds startToCloseTimeout (the soak plus a margin); a retried watch starts over.
      return {
        heartbeatTimeout: '30s',
        retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 2, nonRetryableErrorTypes: deviceCallNonRetryable },
      };
    case 'discardStaged':
      // Cleanup only: bounded, so a dead device cannot hold a finished deployment open.
      return {
        startToCloseTimeout: '1m',
        scheduleToStartTimeout: edge.queueWait,
        scheduleToCloseTimeout: Math.max(edge.queueWait, 5 * 60_000),
        retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5, nonRetryableErrorTypes: deviceCallNonRetryable },
      };
  }
}

export function edgeActivity<K extends keyof EdgeActivities>(deviceId: string, name: K, summary: string, edge: EdgeDeadlines, extra: ActivityOptions = {}): EdgeActivities[K] {
  const proxy = proxyActivities<EdgeActivities>({ ...edgeOptions(name, edge), ...extra, taskQueue: edge.sharedTaskQueue ?? edgeTaskQueue(deviceId), summary });
  return proxy[name] as EdgeActivities[K];
}

// Ownership: asking a device's owner workflow for its lease is quick (an update); retried a few
// times for a GPU worker restart, never for DeviceBusy.
const OWNERSHIP_OPTIONS: { [K in keyof OwnershipActivities]: ActivityOptions } = {
  requestDeviceLease: {
    startToCloseTimeout: '1m',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '15s', maximumAttempts: 10, nonRetryableErrorTypes },
  },
  // A batch asks owners one after another (~50 ms each); 2,000 devices fit well in 15 minutes.
  requestDeviceLeases: {
    startToCloseTimeout: '15m',
    heartbeatTimeout: '2m',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '15s', maximumAttempts: 10, nonRetryableErrorTypes },
  },
  releaseDeviceLeases: {
    startToCloseTimeout: '15m',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 20, nonRetryableErrorTypes },
  },
  recordDesiredModels: {
    startToCloseTimeout: '15m',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10, nonRetryableErrorTypes },
  },
  describeDeploymentRun: {
    startToCloseTimeout: '30s',
    retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 3, nonRetryableErrorTypes },
  },
};

export function ownershipActivity<K extends keyof OwnershipActivities>(name: K, summary: string): OwnershipActivities[K] {
  // On the control plane: a full `gpu` queue must never hold back a lease or a release.
  const proxy = proxyActivities<OwnershipActivities>({ ...OWNERSHIP_OPTIONS[name], taskQueue: CONTROL_TASK_QUEUE, summary });
  return proxy[name] as OwnershipActivities[K];
}
