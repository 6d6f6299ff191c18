// The shape of what a deployment reports: the live status (query `status`) and the final report
// (the workflow result). Types only, shared with clients and tests via `import type`.
import type {
  BackupRecord,
  CompileResult,
  CompileTarget,
  ParityFigures,
  PreflightCheck,
  ReleaseCheck,
  ServedComparison,
  RestoreBackupResult,
  ValidationReport,
  ValidationGates,
} from '../common/contracts';
import type { CanaryComparison, RolloutReport } from '../common/rollout';

/**
 * Final statuses: completed · rolled-back (every touched device restored) · rollback-failed (a
 * restore failed: some device may still serve the new model — needs a person) · rejected (by a
 * person or the approval timeout; nothing live changed) · failed (before anything live) ·
 * cancelled (cancelled before anything live; a cancellation after a swap ends rolled-back) ·
 * halted (fleet rollout: the halt criteria were crossed and onHalt "keep-validated" left the
 * validated devices on the new model).
 */
export type DeploymentStatusName =
  | 'running'
  | 'queued'
  | 'awaiting-approval'
  | 'completed'
  | 'rolled-back'
  | 'rollback-failed'
  | 'halted'
  | 'rejected'
  | 'failed'
  | 'cancelled';

export const FINAL_STATUSES: readonly DeploymentStatusName[] = ['completed', 'rolled-back', 'rollback-failed', 'halted', 'rejected', 'failed', 'cancelled'];

export type StageName =
  | 'queued'
  | 'resolve-devices'
  | 'export'
  | 'calibrate'
  | 'compile'
  | 'preflight'
  | 'lease'
  | 'stage'
  | 'compare'
  | 'approval'
  | 'rollout'
  | 'catch-up'
  | 'swap'
  | 'validate'
  | 'compensate'
  | 'done';

export interface FailureSummary {
  stage: StageName;
  deviceId?: string;
  /** ApplicationFailure type (common/errors.ts), or Cancelled / ActivityTimeout:<kind>. */
  type: string;
  message: string;
  details?: unknown;
}

export interface StageRecord {
  stage: StageName;
  deviceId?: string;
  outcome: 'running' | 'ok' | 'failed';
  startedAt: string;
  /** Workflow time from scheduling to result, including retries and queueing. */
  durationMs?: number;
  /** Run time the activity measured itself (for parallel pushes: the longest). */
  activityMs?: number;
  reused?: boolean;
  figures?: Record<string, unknown>;
}

export type DevicePhase =
  | 'resolved'
  | 'queued'
  | 'leased'
  | 'staging'
  | 'staged'
  | 'push-failed'
  | 'swapping'
  | 'swapped'
  | 'swap-failed'
  | 'validating'
  | 'validated'
  | 'validation-failed'
  | 'restoring'
  | 'restored'
  | 'restore-failed'
  | 'restore-skipped'
  | 'discarded'
  | 'skipped-offline'
  | 'awaiting-catch-up'
  | 'not-reached';

export interface DeviceState {
  deviceId: string;
  target?: CompileTarget;
  phase: DevicePhase;
  /** servedSha256: the release `current` named when staging (what the candidate replaces). */
  staged?: { path: string; sha256: string; bytesSent: number; reused: boolean; servedSha256?: string | null };
  /** The device lease: waiting at a position behind a holder, or held since grantedAt. */
  lease?: { position: number; holder?: string; requestedAt: string; grantedAt?: string };
  /** What the swap backed up: null for a first install; absent when no swap succeeded. */
  backup?: BackupRecord | null;
  /** Distinct versions in the device's backups/ after the swap, newest first. */
  backupsOnDevice?: string[];
  /** The sha prefix /healthz reported to the last activity of this run that asked. */
  servedSha256Prefix?: string | null;
  validation?: ValidationReport;
  /** What the device checked before its swap: signed by which key, which sequence, a downgrade. */
  release?: ReleaseCheck;
  restore?: RestoreBackupResult;
  discarded?: string[];
  error?: FailureSummary;
}

