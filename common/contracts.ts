// The contracts between the workflow and the activities: inputs and results of every stage.
// Types only (plus a few constants), so workflow code can import this file. Large data never
// travels here: artifacts are referenced by path and sha256.
import type { GatesAt } from './gates';

export const COMPILE_TARGETS = ['cpu-fp32', 'cpu-int8', 'hailo8', 'hailo8l'] as const;
export type CompileTarget = (typeof COMPILE_TARGETS)[number];

export const MODEL_INPUT = { name: 'imu_window', shape: [1, 100, 9] } as const;
export const MODEL_OUTPUT = { name: 'latent_embeddings', shape: [1, 64] } as const;

/** A file in the GPU server's artifact store (or on a device), identified by its content. */
export interface ArtifactRef {
  path: string;
  sha256: string;
  sizeBytes: number;
}

export interface Normalization {
  mean: number[]; // 9 values, sensor units
  std: number[]; // 9 values, all > 0
}

/** A probe window (raw sensor values, [100][9]) and the GPU-side reference embedding ([64]). */
export interface ProbeReference {
  name: string; // zeros | stationary | walking | running | random | ...
  window: number[][];
  reference: number[];
}

/**
 * The metadata that travels with every model file as `<model file>.meta.json` (on the GPU store
 * and on the device, next to `releases/<sha256>.<ext>`). The edge runtime reads normalization
 * from it; validateDeployment reads the probes from it.
 */
export interface ModelMetadata {
  schema: 'edgeship.model/1';
  modelName: string;
  format: 'onnx' | 'hef';
  target: CompileTarget;
  sha256: string; // of the model file this metadata describes
  sizeBytes: number;
  input: { name: string; shape: number[] };
  output: { name: string; shape: number[] };
  normalization: Normalization;
  opset?: number;
  conv2d?: boolean;
  sourceCheckpointSha256?: string;
  exportedFromOnnxSha256?: string; // for compiled artifacts: the FP32 ONNX they came from
  versions: Record<string, string>;
  probes: ProbeReference[];
  /** cpu-int8 only: how it was quantized and on which CPU its INT8-vs-FP32 figure was measured. */
  quantization?: QuantizationFigures;
  /**
   * Compiled artifacts: fixed raw windows with the FP32 ONNX's outputs on them. The device runs
   * them on its own runtime and CPU (validateDeployment), so the quantized model's agreement is
   * measured again where it serves.
   */
  binding?: BindingSet;
}

export interface BindingSet {
  source: 'fp32-onnx';
  fp32Sha256: string;
  seed: number;
  windows: number[][][]; // [N][100][9] raw sensor values, N ≥ 64
  reference: number[][]; // [N][64]
}

/** onnxruntime QDQ formats, named activations+weights: S8S8 = QInt8 activations, QInt8 weights. */
export const QUANT_FORMATS = ['S8S8', 'U8S8', 'U8U8'] as const;
export type QuantFormat = (typeof QUANT_FORMATS)[number];
export const CALIBRATION_METHODS = ['MinMax', 'Entropy', 'Percentile'] as const;
export type CalibrationMethod = (typeof CALIBRATION_METHODS)[number];

export interface QuantizationOptions {
  format?: QuantFormat; // default S8S8 (U8S8 saturates on x86-64 without VNNI)
  calibrationMethod?: CalibrationMethod; // default MinMax
  reduceRange?: boolean; // 7-bit weights; default false
  /** Mixed precision: at most this many sensitive nodes kept in FP32 to hold the gate (default 4, 0 = never). */
  maxExcludedNodes?: number;
}

/** The CPU a figure was measured on: /proc/cpuinfo flags and CPUID (they differ under qemu-user). */
export interface CpuFeatures {
  model: string;
  machine: string;
  procFlags: string[]; // of: sse4_1 avx avx2 fma avx512f avx512bw avx512vl avx512_vnni avx_vnni amx_int8 asimd asimddp i8mm
  cpuidFeatures: string[];
  vnni: boolean;
  emulated: string | null; // e.g. "qemu-x86_64 -cpu Haswell" when the figure was measured under emulation
}

