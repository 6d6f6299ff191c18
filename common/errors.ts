// ApplicationFailure types used across edgeship. Workflow code matches on these strings, so
// they are the contract between activities, workflow and clients. Pure: imported by workflows.

export const ErrorType = {
  /** Request or file fails its schema: fix the input, retrying cannot help. */
  InvalidRequest: 'InvalidRequest',
  InvalidInventory: 'InvalidInventory',
  DeviceNotFound: 'DeviceNotFound',
  InvalidIdentifier: 'InvalidIdentifier',
  CheckpointNotFound: 'CheckpointNotFound',
  CheckpointCorrupt: 'CheckpointCorrupt',
  CheckpointArchitectureMismatch: 'CheckpointArchitectureMismatch',
  ExportCommandFailed: 'ExportCommandFailed',
  OnnxShapeMismatch: 'OnnxShapeMismatch',
  ModelOutputNotFinite: 'ModelOutputNotFinite',
  ParityGateFailed: 'ParityGateFailed',
  CalibrationDataInvalid: 'CalibrationDataInvalid',
  CalibrationSizeOutOfRange: 'CalibrationSizeOutOfRange',
  UnknownTarget: 'UnknownTarget',
  TargetMismatch: 'TargetMismatch',
  QuantizationGateFailed: 'QuantizationGateFailed',
  /** The artifact failed a pre-flight gate on the GPU server (non-finite, unbounded, degenerate, wrong scale): nothing was staged. */
  PreflightGateFailed: 'PreflightGateFailed',
  /** The candidate drifts from a model a device serves now by more than gates.maxDriftFromServed (1 − min cosine). */
  DriftGateFailed: 'DriftGateFailed',
  HailoCompilerUnavailable: 'HailoCompilerUnavailable',
  HailoCompileFailed: 'HailoCompileFailed',
  PythonEnvironmentMissing: 'PythonEnvironmentMissing',
  /** Python tool crashed for a reason that may pass (e.g. killed): retryable. */
  PythonToolFailed: 'PythonToolFailed',
  HostKeyMismatch: 'HostKeyMismatch',
  SshAuthFailed: 'SshAuthFailed',
  /** Network trouble reaching a device: retryable. */
  DeviceUnreachable: 'DeviceUnreachable',
  ArtifactShaMismatch: 'ArtifactShaMismatch',
  ArtifactNotStaged: 'ArtifactNotStaged',
  RestartCommandFailed: 'RestartCommandFailed',
  HealthCheckFailed: 'HealthCheckFailed',
  HealthCheckTimeout: 'HealthCheckTimeout',
  /** The device's runtime answers but serves no model (none installed, or it failed to load): nothing to measure. */
  NothingServed: 'NothingServed',
  BackupMissing: 'BackupMissing',
  /** The device's model directory is in a state edgeship did not make (edited journal, `current` not a link): a person must look. */
  DeviceStateCorrupt: 'DeviceStateCorrupt',
  ValidationGateFailed: 'ValidationGateFailed',
  ApprovalRejected: 'ApprovalRejected',
  /** Another deployment holds the device and the request said onBusy: "fail" (or the queue wait ran out). */
  DeviceBusy: 'DeviceBusy',
  /** The device's edge worker implements an edge API older than this GPU side drives (common/edgeVersion.ts): upgrade the device package. */
  DeviceVersionUnsupported: 'DeviceVersionUnsupported',
  // How a deployment that did not deploy closes in Temporal (the report is in the details).
  DeploymentRejected: 'DeploymentRejected',
  DeploymentFailed: 'DeploymentFailed',
  DeploymentRolledBack: 'DeploymentRolledBack',
  RollbackFailed: 'RollbackFailed',
  /** A fleet rollout halted on its criteria with onHalt "keep-validated": validated devices keep the new model. */
  DeploymentHalted: 'DeploymentHalted',
  /** A soak watch saw a swapped device degrade (not ready, wrong sha, errors, latency). */
  SoakDegraded: 'SoakDegraded',
  /**
   * The device refused a release: its manifest is missing (signatures required), names an
   * unknown key, fails its signature, or names other bytes or another target than the staged
   * files. Details: {check, keyId?}. Nothing live was touched; the staged copy is discarded.
   */
  SignatureInvalid: 'SignatureInvalid',
  /** A signed release older (lower sequence) than what the device serves, without allowDowngrade. */
  DowngradeRefused: 'DowngradeRefused',
} as const;

export type ErrorTypeName = (typeof ErrorType)[keyof typeof ErrorType];

/** Error types for which a retry can never succeed; retry policies list them as non-retryable. */
export const NON_RETRYABLE_ERROR_TYPES: readonly ErrorTypeName[] = [
  ErrorType.InvalidRequest,
  ErrorType.InvalidInventory,
  ErrorType.DeviceNotFound,
  ErrorType.InvalidIdentifier,
  ErrorType.CheckpointNotFound,
  ErrorType.CheckpointCorrupt,
  ErrorType.CheckpointArchitectureMismatch,
  ErrorType.ExportCommandFailed,
  ErrorType.OnnxShapeMismatch,
  ErrorType.ModelOutputNotFinite,
  ErrorType.ParityGateFailed,
  ErrorType.CalibrationDataInvalid,
  ErrorType.CalibrationSizeOutOfRange,
  ErrorType.UnknownTarget,
  ErrorType.TargetMismatch,
  ErrorType.QuantizationGateFailed,
  ErrorType.PreflightGateFailed,
  ErrorType.DriftGateFailed,
  ErrorType.HailoCompilerUnavailable,
  ErrorType.HailoCompileFailed,
  ErrorType.PythonEnvironmentMissing,
  ErrorType.HostKeyMismatch,
  ErrorType.SshAuthFailed,
  ErrorType.ValidationGateFailed,
  ErrorType.BackupMissing,
  ErrorType.DeviceStateCorrupt,
  ErrorType.DeviceBusy,
  ErrorType.NothingServed,
  ErrorType.DeviceVersionUnsupported,
  ErrorType.SignatureInvalid,
  ErrorType.DowngradeRefused,
];

/**
 * The non-retryable types a call to a device can raise: the edge activities (swap, validate,
 * restore, probe, measure, watch, discard) and the push over SSH. Their retry policies name this
 * list rather than every type above. A fleet schedules four of these calls per device, and each
 * carries its list in the activity's history event and in the server's record of the pending
 * activity: every type at every call was ~0.5 KiB per call (docs/fleet-scale.md). The activities
 * mark these failures non-retryable themselves (`edgeFailure` in activities/edge/failures.ts,
 * `failure` in activities/gpu/failures.ts); the list is the engine's second check.
 * test/unit/error-types.test.ts checks that every non-retryable type those modules name is here.
 */
export const DEVICE_CALL_NON_RETRYABLE_ERROR_TYPES: readonly ErrorTypeName[] = [
  ErrorType.InvalidRequest,
  ErrorType.InvalidInventory,
  ErrorType.DeviceNotFound,
  ErrorType.InvalidIdentifier,
  ErrorType.HostKeyMismatch,
  ErrorType.SshAuthFailed,
  ErrorType.ValidationGateFailed,
  ErrorType.BackupMissing,
  ErrorType.DeviceStateCorrupt,
  ErrorType.NothingServed,
  ErrorType.DeviceVersionUnsupported,
  ErrorType.SignatureInvalid,
  ErrorType.DowngradeRefused,
];
