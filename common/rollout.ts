// Fleet rollouts: the plan in a request, and what the rollout workflows pass each other. The
// parent `deployModel` runs waves; each wave is a `rolloutWave` child that runs one
// `deviceRollout` child per device (so the parent's history grows with waves, a wave's with its
// devices, and a device's with its own steps). Types and pure names only: workflows, clients and
// tests import this file.
import type { ArtifactRef, BackupRecord, ReleaseCheck, RestoreBackupResult, SoakReport, ValidationGates } from './contracts';

// The children's types, modes and ids are defined with every other workflow name (common/workflowNames.ts).
export {
  DEVICE_ROLLOUT_WORKFLOW_TYPE, ROLLOUT_WAVE_WORKFLOW_TYPE, deviceRolloutWorkflowId, parseDeviceRolloutWorkflowId, parseWaveWorkflowId, waveWorkflowId, type DeviceRolloutMode,
} from './workflowNames';
import type { DeviceRolloutMode } from './workflowNames';

export const ON_HALT = ['revert-all', 'keep-validated'] as const;
export type OnHalt = (typeof ON_HALT)[number];
export const OFFLINE_POLICIES = ['skip', 'catch-up'] as const;
export type OfflinePolicy = (typeof OFFLINE_POLICIES)[number];
export const APPROVAL_POINTS = ['after-canary', 'every-wave'] as const;
export type ApprovalPoint = (typeof APPROVAL_POINTS)[number];

/** What halts a rollout (the canary halts on any failure, whatever these say). */
export interface HaltCriteria {
  /** Halt when more than this many devices failed. Default 0 when maxFailedPercent is not given. */
  maxFailed?: number;
  /** Halt when more than this percentage of the devices done failed... */
  maxFailedPercent?: number;
  /** ...once at least this many devices are done (default 10). */
  minDoneForPercent: number;
  /** Count devices skipped as offline as failed (default false). */
  countOffline: boolean;
}


/**
 * How a device's rollout ended:
 * - validated: swapped, validated and soaked: serves the new model;
 * - failed: a step failed and what this run did to the device was undone (restore.outcome says how);
 * - failed-unrestored: a step failed and the undo failed too: a person must check the device;
 * - skipped-offline: its edge worker did not answer in time (catch-up: before the deadline);
 * - reverted / revert-failed: the halt's (or the rejection's, or the cancellation's) revert;
 * - cancelled: cancelled before it changed anything live (staged copy discarded).
 */
export type DeviceRolloutOutcome = 'validated' | 'failed' | 'failed-unrestored' | 'skipped-offline' | 'reverted' | 'revert-failed' | 'cancelled';

export type DeviceRolloutStep = 'probe' | 'stage' | 'swap' | 'validate' | 'soak' | 'restore';

/** The figures a canary is judged by, next to the same figures of devices on the old model. */
export interface DeviceFigures {
  servedSha256Prefix: string | null;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  rps: number;
  /** Agreement with the model's own FP32 outputs (reference probes, binding windows). */
  minReferenceCosine?: number;
  bindingMinCosine?: number;
  bindingMaxRelativeError?: number;
}

/** Everything a device rollout needs; big data travels as paths and sha256. */
export interface DeviceRolloutSettings {
  /** The parent deployment's identity: device journals and claims are keyed by it. */
  deploymentId: string;
  runId: string;
  modelName: string;
  artifact: ArtifactRef;
  metadataPath: string;
  /** The signed release manifest, staged with the artifact (absent: unsigned). */
  manifestPath?: string;
  /** The request's allowDowngrade (absent: false). */
  allowDowngrade?: boolean;
  ext: 'onnx' | 'hef';
  /** Every device gate (common/gates.ts) with the request's value. */
  gates: ValidationGates;
  validation: { latencyRequests: number; concurrency: number; throughputDurationMs: number };
  edge: { healthTimeoutMs: number; deviceDeadline: number; restoreDeadline: number; queueWait: number; sharedTaskQueue?: string };
  soakMs: number;
  /** How long a device's edge worker has to pick up the first call before the device counts as offline. */
  offlineAfterMs: number;
  /** catch-up: epoch ms until which the device is waited for. */
  catchUpUntilMs?: number;
}