export interface QuantizationFigures {
  settings: { format: QuantFormat; quantFormat: 'QDQ'; activations: string; weights: string; perChannel: boolean; reduceRange: boolean; calibrationMethod: CalibrationMethod; calibrationWindows: number };
  cpu: CpuFeatures;
  /** Nodes kept in FP32 (mixed precision); empty when the fully quantized model held the gate. */
  excludedNodes: string[];
  /** Every quantization tried, in order: the full one, then with 1, 2, … sensitive nodes excluded. */
  attempts: Array<{ excludedNodes: string[]; minCosine: number; meanCosine: number }>;
  /** FP32 / INT8 median single-window latency on `cpu`; ≤ 1 means INT8 buys no speed there. */
  speedup: number;
}

export type ModelSource =
  | { kind: 'checkpoint'; checkpointPath: string }
  /**
   * A user's own export command (argv, no shell). It must write `<outDir>/model.onnx` and
   * `<outDir>/reference.json` ({normalization, probes:[{name, window, reference}]}); edgeship
   * passes outDir as the env var EDGESHIP_EXPORT_DIR.
   */
  | { kind: 'command'; argv: string[]; cwd?: string };

export interface ParityFigures {
  minCosine: number;
  maxAbsDiff: number;
  /** Scale as well as direction: max over probes of |output − reference| / |reference|. */
  maxRelativeError: number;
  probes: Array<{ name: string; cosine: number; maxAbsDiff: number; relativeError: number; normRatio: number }>;
  gate: number;
  /** The scale gates applied (absent on records made before they existed). */
  maxRelativeErrorGate?: number;
}

export interface ExportModelInput {
  modelName: string;
  source: ModelSource;
  conv2d?: boolean;
  opset?: number;
  parityMinCosine?: number; // default 0.9999
  parityMaxRelativeError?: number; // default 1e-3: a model whose references are 2x its outputs fails
}

export interface ExportModelResult {
  onnx: ArtifactRef;
  metadataPath: string; // ModelMetadata JSON next to the ONNX in the store
  parity: ParityFigures;
  sourceSha256: string;
  durationMs: number;
  reused: boolean;
}

export interface CalibrationInput {
  modelName: string;
  metadataPath: string; // normalization comes from the exported model's metadata
  samples?: number; // default 2000, 16..100000
  dataDir?: string; // recorded windows; synthetic activity patterns when absent
  seed?: number;
}

export interface CalibrationResult {
  calibrationSet: ArtifactRef; // float32 [N,100,9] .npy, z-scored
  samples: number;
  source: 'synthetic' | 'recorded';
  classMix: Record<string, number>;
  channelMean: number[];
  channelStd: number[];
  durationMs: number;
  reused: boolean;
}

export interface CompileInput {
  modelName: string;
  target: CompileTarget;
  onnx: ArtifactRef;
  metadataPath: string;
  calibrationSet: ArtifactRef;
  int8MinCosine?: number; // default 0.99
  /** cpu-fp32: the store copy is re-proven against the references with this gate (default 0.9999). */
  parityMinCosine?: number;
  /** cpu-int8: format, calibration method and mixed-precision budget (defaults in QuantizationOptions). */
  quantization?: QuantizationOptions;
}

export interface CompileResult {
  target: CompileTarget;
  artifact: ArtifactRef; // what gets deployed (.onnx for cpu-*, .hef for hailo*)
  metadataPath: string; // ModelMetadata of the artifact
  format: 'onnx' | 'hef';
  /** cpu-int8 only: INT8 vs FP32 cosine on held-out windows. */
  similarity?: { minCosine: number; meanCosine: number; windows: number; gate: number };
  sizes: { fp32Bytes: number; artifactBytes: number };
  /** Per-inference latency on the GPU server's CPU (ms, median), where measured. */
  latencyMs?: { fp32: number; artifact: number };
  preflight?: { ops: Record<string, number>; warnings: string[] };
  /** cpu-int8: settings, the CPU the figures were measured on, nodes kept in FP32, speed-up. */
  quantization?: QuantizationFigures;
  /** Things a person deciding on the deployment should see (e.g. INT8 not faster than FP32). */
  warnings?: string[];
  /** The signed release manifest beside the artifact, or why there is none (no release key on the GPU worker). */
  release?: ReleaseSigning;
  durationMs: number;
  reused: boolean;
}

