// Device ownership: one long-lived `deviceOwner` workflow per device (id `device-<deviceId>`)
// grants the device to one deployment run at a time, queues the others in arrival order, and
// keeps the device's record (what it serves, which run put it there, its backups). Types and
// names only: workflows, activities and clients all import this file.
// The owner's type and id are defined with every other workflow name (common/workflowNames.ts).
export { DEVICE_OWNER_WORKFLOW_TYPE, deviceOwnerWorkflowId, parseDeviceOwnerWorkflowId } from './workflowNames';

export const ON_BUSY = ['queue', 'fail'] as const;
export type OnBusy = (typeof ON_BUSY)[number];

/** A deployment run asking for a device. */
export interface LeaseRequest {
  deploymentId: string;
  runId: string;
  modelName: string;
  onBusy: OnBusy;
}

export interface LeaseEntry {
  deploymentId: string;
  runId: string;
  modelName: string;
  requestedAt: string;
  grantedAt?: string;
}

/** The update's answer: granted now, or queued at this position (1 = next) behind the holder. */
export interface LeaseAnswer {
  deviceId: string;
  granted: boolean;
  position: number;
  holder: { deploymentId: string; runId: string; modelName: string; since: string } | null;
}

/**
 * What a deployment run did to a device, sent with the release:
 * - deployed: the run's artifact is live and validated;
 * - rolled-back: the run swapped, then restored what it replaced (servesSha256 = restored sha);
 * - untouched: nothing live changed on this device (staging only, or a restore that found
 *   nothing of this run to undo);
 * - unknown: a restore failed or never ran: what the device serves must be checked by a person;
 * - skipped-offline: a fleet rollout never reached the device (its edge worker did not answer).
 */
export type DeviceOutcomeKind = 'deployed' | 'rolled-back' | 'untouched' | 'unknown' | 'skipped-offline';

export interface DeviceOutcome {
  kind: DeviceOutcomeKind;
  /** What the device serves per this run (full sha; null = no model). Absent when unknown or untouched. */
  servesSha256?: string | null;
  /** Distinct model versions in the device's backups/ as the run last saw them, newest first. */
  backups?: string[];
  /** The deployment's final status (completed, rolled-back, …). */
  deploymentStatus: string;
  reason?: string;
}

export interface LeaseRelease {
  deploymentId: string;
  runId: string;
  /** Absent when the run gives up a place in the queue it never held. */
  outcome?: DeviceOutcome;
}

export interface ServedModel {
  /** null: the device serves no model. */
  sha256: string | null;
  /** The run that put it there, when one reported it. */
  deploymentId?: string;
  runId?: string;
  modelName?: string;
  since: string;
  /** false when the last run could not prove what the device serves (a restore failed, a holder vanished). */
  verified: boolean;
  note?: string;
}

export interface DeviceHistoryEntry {
  deploymentId: string;
  runId: string;
  modelName: string;
  outcome: DeviceOutcomeKind | 'abandoned';
  deploymentStatus: string;
  servesSha256?: string | null;
  at: string;
  reason?: string;
}

/** The fleet's truth for one device, kept by its owner workflow (and in its memo). */
export interface DeviceRecord {
  schema: 'edgeship.device/1';
  deviceId: string;
  /** null until a deployment has reported what the device serves. */
  serves: ServedModel | null;
  backups: string[];
  holder: LeaseEntry | null;
  queue: LeaseEntry[];
  /** Newest last, bounded. */
  history: DeviceHistoryEntry[];
  /** Set by a fleet rollout for a device that was offline at its turn; cleared when that run releases. */
  desired?: DesiredModel;
  updatedAt: string;
}

export interface DeviceOwnerInput {
  deviceId: string;
  /** How often the holder is checked for having ended without releasing (someone waiting). */
  holderCheckIntervalMs?: number;
  /** Continue-as-new once the history has this many events (default 4,000; tests use fewer). */
  continueAfterEvents?: number;
  /** Carried over by continue-as-new. */
  record?: DeviceRecord;
  /** What its starter's code does (DEVICE_OWNER_CODE); absent on owners started before it existed. */
  code?: number;
}

/**
 * The owner code a starter asks for, carried in the owner's input instead of a patch marker. In a
 * new execution every patched() call writes two history events and one visibility update (the
 * marker, and SDK core's upsert of TemporalChangeVersion): per device, across a fleet, that is
 * what a patch costs. An owner whose input has no `code` started before this existed and replays
 * what it recorded, where patched() still decides. Raise it (and branch on it) for a change of the
 * owner's commands; docs/develop.md, "Changing per-device workflows".
 * 1: checks its holder only when asked; upserts its memo when the record changes and EdgeshipSha
 *    when the served model changes (EdgeshipDevices is set at its start; no held/idle status).
 */
export const DEVICE_OWNER_CODE = 1;

export const DEFAULT_HOLDER_CHECK_INTERVAL_MS = 30_000;
/** Owners started before edgeship-owner-checks-holder-only-when-asked also checked with nobody waiting, this many times less often. */
export const IDLE_CHECK_FACTOR = 10;
export const DEVICE_HISTORY_LIMIT = 20;

/** A fleet rollout's promise to a device that was offline at its turn (offline: "catch-up"). */
export interface DesiredModel {
  deploymentId: string;
  runId: string;
  modelName: string;
  sha256: string;
  /** The rollout brings the device to this model if its edge worker answers before then. */
  until: string;
  since: string;
}

export interface DesiredModelSignal {
  deploymentId: string;
  runId: string;
  /** null clears what this run asked for. */
  desired: Omit<DesiredModel, 'deploymentId' | 'runId' | 'since'> | null;
}

export interface BatchLeaseRequest extends LeaseRequest {
  /** Asked in this order; the batch stops after the first device that is not granted at once. */
  deviceIds: string[];
  /**
   * Ask every owner at once and queue nowhere (a busy device answers granted: false): the fast
   * path when nobody else holds these devices. The caller releases what it got if any was busy.
   */
  tryAll?: boolean;
}

/** Activities the ownership protocol runs on the `gpu` task queue (they talk to Temporal itself). */
export interface OwnershipActivities {
  /**
   * Fleet rollouts: requestDeviceLease for many devices in one activity, in the given order,
   * stopping after the first that queues (so the order rule that prevents deadlocks holds).
   */
  requestDeviceLeases(input: BatchLeaseRequest): Promise<LeaseAnswer[]>;
  /** Fleet rollouts: the releaseLease signal to many owners (missing owners are skipped). */
  releaseDeviceLeases(input: { deploymentId: string; runId: string; releases: Array<{ deviceId: string; outcome?: DeviceOutcome }> }): Promise<{ released: number; missing: string[] }>;
  /** Fleet rollouts: records (or clears) the desired model on devices waiting for catch-up. */
  recordDesiredModels(input: DesiredModelSignal & { deviceIds: string[] }): Promise<{ recorded: number; missing: string[] }>;
  /** Update-with-start on `device-<id>`: the lease now, or a place in its queue. */
  requestDeviceLease(input: LeaseRequest & { deviceId: string; updateIdSuffix?: string }): Promise<LeaseAnswer>;
  /** Whether a workflow run is still open (the device's holder may have been terminated). */
  describeDeploymentRun(input: { workflowId: string; runId: string }): Promise<{ open: boolean; status: string }>;
}
