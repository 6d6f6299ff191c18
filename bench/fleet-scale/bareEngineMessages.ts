// The bare-engine program's messages and activity interface (bareEngineWorkflows.ts and
// bareEngineActivities.ts both use them). Not edgeship.
import { defineSignal, defineUpdate } from '@temporalio/workflow';

export const bareLeaseUpdate = defineUpdate<boolean, [holder: string]>('bareLease');
export const bareReleaseSignal = defineSignal<[holder: string]>('bareRelease');

export const bareOwnerWorkflowId = (deviceId: string): string => `bare-owner-${deviceId}`;

export interface BareLeaseInput {
  deviceIds: string[];
  holder: string;
}

export interface BareEngineActivities {
  bareLeaseDevices(input: BareLeaseInput): Promise<number>;
  bareReleaseDevices(input: BareLeaseInput): Promise<number>;
  bareProbe(): Promise<void>;
  barePush(): Promise<void>;
  bareSwap(): Promise<void>;
  bareValidate(): Promise<void>;
}