/**
 * What compileModel did about signing. signed: a manifest signed with the GPU worker's release
 * key sits at manifestPath (`<artifact>.manifest.json`); a re-run of the same compile reuses it
 * and its sequence. unsigned: no release key is configured; the artifact ships as before.
 */
export type ReleaseSigning =
  | { signed: true; keyId: string; sequence: number; manifestPath: string; manifestSha256: string; reused: boolean }
  | { signed: false; reason: string };

/**
 * Gates of preflightModel, run on the GPU server before anything is staged. Every figure is
 * reported whether it passed or not.
 */
export type PreflightGates = GatesAt<'preflight'>; // names, defaults and directions: common/gates.ts

export interface PreflightInput {
  modelName: string;
  /** The artifact that will be deployed (FP32 or INT8 ONNX, or a HEF). */
  artifact: ArtifactRef;
  metadataPath: string; // ModelMetadata of the artifact
  /** For a HEF: the FP32 ONNX it was compiled from (its sha256 must be the metadata's exportedFromOnnxSha256). */
  sourceOnnx?: ArtifactRef;
  gates?: Partial<PreflightGates>;
  sweepWindows?: number; // default 1200 (≥ 1000)
}

export interface PreflightFigures {
  windows: number;
  categories: Record<string, number>; // sweep windows per category
  allFinite: boolean;
  nonFinite: Array<{ category: string; windows: number }>;
  maxAbsValue: number; // in-range windows
  maxAbsCategory: string;
  maxAbsValueFullScale: number; // windows beyond ±12 σ
  fullScaleCategory: string;
  inRangeWindows: number;
  perCategoryMaxAbs: Record<string, number>;
  activityWindows: number;
  minOutputVariance: number;
  meanOutputVariance: number;
  minPairwiseDistance: number;
  identicalPairs: number;
  probes: Array<{ name: string; cosine: number; relativeError: number; normRatio: number; maxAbsDiff: number }>;
  minReferenceCosine: number;
  maxRelativeError: number;
  normRatio: { min: number; max: number };
  maxAbsDiff: number;
}

export interface PreflightCheck {
  name: keyof PreflightGates | 'allFinite';
  value: number | boolean;
  gate: number | boolean;
  passed: boolean;
}

export interface PreflightResult {
  /** What was run: the artifact itself, or for a HEF the FP32 ONNX it came from. */
  checked: { path: string; sha256: string; role: 'artifact' | 'source-onnx' };
  figures: PreflightFigures;
  gates: PreflightGates;
  checks: PreflightCheck[];
  passed: boolean; // always true in a result: a failed gate throws PreflightGateFailed carrying these figures
  durationMs: number;
  reused: boolean;
}

/**
 * Champion vs challenger: the candidate against each model the target devices serve now, on the
 * same held-out windows (ml/compare_served.py). The served artifact is looked up by its sha256 in
 * the GPU server's artifact store; one that is not there (or cannot run here: a HEF) is reported
 * `missing` with the reason, never with made-up figures.
 */
export interface CompareWithServedInput {
  modelName: string;
  /** The ONNX that will be deployed (for a HEF target, the FP32 ONNX it was compiled from). */
  candidate: ArtifactRef;
  candidateMetadataPath: string; // ModelMetadata of the candidate (its normalization)
  /** What the devices serve now, grouped by sha256 (from each device's owner record). */
  served: Array<{ sha256: string; deviceIds: string[] }>;
  windows?: number; // held-out synthetic activity windows, default 512 (16..20000)
  seed?: number; // default 80021: not the calibration, training or quantizer windows
  /** Recorded windows, one folder per class (the format buildCalibrationSet reads): adds the task figure. */
  dataDir?: string;
  /** 1 − min cosine allowed against any served model found; absent = report only. */
  maxDriftFromServed?: number;
}

