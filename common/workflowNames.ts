// Every name Temporal knows edgeship's workflows by: the workflow types, and the ids of the
// per-device owner and of a fleet rollout's children, each built and parsed side by side. (A
// deployment's own id, `deploy-<model>-<target>-<sha12>`, is built and parsed in
// common/request.ts, next to the request it comes from.) Pure: workflow code imports it.
import { DEVICE_ID_PATTERN, assertDeviceId } from './ids';

/**
 * Workflow type names: the worker registers each exported function of workflows/index.ts under
 * its own name, so these equal those function names (test/unit/workflow-names.test.ts checks).
 */
export const WORKFLOW_TYPES = {
  deployModel: 'deployModel',
  deviceOwner: 'deviceOwner',
  rolloutWave: 'rolloutWave',
  deviceRollout: 'deviceRollout',
} as const;
export type WorkflowTypeName = (typeof WORKFLOW_TYPES)[keyof typeof WORKFLOW_TYPES];

export const DEPLOY_MODEL_WORKFLOW_TYPE = WORKFLOW_TYPES.deployModel;
export const DEVICE_OWNER_WORKFLOW_TYPE = WORKFLOW_TYPES.deviceOwner;
export const ROLLOUT_WAVE_WORKFLOW_TYPE = WORKFLOW_TYPES.rolloutWave;
export const DEVICE_ROLLOUT_WORKFLOW_TYPE = WORKFLOW_TYPES.deviceRollout;

/**
 * Signal, update and query names by the workflow that handles them (workflows/messages.ts,
 * workflows/deviceMessages.ts and the fleet workflows define their handlers with these). They are
 * what `temporal workflow signal|query --name …` and the Temporal UI use.
 */
export const MESSAGE_NAMES = {
  deployModel: { approveSignal: 'approve', rejectSignal: 'reject', decideUpdate: 'decide', statusQuery: 'status', leaseGrantedSignal: 'leaseGranted', pauseSignal: 'pause', resumeSignal: 'resume' },
  deviceOwner: { requestLeaseUpdate: 'requestLease', releaseLeaseSignal: 'releaseLease', deviceQuery: 'device', desiredModelSignal: 'desiredModel' },
  rolloutWave: { waveStatusQuery: 'waveStatus', wavePausedSignal: 'wavePaused' },
  deviceRollout: { deviceRolloutStatusQuery: 'deviceRolloutStatus' },
} as const satisfies Record<WorkflowTypeName, Record<string, string>>;

const DEVICE_OWNER_PREFIX = 'device-';

/** The id of the device's owner workflow: Temporal's id uniqueness is the lease's guarantee. */
export function deviceOwnerWorkflowId(deviceId: string): string {
  assertDeviceId(deviceId);
  return `${DEVICE_OWNER_PREFIX}${deviceId}`;
}

/** The device of an owner workflow id, or undefined when the id is not one. */
export function parseDeviceOwnerWorkflowId(workflowId: string): string | undefined {
  if (!workflowId.startsWith(DEVICE_OWNER_PREFIX)) return undefined;
  const deviceId = workflowId.slice(DEVICE_OWNER_PREFIX.length);
  return DEVICE_ID_PATTERN.test(deviceId) ? deviceId : undefined;
}

/** What a deviceRollout child does for its device. */
export const DEVICE_ROLLOUT_MODES = ['deploy', 'catch-up', 'revert'] as const;
export type DeviceRolloutMode = (typeof DEVICE_ROLLOUT_MODES)[number];

// Child workflow ids: stable, readable in the UI, unique per parent id (a re-run reuses them once
// closed). Deployment ids built by deploymentWorkflowId and device ids hold no dot, which is what
// makes the parsers below exact.

/** A wave's id: `<deploymentId>.<wave>` (canary, wave-1, …, revert). */
export function waveWorkflowId(deploymentId: string, wave: string): string {
  return `${deploymentId}.${wave}`;
}

/** The deployment and wave of a rolloutWave id (the wave name holds no dot). */
export function parseWaveWorkflowId(workflowId: string): { deploymentId: string; wave: string } | undefined {
  const dot = workflowId.lastIndexOf('.');
  if (dot <= 0 || dot === workflowId.length - 1) return undefined;
  return { deploymentId: workflowId.slice(0, dot), wave: workflowId.slice(dot + 1) };
}

/** A device rollout's id: `<deploymentId>.<deviceId>`, with `.catch-up` or `.revert` for those modes. */
export function deviceRolloutWorkflowId(deploymentId: string, deviceId: string, mode: DeviceRolloutMode): string {
  return mode === 'deploy' ? `${deploymentId}.${deviceId}` : `${deploymentId}.${deviceId}.${mode}`;
}

/** The deployment, device and mode of a deviceRollout id, or undefined when the id is not one. */
export function parseDeviceRolloutWorkflowId(workflowId: string): { deploymentId: string; deviceId: string; mode: DeviceRolloutMode } | undefined {
  const parts = workflowId.split('.');
  const last = parts[parts.length - 1];
  const mode: DeviceRolloutMode = (DEVICE_ROLLOUT_MODES as readonly string[]).includes(last) && last !== 'deploy' && parts.length > 2 ? (last as DeviceRolloutMode) : 'deploy';
  const deviceAt = mode === 'deploy' ? parts.length - 1 : parts.length - 2;
  const deviceId = parts[deviceAt];
  if (deviceAt < 1 || !DEVICE_ID_PATTERN.test(deviceId)) return undefined;
  return { deploymentId: parts.slice(0, deviceAt).join('.'), deviceId, mode };
}
