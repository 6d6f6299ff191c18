// The GPU side's refusal of a device whose edge worker cannot run its edge activities: typed,
// non-retryable, and before anything is staged. It runs inside activities that already run before
// staging — the lease of a plain deployment and the push itself (a fleet rollout's device) — so
// the workflows emit the same commands as before and every recorded history still replays.
import { ApplicationFailure } from '@temporalio/common';
import { describeEdgePollers, edgeVersionRefusal, type TaskQueueDescriber } from '../../lib/edgePollers';
import { ErrorType } from '../../common/errors';
import { isDeviceId } from '../../common/ids';
import type { GpuActivities } from '../../common/contracts';

/** Resolves when the device may be deployed to; throws DeviceVersionUnsupported when not. */
export type EdgeVersionGate = (deviceId: string) => Promise<void>;

export function createEdgeVersionGate(client: TaskQueueDescriber): EdgeVersionGate {
  return async (deviceId) => {
    // A malformed id has no edge queue; the caller's own validation refuses it, typed.
    if (!isDeviceId(deviceId)) return;
    // A failure to ask Temporal is thrown as it is: the activity retries it.
    const pollers = await describeEdgePollers(client, deviceId);
    const refusal = edgeVersionRefusal(deviceId, pollers);
    if (refusal) {
      throw ApplicationFailure.create({
        type: ErrorType.DeviceVersionUnsupported,
        nonRetryable: true,
        message: refusal,
        details: [{ deviceId, pollers: pollers.filter((p) => p.live).map((p) => ({ identity: p.identity, version: p.parsed?.version ?? null, api: p.parsed?.api ?? 1, ageSeconds: p.ageSeconds })) }],
      });
    }
  };
}

/** pushArtifact that first asks the gate: a refused device gets no SSH connection, no upload. */
export function gatePushArtifact<T extends Pick<GpuActivities, 'pushArtifact'>>(activities: T, gate: EdgeVersionGate): T {
  const push = activities.pushArtifact;
  return {
    ...activities,
    pushArtifact: async (input: Parameters<GpuActivities['pushArtifact']>[0]) => {
      await gate(input.deviceId);
      return push(input);
    },
  };
}