export interface ServedComparison {
  servedSha256: string;
  deviceIds: string[];
  found: 'store' | 'missing';
  reason?: string; // why it is missing
  windows?: number;
  /** cos(candidate, served) per window. */
  cosine?: { min: number; p05: number; mean: number };
  /** |candidate| / |served| per window. */
  normRatio?: { min: number; median: number; max: number };
  /** With a labelled dataDir: nearest-class-centroid activity accuracy (centroids from half the windows, scored on the other half). */
  task?: { labelledWindows: number; candidateAccuracy: number; servedAccuracy: number; agreement: number };
  drift?: number; // 1 − min cosine
  /** Measured and within the gate (or no gate). A missing comparison has no figures: false, and it never fails the gate. */
  passed: boolean;
}

export interface CompareWithServedResult {
  comparisons: ServedComparison[];
  gate?: number; // maxDriftFromServed, when given
  /** A dataDir was given but yields no task figure (e.g. no class folders): why. */
  taskSkipped?: string;
  durationMs: number;
  reused: boolean; // every comparison made came from a finished job record
}

/** Public facts about a device from the inventory (no private key material). */
export interface DeviceInfo {
  id: string;
  target: CompileTarget;
  host: string;
  port: number;
  modelDir: string;
  healthUrl: string;
  inferenceUrl: string;
}

export interface ResolveDevicesInput {
  deviceIds: string[];
}

/**
 * A deployment run: the workflow id plus its run id. Everything a deployment leaves on a device
 * (swap journal, staging claim) is keyed by both, so a re-run of the same workflow id never
 * mistakes an earlier run's journal for its own.
 */
export interface DeploymentRun {
  deploymentId: string; // the workflow id
  runId: string; // the workflow run id
}

export interface PushArtifactInput extends DeploymentRun {
  deviceId: string;
  artifact: ArtifactRef;
  metadataPath: string;
  /** The signed release manifest (CompileResult.release.manifestPath), staged beside the model. */
  manifestPath?: string;
}

export interface PushArtifactResult {
  deviceId: string;
  stagedPath: string; // on the device: <modelDir>/staging/<sha256>.<ext>
  stagedMetadataPath: string; // <modelDir>/staging/<sha256>.<ext>.meta.json
  /** <modelDir>/staging/<sha256>.<ext>.manifest.json (or the release's), when a manifest was pushed. */
  stagedManifestPath?: string;
  /**
   * The release `current` names on the device, read while this run holds the device's lease:
   * what the candidate replaces (the champion). null: serves nothing; absent: not a release name.
   */
  servedSha256?: string | null;
  sha256: string;
  bytesSent: number;
  reused: boolean;
  durationMs: number;
}

/** The run's swap journal keys the swap, so a retry of the same run reuses it. */
export interface SwapModelInput extends DeploymentRun {
  sha256: string;
  ext: 'onnx' | 'hef';
  healthTimeoutMs?: number; // default 60000
  /** The request's allowDowngrade: install a signed release older than the one served. */
  allowDowngrade?: boolean;
}

/**
 * What the device checked before the swap. signed: the manifest verified under a trusted key;
 * downgradeFrom: the sequence served before, when this release is older (allowDowngrade).
 * unsigned: the device requires no signatures and the artifact had no manifest. unchecked: the
 * device trusts no key (signatures are off on it).
 */
export type ReleaseCheck =
  | { signed: true; keyId: string; modelName: string; sequence: number; downgradeFrom?: number }
  | { signed: false; reason: 'unsigned' | 'unchecked' };

export interface BackupRecord {
  sha256: string;
  backupPath: string; // a real copy under <modelDir>/backups/
  releasePath: string; // where `current` pointed before the swap
}

export interface SwapModelResult {
  deviceId: string;
  /** null when the device served nothing before (first install). */
  backup: BackupRecord | null;
  servedSha256Prefix: string; // hef_sha256 reported by /healthz after the swap (16 hex)
  restartMs: number;
  healthyAfterMs: number;
  reused: boolean;
  /** Distinct model versions (sha256) held in backups/ after the swap, newest first. */
  backupsOnDevice: string[];
  /** The device's signature and downgrade check (absent from edge workers before signing). */
  release?: ReleaseCheck;
}