export interface DeviceRolloutInput extends DeviceRolloutSettings {
  deviceId: string;
  mode: DeviceRolloutMode;
  /** The wave's name, for the UI and the report. */
  wave: string;
  /** What the starting wave's code does (DEVICE_ROLLOUT_CODE); absent on children started before it existed. */
  code?: number;
}

/**
 * The deviceRollout code a wave asks for, in the child's input instead of a patch marker (two
 * history events and a visibility update per device each; see DEVICE_OWNER_CODE in
 * common/ownership.ts). A child without it replays what it recorded, where patched() decides.
 * 1: the wave set the device's search attributes at its start; a failed device closes Failed.
 */
export const DEVICE_ROLLOUT_CODE = 1;

export interface DeviceRolloutResult {
  deviceId: string;
  mode: DeviceRolloutMode;
  wave: string;
  outcome: DeviceRolloutOutcome;
  startedAt: string;
  finishedAt: string;
  /** Where it failed (failed, failed-unrestored, revert-failed). */
  failedStep?: DeviceRolloutStep;
  error?: { type: string; message: string };
  /** What the device served when this run staged (full sha; null = nothing). */
  replacedSha256?: string | null;
  backup?: BackupRecord | null;
  backupsOnDevice?: string[];
  /** The device's signature and downgrade check before its swap. */
  release?: ReleaseCheck;
  figures?: DeviceFigures;
  /** The failed validation's own figures, when a gate failed. */
  validationFailures?: string[];
  soak?: Pick<SoakReport, 'healthy' | 'degraded' | 'polls' | 'requests' | 'errors' | 'p95LatencyMs' | 'durationMs'>;
  restore?: RestoreBackupResult;
  servedSha256Prefix?: string | null;
  /** catch-up: when the device answered again. */
  cameBackAt?: string;
}

/** The parent's view of one wave, and the wave workflow's own status. */
export interface WaveCounts {
  total: number;
  pending: number;
  running: number;
  validated: number;
  failed: number;
  skipped: number;
  reverted: number;
  cancelled: number;
}

export interface HaltTally {
  /** Devices that finished (validated or failed, plus offline when countOffline). */
  done: number;
  failed: number;
  offline: number;
}

export interface HaltVerdict {
  wave: string;
  reason: string;
  tally: HaltTally;
}

export interface WaveInput {
  name: string;
  index: number;
  mode: DeviceRolloutMode;
  devices: string[];
  maxParallel: number;
  /** Absent: the wave never halts (reverts, catch-up). */
  halt?: { criteria: HaltCriteria; canary: boolean; before: HaltTally };
  settings: DeviceRolloutSettings;
  /** The rollout was paused when the wave started (later changes arrive by the wavePaused signal). */
  paused?: boolean;
}

export interface WaveResult {
  name: string;
  mode: DeviceRolloutMode;
  startedAt: string;
  finishedAt: string;
  counts: WaveCounts;
  devices: FleetDeviceRow[];
  /** Devices the wave never started because it halted (or was cancelled). */
  notReached: string[];
  halted?: HaltVerdict;
  /** The tally after this wave (before + this wave). */
  tally: HaltTally;
}

export interface WaveStatus {
  name: string;
  mode: DeviceRolloutMode;
  counts: WaveCounts;
  tally: HaltTally;
  /** The halt criteria's current figure, e.g. "2 failed of 14 done (14.3 %) — halts above 10 %". */
  haltFigure?: string;
  running: string[];
  devices: Array<Pick<DeviceRolloutResult, 'deviceId' | 'outcome' | 'failedStep'>>;
  halted?: HaltVerdict;
  /** No new device starts while the rollout is paused; the running ones finish. */
  paused?: boolean;
}

/** A wave's planned membership, as the parent reports it. */
export interface PlannedWave {
  name: string;
  devices: string[];
}