export interface CompensationRecord {
  action: 'restore' | 'discard';
  deviceId: string;
  /** restore: the backup sha asked for; null = resolve it from the device's swap journal. */
  backupSha256?: string | null;
  ok: boolean;
  durationMs: number;
  result?: RestoreBackupResult | { removed: string[] };
  error?: { type: string; message: string };
}

export interface ApprovalRecord {
  decision: 'approved' | 'rejected' | 'timed-out' | 'not-required';
  by?: string;
  at: string;
  comment?: string;
  reason?: string;
  via?: 'signal' | 'update';
  waitedMs?: number;
}

/** Where a deployment's wall time went (computed by workflows/timing.ts, which says how). */
export interface DeploymentTiming {
  wallMs: number;
  approvalWaitMs: number;
  leaseMs: number;
  inActivitiesMs: number;
  selfMeasuredMs: number;
  overheadMs: number;
}

/** What a person needs to decide, shown by the status query while awaiting approval. */
export interface DecisionFigures {
  artifact: { sha256: string; sizeBytes: number; format: 'onnx' | 'hef'; target: CompileTarget };
  parity?: Pick<ParityFigures, 'minCosine' | 'maxAbsDiff' | 'gate'>;
  int8Similarity?: CompileResult['similarity'];
  sizes?: CompileResult['sizes'];
  gpuLatencyMs?: CompileResult['latencyMs'];
  /** cpu-int8: how it was quantized, on which CPU its figure was measured, and the speed-up there. */
  quantization?: { format: string; excludedNodes: string[]; speedup: number; cpu: string; vnni: boolean };
  /** Things the person deciding should see (e.g. INT8 not faster than FP32 on the GPU server's CPU). */
  warnings?: string[];
  /** Every pre-flight check with its figure and gate. */
  preflight?: PreflightCheck[];
  /** The gates every device's validation will check after the swap (the request's values). */
  deviceGates?: ValidationGates;
  /** Champion vs challenger: the candidate against what the devices serve now. */
  servedComparison?: ServedComparison[];
  stagedDevices: string[];
  /** Fleet rollouts: the canary's measured figures next to devices still on the old model. */
  canaryComparison?: CanaryComparison;
}

export interface AwaitedDecision {
  decision: 'approve or reject';
  since: string;
  deadline: string;
  approvers?: string[];
  /** Fleet rollouts: the wave this decision lets start. */
  gate?: string;
  /** Ways to answer, ready to copy. */
  how: string[];
}

/** A signal that changed nothing (wrong stage, unknown approver, already decided). */
export interface IgnoredMessage {
  name: string;
  by?: string;
  at: string;
  reason: string;
}

export interface DeploymentReport {
  schema: 'edgeship.report/1';
  deploymentId: string;
  runId: string;
  modelName: string;
  target: CompileTarget;
  status: DeploymentStatusName;
  stage: StageName;
  sourceSha256?: string;
  artifact?: { sha256: string; sizeBytes: number; format: 'onnx' | 'hef'; path: string };
  startedAt: string;
  finishedAt?: string;
  stages: StageRecord[];
  devices: DeviceState[];
  approval?: ApprovalRecord;
  compensations: CompensationRecord[];
  failure?: FailureSummary;
  decisionFigures?: DecisionFigures;
  ignoredMessages: IgnoredMessage[];
  /** Where the wall time went (workflows/timing.ts defines each figure). Only when finished. */
  timing?: DeploymentTiming;
  /** Fleet rollouts (request.rollout): the plan, each wave, the halt, the catch-up, a row per device. */
  rollout?: RolloutReport;
  /** The release's signing (from compile) and whether the request allows downgrades. */
  release?: ReleaseSummary;
}

/** Signed (key id, sequence) or unsigned (why), and the request's allowDowngrade. */
export type ReleaseSummary =
  | { signed: true; keyId: string; sequence: number; manifestSha256: string; allowDowngrade: boolean }
  | { signed: false; reason: string; allowDowngrade: boolean };

/** The `status` query: the report so far plus what the workflow is waiting for. */
export interface DeploymentStatus extends DeploymentReport {
  finished: boolean;
  awaiting?: AwaitedDecision;
}