/**
 * Details of every ApplicationFailure swapModel throws: whether `current` had been switched to
 * the new release when it failed. `switched: false` means the device is exactly as before, so
 * the workflow registers no restore for it.
 */
export interface SwapFailureDetails {
  switched: boolean;
  [key: string]: unknown;
}

/** The gates validateDeployment checks on the device (common/gates.ts, place 'device'). */
export type ValidationGates = GatesAt<'device'>;

export interface ValidateDeploymentInput {
  sha256: string;
  ext: 'onnx' | 'hef';
  gates?: Partial<ValidationGates>;
  latencyRequests?: number; // default 200, min 100
  warmupRequests?: number; // default 20
  concurrency?: number; // default 8
  throughputDurationMs?: number; // default 3000
}

export interface LatencyFigures {
  count: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  mean: number;
  max: number;
}

export interface ValidationReport {
  deviceId: string;
  sha256: string;
  servedSha256Prefix: string;
  latencyMs: LatencyFigures;
  throughput: { concurrency: number; durationMs: number; completed: number; errors: number; rps: number };
  outputs: {
    allFinite: boolean;
    maxAbs: number;
    minVariance: number;
    distinctInputsDistinctOutputs: boolean;
    minPairwiseDistance: number;
    referenceCosine: Array<{ probe: string; cosine: number }>;
    minReferenceCosine: number;
    /** The artifact's binding windows run on the device against their FP32 outputs (absent: none shipped). */
    binding?: { windows: number; answered: number; minCosine: number; meanCosine: number; maxRelativeError: number };
  };
  gates: ValidationGates;
  failures: string[]; // empty when every gate passed
  passed: boolean;
  durationMs: number;
}

export interface RestoreBackupInput extends DeploymentRun {
  /** From the swap's result; null when the workflow never got it (the run's journal decides). */
  backup: BackupRecord | null;
  healthTimeoutMs?: number;
}

/**
 * What a restore did. Only a run whose own journal says it switched `current`, while `current`
 * still points at that run's release, changes the device:
 * - restored: the backup is current again and /healthz names it;
 * - first-install-removed: the run's swap was a first install; `current` removed, serves none;
 * - already-restored: an earlier attempt finished the restore (nothing done again);
 * - nothing-switched: no journal of this run, or it never got past `prepared`: device untouched;
 * - superseded: `current` points at another release than this run's (someone swapped since):
 *   device untouched, so a rollback never undoes another deployment's work.
 */
export type RestoreOutcome = 'restored' | 'first-install-removed' | 'already-restored' | 'nothing-switched' | 'superseded';

export interface RestoreBackupResult {
  deviceId: string;
  outcome: RestoreOutcome;
  /** Why the device was left alone (nothing-switched, superseded); absent otherwise. */
  reason?: string;
  restoredSha256: string | null; // the sha `current` names after the restore (null: none)
  servedSha256Prefix: string | null;
  durationMs: number;
}

/** Drops this run's claim on a staged artifact; the file goes only when no run claims it. */
export interface DiscardStagedInput extends DeploymentRun {
  sha256: string;
  ext: 'onnx' | 'hef';
}

export interface DiscardStagedResult {
  deviceId: string;
  removed: string[];
  /** Other runs that still claim the staged artifact (it was kept for them). */
  otherClaims: number;
}

/** Activities registered on the `gpu` task queue. */
export interface GpuActivities {
  exportModel(input: ExportModelInput): Promise<ExportModelResult>;
  buildCalibrationSet(input: CalibrationInput): Promise<CalibrationResult>;
  compileModel(input: CompileInput): Promise<CompileResult>;
  preflightModel(input: PreflightInput): Promise<PreflightResult>;
  compareWithServed(input: CompareWithServedInput): Promise<CompareWithServedResult>;
  resolveDevices(input: ResolveDevicesInput): Promise<DeviceInfo[]>;
  pushArtifact(input: PushArtifactInput): Promise<PushArtifactResult>;
}

