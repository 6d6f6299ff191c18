// Signals, the update and the query of deployModel. Shared by the workflow and its clients, so
// their payloads stay plain JSON objects: `temporal workflow signal --name approve
// --input '{"by":"alice"}'` and the Temporal UI's signal button send exactly these.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { MESSAGE_NAMES } from '../common/workflowNames';
import type { DeploymentStatus } from './report';

export interface ApproveInput {
  by: string;
  comment?: string;
}

export interface RejectInput {
  by: string;
  reason: string;
}

export type DecisionInput = ({ decision: 'approve' } & ApproveInput) | ({ decision: 'reject' } & RejectInput);

/** What the `decide` update answers once the decision is recorded. */
export interface DecisionAccepted {
  decision: 'approved' | 'rejected';
  by: string;
  at: string;
}

/** Fleet rollouts: no new device starts until resumed; devices in flight finish. */
export interface PauseInput {
  by: string;
  reason?: string;
}

export interface ResumeInput {
  by: string;
}

const NAMES = MESSAGE_NAMES.deployModel; // defined with every other name in common/workflowNames.ts
export const APPROVE_SIGNAL = NAMES.approveSignal;
export const REJECT_SIGNAL = NAMES.rejectSignal;
export const DECIDE_UPDATE = NAMES.decideUpdate;
export const STATUS_QUERY = NAMES.statusQuery;
export const PAUSE_SIGNAL = NAMES.pauseSignal;
export const RESUME_SIGNAL = NAMES.resumeSignal;

export const approveSignal = defineSignal<[ApproveInput]>(APPROVE_SIGNAL);
export const rejectSignal = defineSignal<[RejectInput]>(REJECT_SIGNAL);
/** For callers that want an answer: the validator refuses bad decisions before they are logged. */
export const decideUpdate = defineUpdate<DecisionAccepted, [DecisionInput]>(DECIDE_UPDATE);
export const statusQuery = defineQuery<DeploymentStatus>(STATUS_QUERY);
export const pauseSignal = defineSignal<[PauseInput]>(PAUSE_SIGNAL);
export const resumeSignal = defineSignal<[ResumeInput]>(RESUME_SIGNAL);
