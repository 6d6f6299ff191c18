// Messages of the deviceOwner workflow, and the one it sends back to a deployment. Shared by the
// workflows, the ownership activities and the clients.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { MESSAGE_NAMES } from '../common/workflowNames';
import type { DesiredModelSignal, DeviceRecord, LeaseAnswer, LeaseRelease, LeaseRequest } from '../common/ownership';

// Names are defined with every other name in common/workflowNames.ts.
export const REQUEST_LEASE_UPDATE = MESSAGE_NAMES.deviceOwner.requestLeaseUpdate;
export const RELEASE_LEASE_SIGNAL = MESSAGE_NAMES.deviceOwner.releaseLeaseSignal;
/** Sent by the owner to a queued deployModel run. */
export const LEASE_GRANTED_SIGNAL = MESSAGE_NAMES.deployModel.leaseGrantedSignal;
export const DEVICE_QUERY = MESSAGE_NAMES.deviceOwner.deviceQuery;
export const DESIRED_MODEL_SIGNAL = MESSAGE_NAMES.deviceOwner.desiredModelSignal;

/** Answers at once: granted, queued (with the position), or DeviceBusy when onBusy is "fail". */
export const requestLeaseUpdate = defineUpdate<LeaseAnswer, [LeaseRequest]>(REQUEST_LEASE_UPDATE);
/** From the holder when it ends (with what it did to the device), or from a run leaving the queue. */
export const releaseLeaseSignal = defineSignal<[LeaseRelease]>(RELEASE_LEASE_SIGNAL);
/** To a queued deployment run: the device is now yours. */
export const leaseGrantedSignal = defineSignal<[{ deviceId: string }]>(LEASE_GRANTED_SIGNAL);
export const deviceQuery = defineQuery<DeviceRecord>(DEVICE_QUERY);
/** From a fleet rollout holding the lease: the model an offline device should catch up to (or null). */
export const desiredModelSignal = defineSignal<[DesiredModelSignal]>(DESIRED_MODEL_SIGNAL);