/**
 * What the device's runtime says right now (/healthz), read by its edge worker. A rollout's first
 * call to a device: that the worker picks it up at all is what "online" means.
 */
export interface ProbeServingResult {
  deviceId: string;
  /** false: the runtime did not answer /healthz (the worker is up, the runtime is not). */
  runtimeUp: boolean;
  ready: boolean;
  /** The sha prefix /healthz names; null: no model loaded or no answer. */
  servedSha256Prefix: string | null;
  /** Full sha of the release `current` names on disk (null: no current). */
  currentSha256: string | null;
}

/**
 * The same measurements as validateDeployment, of whatever the device serves now, with no gates:
 * the "old model" side of a canary comparison. Output agreement uses the served release's own
 * metadata (its reference probes and binding windows) when the release directory has it.
 */
export interface MeasureServingInput {
  latencyRequests?: number; // default 200, min 100
  warmupRequests?: number; // default 20
  concurrency?: number; // default 8
  throughputDurationMs?: number; // default 3000
}

export interface ServingFigures {
  deviceId: string;
  servedSha256Prefix: string | null;
  /** Full sha of the release `current` names (null: none). */
  currentSha256: string | null;
  latencyMs: LatencyFigures;
  throughput: { concurrency: number; durationMs: number; completed: number; errors: number; rps: number };
  /** Agreement of the served model with its own FP32 references; absent when its metadata is not on the device. */
  agreement?: { minReferenceCosine?: number; bindingMinCosine?: number; bindingMaxRelativeError?: number; note?: string };
  durationMs: number;
}

/**
 * Soak: watch a swapped device for durationMs. Polls /healthz (must stay ready and name sha256)
 * and reads the runtime's /metrics counters at the start and the end of each poll interval.
 */
export interface WatchServingInput {
  sha256: string;
  durationMs: number;
  /** Default 1000. */
  pollMs?: number;
  /** Degraded when the runtime's error responses (5xx) grow by more than this over the soak. Default 0. */
  maxNewErrors?: number;
  /** Degraded when the inference p95 over the soak (from the /metrics histogram deltas) exceeds this. */
  p95LatencyMs?: number;
  /** Inference requests the watcher itself sends per poll so there is traffic to judge (default 5; 0 = watch only). */
  probeRequestsPerPoll?: number;
}

export interface SoakReport {
  deviceId: string;
  sha256: string;
  healthy: boolean;
  /** Why it counts as degraded (empty when healthy). */
  degraded: string[];
  polls: number;
  notReadyPolls: number;
  wrongShaPolls: number;
  unreachablePolls: number;
  /** Deltas of the runtime's counters over the soak. */
  requests: number;
  errors: number;
  /** Inference latency over the soak from the runtime's histogram (bucket upper bound), null without requests. */
  p95LatencyMs: number | null;
  durationMs: number;
}

/** Activities registered on `edge.<deviceId>`, bound to that device by its worker. */
export interface EdgeActivities {
  swapModel(input: SwapModelInput): Promise<SwapModelResult>;
  validateDeployment(input: ValidateDeploymentInput): Promise<ValidationReport>;
  restoreBackup(input: RestoreBackupInput): Promise<RestoreBackupResult>;
  discardStaged(input: DiscardStagedInput): Promise<DiscardStagedResult>;
  probeServing(input: Record<string, never>): Promise<ProbeServingResult>;
  measureServing(input: MeasureServingInput): Promise<ServingFigures>;
  watchServing(input: WatchServingInput): Promise<SoakReport>;
}

/**
 * Whether an artifact compiled for `artifactTarget` runs on a device that declares
 * `deviceTarget`. CPU devices run ONNX on onnxruntime, FP32 and INT8 alike; a HEF runs only on
 * the exact Hailo architecture it was compiled for (a hailo8 HEF fails on a hailo8l with
 * HAILO_INVALID_HEF, and the other way round).
 */
export function deviceAcceptsTarget(deviceTarget: CompileTarget, artifactTarget: CompileTarget): boolean {
  if (deviceTarget === artifactTarget) return true;
  return deviceTarget.startsWith('cpu-') && artifactTarget.startsWith('cpu-');
}