/** Canary (new model) and baseline (old model) figures, for the approval after the canary. */
export interface CanaryComparison {
  canary: Array<{ deviceId: string } & DeviceFigures>;
  baseline: Array<{ deviceId: string } & Partial<DeviceFigures> & { error?: string }>;
  /** Canary median ÷ baseline median for each figure, when both sides have it. */
  ratios?: { p95Ms?: number; rps?: number };
  notes: string[];
}

export type WaveState = 'pending' | 'awaiting-approval' | 'running' | 'done' | 'halted' | 'not-run';

export interface WaveReport {
  name: string;
  index: number;
  mode: DeviceRolloutMode;
  workflowId: string;
  state: WaveState;
  devices: string[];
  counts: WaveCounts;
  startedAt?: string;
  finishedAt?: string;
  approval?: { decision: string; by?: string; at: string };
}

/** One device in a fleet rollout, compact (the whole story is in its deviceRollout workflow). */
export interface FleetDeviceRow {
  deviceId: string;
  wave: string;
  outcome: DeviceRolloutOutcome | 'pending' | 'not-reached' | 'awaiting-catch-up';
  failedStep?: DeviceRolloutStep;
  /** "<type>: <message>", cut to 300 characters. */
  error?: string;
  servedSha256Prefix?: string | null;
  figures?: DeviceFigures;
  /** The restore this device got (its own undo after a failure, or the rollout's revert). */
  restore?: { outcome: RestoreBackupResult['outcome']; restoredSha256: string | null };
  /** When a device that was offline answered again (catch-up). */
  cameBackAt?: string;
  /** The halt's / rejection's / cancellation's revert of this device. */
  revert?: DeviceRolloutOutcome;
  /**
   * Distinct versions in the device's backups/ after its swap, newest first: carried from the
   * wave to the parent for the device owner's record, then dropped from the report's row.
   */
  backupsOnDevice?: string[];
}

/** Shrinks a device result to its row (wave results and the parent's report stay small at 2,000 devices). */
export function deviceRow(r: DeviceRolloutResult): FleetDeviceRow {
  return {
    deviceId: r.deviceId,
    wave: r.wave,
    outcome: r.outcome,
    ...(r.failedStep ? { failedStep: r.failedStep } : {}),
    ...(r.error ? { error: `${r.error.type}: ${r.error.message}`.slice(0, 300) } : {}),
    ...(r.servedSha256Prefix !== undefined ? { servedSha256Prefix: r.servedSha256Prefix } : {}),
    ...(r.figures ? { figures: r.figures } : {}),
    ...(r.restore ? { restore: { outcome: r.restore.outcome, restoredSha256: r.restore.restoredSha256 } } : {}),
    ...(r.cameBackAt ? { cameBackAt: r.cameBackAt } : {}),
    ...(r.backupsOnDevice ? { backupsOnDevice: r.backupsOnDevice } : {}),
  };
}

/** One pause of a rollout: who paused it and why, and who resumed it when. */
export interface PauseRecord {
  by: string;
  at: string;
  reason?: string;
  resumedBy?: string;
  resumedAt?: string;
}

export interface RolloutReport {
  plan: {
    canary: string[];
    waves: PlannedWave[];
    maxParallel: number;
    soakMs: number;
    halt: HaltCriteria;
    onHalt: OnHalt;
    approval: ApprovalPoint | 'none';
    offline: OfflinePolicy;
  };
  waves: WaveReport[];
  tally: HaltTally;
  halted?: HaltVerdict;
  canaryComparison?: CanaryComparison;
  /** Catch-up: devices waited for, until when. */
  catchUp?: { until: string; devices: string[] };
  /** Pauses (`edgeship pause` / `resume`), oldest first; the last has no resumedAt while paused. */
  pauses?: PauseRecord[];
  /** One row per device (compact: the full story is in the device's child workflow). */
  devices: FleetDeviceRow[];
  /**
   * Rows of devices that simply validated, left out of a big fleet's report (the memo above 200
   * devices, the result and status query above 1,000); each device's own deviceRollout workflow has them.
   */
  omittedDeviceRows?: number;
}
