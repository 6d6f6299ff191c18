// STAND-INS for the GPU and device activities: the one set the workflow tests (test/workflow/,
// test/e2e/fleet-ui.test.ts) and the benchmarks (bench/fleet-scale.ts, bench/ownership.ts)
// register under the real activity names, so that the real workflows run on a real Temporal
// server without a model, a GPU or a device. Nothing here is a real activity: they do no export,
// compile or SSH; they return contract-shaped results, keep a small model of what each device
// serves (so compensations can be checked by their effect, not only by being called), fail where
// a scenario says, and record every call in order (unless told not to, as at scale). The
// ownership activities (device leases on deviceOwner workflows) have no stand-in: callers run the
// real ones.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type {
  BackupRecord,
  CompileTarget,
  EdgeActivities,
  GpuActivities,
  ValidationGates,
  ValidationReport,
} from '../common/contracts';
import { ErrorType } from '../common/errors';
import { defaultGatesAt, passesGate } from '../common/gates';
import { resolveGates } from '../activities/edge/validationGates';
import { canonicalJson } from '../common/request';
import { parseDeviceRolloutWorkflowId } from '../common/workflowNames';

/** How the stand-ins behave for one workflow id. */
export interface Scenario {
  /** Targets resolveDevices reports (default: every device is cpu-int8). */
  deviceTargets?: Record<string, CompileTarget>;
  /** compareWithServed measures this drift (1 − min cosine) from every served model. */
  driftFromServed?: number;
  /** compileModel blocks (heartbeating, like a long Hailo compile) until releaseCompiles(). */
  compileBlocks?: boolean;
  /** preflightModel finds embeddings far beyond maxAbsValue. */
  preflightFails?: boolean;
  /** swapModel switches `current` on this device, then fails its health check for good. */
  swapFailsOn?: string;
  /** swapModel on this device fails verifying the staged artifact, before switching anything. */
  swapFailsBeforeSwitchOn?: string;
  /** validateDeployment fails its gates on this device. */
  validationFailsOn?: string;
  /** validateDeployment's probe outputs reach this |value| (default 3.2), checked against the gates the workflow sent. */
  deviceMaxAbs?: number;
  /** validateDeployment on this device runs until the activity is cancelled. */
  validationHangsOn?: string;
  /** validateDeployment on these devices waits until the test settles the promise (heartbeating meanwhile). */
  validationWaitsFor?: Record<string, Promise<void>>;
  /** Fleet rollouts: validateDeployment fails its gates on each of these devices. */
  validationFailsOnDevices?: string[];
  /** Fleet rollouts: the soak watch reports these devices degraded. */
  soakDegradesOn?: string[];
}

export interface RecordedCall {
  workflowId: string;
  activity: string;
  deviceId?: string;
  input: unknown;
}

export const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

/** What a device served before any test touched it. */
export const initialSha = (deviceId: string): string => sha(`initial model of ${deviceId}`);

/**
 * The device a call on a shared edge queue is for: the calling deviceRollout's workflow id is
 * `<deploymentId>.<deviceId>[.catch-up|.revert]` and device ids have no dots.
 */
export function deviceIdOfCall(): string {
  const workflowId = Context.current().info.workflowExecution?.workflowId ?? '';
  return parseDeviceRolloutWorkflowId(workflowId)?.deviceId ?? workflowId;
}

export interface StandInOptions {
  /** Record every call in `calls` (default true; a scale run of thousands of devices turns it off). */
  record?: boolean;
  /** The scenario of every workflow that has none of its own (default: none, every call succeeds). */
  scenario?: Scenario;
  /** The target resolveDevices reports where the scenario names none (default cpu-int8). */
  target?: CompileTarget;
  /** What each device served before the first call (default initialSha). */
  servedBefore?: (deviceId: string) => string;
  /** Added to every device-side call that would take device time (push, swap, validate, restore, measure). */
  deviceMs?: number;
}

const pause = (ms: number): Promise<void> => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());

export class StandInFleet {
  readonly calls: RecordedCall[] = [];
  private readonly scenarios = new Map<string, Scenario>();
  /** deviceId → sha256 of the model it serves (simulated). */
  readonly served = new Map<string, string | null>();
  /**
   * `${deploymentId}/${runId}/${deviceId}` → what the run's swap backed up and switched to,
   * written before the switch, like the device's run-scoped journal.
   */
  private readonly journals = new Map<string, { backup: BackupRecord | null; sha256: string; restored: boolean }>();

  /** Stand-in compiles now holding a `gpu` slot, blocked until releaseCompiles(). */
  blockedCompiles = 0;
  private compilesReleased!: () => void;
  private compileRelease = new Promise<void>((resolve) => (this.compilesReleased = resolve));

  /** Lets every blocked compile (and any later one) finish. */
  releaseCompiles(): void {
    this.compilesReleased();
  }

  constructor(readonly deviceIds: string[], private readonly opts: StandInOptions = {}) {
    for (const id of deviceIds) this.served.set(id, (opts.servedBefore ?? initialSha)(id));
  }

  private deviceTime(): Promise<void> {
    return pause(this.opts.deviceMs ?? 0);
  }

  scenario(workflowId: string, scenario: Scenario): void {
    this.scenarios.set(workflowId, scenario);
  }

  callsOf(workflowId: string): RecordedCall[] {
    return this.calls.filter((c) => c.workflowId === workflowId);
  }

  /** "activity deviceId" strings in call order, e.g. ["swapModel pi-01", "restoreBackup pi-01"]. */
  trace(workflowId: string, activities?: string[]): string[] {
    return this.callsOf(workflowId)
      .filter((c) => !activities || activities.includes(c.activity))
      .map((c) => (c.deviceId ? `${c.activity} ${c.deviceId}` : c.activity));
  }

  private context(activity: string, input: unknown, deviceId?: string): { workflowId: string; scenario: Scenario } {
    const callerId = Context.current().info.workflowExecution?.workflowId ?? '(no workflow)';
    // A fleet rollout's device children (`<deploymentId>.<deviceId>[.<mode>]`) act for their deployment.
    const workflowId = this.scenarios.has(callerId) ? callerId : ([...this.scenarios.keys()].find((id) => callerId.startsWith(`${id}.`)) ?? callerId);
    if (this.opts.record !== false) this.calls.push({ workflowId, activity, ...(deviceId ? { deviceId } : {}), input });
    return { workflowId, scenario: this.scenarios.get(workflowId) ?? this.opts.scenario ?? {} };
  }

  gpuActivities(): GpuActivities {
    return {
      exportModel: async (input) => {
        this.context('exportModel', input);
        const source = input.source.kind === 'checkpoint' ? input.source.checkpointPath : JSON.stringify(input.source.argv);
        const onnxSha = sha(`onnx of ${input.modelName} ${source}`);
        // Like the real export: the checkpoint's bytes (the tests name files that do not exist,
        // so their path stands in), or the canonical JSON of a command.
        const sourceSha256 = input.source.kind === 'command'
          ? sha(canonicalJson({ argv: input.source.argv, cwd: input.source.cwd }))
          : existsSync(input.source.checkpointPath) ? createHash('sha256').update(readFileSync(input.source.checkpointPath)).digest('hex') : sha(source);
        return {
          onnx: { path: `/stand-in-store/${onnxSha}.onnx`, sha256: onnxSha, sizeBytes: 4_400_000 },
          metadataPath: `/stand-in-store/${onnxSha}.onnx.meta.json`,
          parity: { minCosine: 0.99999, maxAbsDiff: 2e-6, maxRelativeError: 1e-6, probes: [], gate: input.parityMinCosine ?? 0.9999 },
          sourceSha256,
          durationMs: 12,
          reused: false,
        };
      },
      buildCalibrationSet: async (input) => {
        this.context('buildCalibrationSet', input);
        const setSha = sha(`calibration ${input.metadataPath} ${input.samples}`);
        return {
          calibrationSet: { path: `/stand-in-store/${setSha}.npy`, sha256: setSha, sizeBytes: (input.samples ?? 2000) * 3600 },
          samples: input.samples ?? 2000,
          source: 'synthetic',
          classMix: { walking: 0.5, running: 0.5 },
          channelMean: new Array(9).fill(0),
          channelStd: new Array(9).fill(1),
          durationMs: 8,
          reused: false,
        };
      },
      compileModel: async (input) => {
        const { scenario } = this.context('compileModel', input);
        if (scenario.compileBlocks) {
          const ctx = Context.current();
          const beat = setInterval(() => ctx.heartbeat('compiling'), 500);
          this.blockedCompiles += 1;
          try {
            await Promise.race([this.compileRelease, ctx.cancelled]);
          } finally {
            this.blockedCompiles -= 1;
            clearInterval(beat);
          }
        }
        // Another calibration set gives another INT8 artifact, as with the real quantizer.
        const artifactSha = sha(`${input.target} of ${input.onnx.sha256} calibrated on ${input.calibrationSet.sha256}`);
        return {
          target: input.target,
          artifact: { path: `/stand-in-store/${artifactSha}.onnx`, sha256: artifactSha, sizeBytes: 1_200_000 },
          metadataPath: `/stand-in-store/${artifactSha}.onnx.meta.json`,
          format: 'onnx',
          similarity: { minCosine: 0.995, meanCosine: 0.998, windows: 256, gate: input.int8MinCosine ?? 0.99 },
          sizes: { fp32Bytes: input.onnx.sizeBytes, artifactBytes: 1_200_000 },
          durationMs: 20,
          reused: false,
        };
      },
      preflightModel: async (input) => {
        const { scenario } = this.context('preflightModel', input);
        const gates = { ...defaultGatesAt('preflight'), ...input.gates };
        const maxAbs = scenario.preflightFails ? 190 : 4.2;
        const checks = [
          { name: 'allFinite' as const, value: true, gate: true, passed: true },
          { name: 'maxAbsValue' as const, value: maxAbs, gate: gates.maxAbsValue, passed: maxAbs <= gates.maxAbsValue },
        ];
        if (scenario.preflightFails) {
          throw ApplicationFailure.create({ type: ErrorType.PreflightGateFailed, message: `pre-flight: max |embedding| ${maxAbs} > ${gates.maxAbsValue}`, nonRetryable: true, details: [{ checks }] });
        }
        return {
          checked: { path: input.artifact.path, sha256: input.artifact.sha256, role: 'artifact' as const },
          figures: {
            windows: 1200, categories: { walking: 200 }, allFinite: true, nonFinite: [], maxAbsValue: maxAbs, maxAbsCategory: 'running', maxAbsValueFullScale: 40, fullScaleCategory: 'saturated',
            inRangeWindows: 1100, perCategoryMaxAbs: { running: maxAbs }, activityWindows: 600, minOutputVariance: 0.01, meanOutputVariance: 0.2, minPairwiseDistance: 0.3, identicalPairs: 0,
            probes: [], minReferenceCosine: 0.9999, maxRelativeError: 0.001, normRatio: { min: 0.999, max: 1.001 }, maxAbsDiff: 0.002,
          },
          gates,
          checks,
          passed: true,
          durationMs: 15,
          reused: false,
        };
      },
      compareWithServed: async (input) => {
        const { scenario } = this.context('compareWithServed', input);
        const gate = input.maxDriftFromServed;
        const drift = scenario.driftFromServed ?? 0.004;
        const comparisons = input.served.map((s) => ({
          servedSha256: s.sha256, deviceIds: s.deviceIds, found: 'store' as const, windows: 512,
          cosine: { min: 1 - drift, p05: 1 - drift / 2, mean: 1 - drift / 4 }, normRatio: { min: 0.97, median: 1, max: 1.03 }, drift,
          passed: gate === undefined || drift <= gate,
        }));
        if (comparisons.some((c) => !c.passed)) {
          throw ApplicationFailure.create({ type: ErrorType.DriftGateFailed, message: `drift ${drift} from the served model > ${gate}`, nonRetryable: true, details: [{ comparisons, gate }] });
        }
        return { comparisons, ...(gate !== undefined ? { gate } : {}), durationMs: 9, reused: false };
      },
      resolveDevices: async (input) => {
        const { scenario } = this.context('resolveDevices', input);
        return input.deviceIds.map((id) => ({
          id,
          target: scenario.deviceTargets?.[id] ?? this.opts.target ?? 'cpu-int8',
          host: '127.0.0.1',
          port: 2222,
          modelDir: `/models/${id}`,
          healthUrl: `http://127.0.0.1:9000/healthz`,
          inferenceUrl: `http://127.0.0.1:9000/infer`,
        }));
      },
      pushArtifact: async (input) => {
        this.context('pushArtifact', input, input.deviceId);
        await this.deviceTime();
        return {
          deviceId: input.deviceId,
          stagedPath: `/models/${input.deviceId}/staging/${input.artifact.sha256}.onnx`,
          stagedMetadataPath: `/models/${input.deviceId}/staging/${input.artifact.sha256}.onnx.meta.json`,
          sha256: input.artifact.sha256,
          bytesSent: input.artifact.sizeBytes,
          reused: false,
          durationMs: 5,
          servedSha256: this.served.get(input.deviceId) ?? null,
        };
      },
    };
  }

  /**
   * The device-side stand-ins of one device, or (`deviceIdOf`, e.g. deviceIdOfCall) of whichever
   * device each call is for, as on a shared edge queue.
   */
  edgeActivities(device: string | (() => string)): EdgeActivities {
    const idOf = typeof device === 'string' ? () => device : device;
    return {
      swapModel: async (input) => {
        const deviceId = idOf();
        const { scenario } = this.context('swapModel', input, deviceId);
        await this.deviceTime();
        if (scenario.swapFailsBeforeSwitchOn === deviceId) {
          throw ApplicationFailure.create({
            type: ErrorType.ArtifactShaMismatch,
            message: `staging/${input.sha256}.onnx on ${deviceId} has another sha256: push it again`,
            nonRetryable: true,
            details: [{ switched: false }],
          });
        }
        const previous = this.served.get(deviceId) ?? null;
        const backup: BackupRecord | null = previous
          ? { sha256: previous, backupPath: `/models/${deviceId}/backups/20250101T000000Z-${previous}.onnx`, releasePath: `/models/${deviceId}/releases/${previous}.onnx` }
          : null;
        this.journals.set(`${input.deploymentId}/${input.runId}/${deviceId}`, { backup, sha256: input.sha256, restored: false });
        this.served.set(deviceId, input.sha256);
        if (scenario.swapFailsOn === deviceId) {
          // Stands for a health check that kept failing through the activity's retries.
          throw ApplicationFailure.create({
            type: ErrorType.HealthCheckTimeout,
            message: `/healthz on ${deviceId} never reported ${input.sha256.slice(0, 16)}: onnxruntime cannot load the model`,
            nonRetryable: true,
            details: [{ switched: true }],
          });
        }
        return { deviceId, backup, servedSha256Prefix: input.sha256.slice(0, 16), restartMs: 4, healthyAfterMs: 6, reused: false, backupsOnDevice: backup ? [backup.sha256] : [] };
      },
      validateDeployment: async (input) => {
        const deviceId = idOf();
        const { scenario } = this.context('validateDeployment', input, deviceId);
        await this.deviceTime();
        if (scenario.validationHangsOn === deviceId) {
          const ctx = Context.current();
          const beat = setInterval(() => ctx.heartbeat('measuring'), 200);
          try {
            await ctx.cancelled; // rejects with CancelledFailure when the workflow cancels us
          } finally {
            clearInterval(beat);
          }
        }
        const held = scenario.validationWaitsFor?.[deviceId];
        if (held) {
          const ctx = Context.current();
          const beat = setInterval(() => ctx.heartbeat('measuring'), 200);
          try {
            await Promise.race([held, ctx.cancelled]);
          } finally {
            clearInterval(beat);
          }
        }
        const slow = scenario.validationFailsOn === deviceId || (scenario.validationFailsOnDevices ?? []).includes(deviceId);
        const report = validationReport(deviceId, input.sha256, slow, resolveGates(input.gates), scenario.deviceMaxAbs ?? 3.2);
        const failing = !report.passed;
        if (failing) {
          throw ApplicationFailure.create({ type: ErrorType.ValidationGateFailed, message: `validation failed on ${deviceId}: ${report.failures.join('; ')}`, nonRetryable: true, details: [report] });
        }
        return report;
      },
      restoreBackup: async (input) => {
        const deviceId = idOf();
        this.context('restoreBackup', input, deviceId);
        await this.deviceTime();
        // The device's rules: only this run's journal counts, and only while `current` is still
        // this run's release.
        const journal = this.journals.get(`${input.deploymentId}/${input.runId}/${deviceId}`);
        const serves = this.served.get(deviceId) ?? null;
        const left = (outcome: 'nothing-switched' | 'superseded', reason: string) => ({ deviceId, outcome, reason, restoredSha256: serves, servedSha256Prefix: serves?.slice(0, 16) ?? null, durationMs: 1 });
        if (!journal) return left('nothing-switched', 'no swap journal of this run on the device');
        const backupSha = journal.backup?.sha256 ?? null;
        if (journal.restored) return { deviceId, outcome: 'already-restored' as const, restoredSha256: backupSha, servedSha256Prefix: backupSha?.slice(0, 16) ?? null, durationMs: 1 };
        if (serves !== journal.sha256) return left('superseded', `current is ${serves?.slice(0, 12)}, not this run's ${journal.sha256.slice(0, 12)}`);
        this.served.set(deviceId, backupSha);
        journal.restored = true;
        return { deviceId, outcome: backupSha ? ('restored' as const) : ('first-install-removed' as const), restoredSha256: backupSha, servedSha256Prefix: backupSha?.slice(0, 16) ?? null, durationMs: 3 };
      },
      discardStaged: async (input) => {
        const deviceId = idOf();
        this.context('discardStaged', input, deviceId);
        return { deviceId, removed: [`/models/${deviceId}/staging/${input.sha256}.${input.ext}`], otherClaims: 0 };
      },
      probeServing: async (input) => {
        const deviceId = idOf();
        this.context('probeServing', input, deviceId);
        const serves = this.served.get(deviceId) ?? null;
        return { deviceId, runtimeUp: true, ready: serves !== null, servedSha256Prefix: serves?.slice(0, 16) ?? null, currentSha256: serves };
      },
      measureServing: async (input) => {
        const deviceId = idOf();
        this.context('measureServing', input, deviceId);
        await this.deviceTime();
        const serves = this.served.get(deviceId) ?? null;
        // The old model is a little slower than the candidate in these runs.
        return {
          deviceId, servedSha256Prefix: serves?.slice(0, 16) ?? null, currentSha256: serves,
          latencyMs: { count: 200, p50: 6, p90: 9, p95: 11, p99: 15, mean: 7, max: 20 },
          throughput: { concurrency: 8, durationMs: 3000, completed: 1350, errors: 0, rps: 450 },
          agreement: { minReferenceCosine: 0.998, bindingMinCosine: 0.997 },
          durationMs: 40,
        };
      },
      watchServing: async (input) => {
        const deviceId = idOf();
        const { scenario } = this.context('watchServing', input, deviceId);
        const degraded = (scenario.soakDegradesOn ?? []).includes(deviceId) ? ['3 of 3 polls: /healthz not ready'] : [];
        return { deviceId, sha256: input.sha256, healthy: degraded.length === 0, degraded, polls: 3, notReadyPolls: degraded.length ? 3 : 0, wrongShaPolls: 0, unreachablePolls: 0, requests: 15, errors: 0, p95LatencyMs: 5, durationMs: input.durationMs };
      },
    };
  }
}

/** A slow device fails its latency gate; outputs beyond the sent maxAbsValue fail it as validationGates.ts does. */
function validationReport(deviceId: string, sha256: string, slow: boolean, gates: ValidationGates, maxAbs: number): ValidationReport {
  const p95 = slow ? 180 : 9;
  const failures = slow ? [`p95 latency ${p95} ms > ${gates.p95LatencyMs} ms`] : [];
  if (!passesGate('maxAbsValue', maxAbs, gates.maxAbsValue)) failures.push(`outputs: max |value| ${maxAbs} > gate ${gates.maxAbsValue}`);
  return {
    deviceId,
    sha256,
    servedSha256Prefix: sha256.slice(0, 16),
    latencyMs: { count: 200, p50: 5, p90: 8, p95, p99: p95 + 5, mean: 6, max: p95 + 10 },
    throughput: { concurrency: 8, durationMs: 3000, completed: 1500, errors: 0, rps: 500 },
    outputs: {
      allFinite: true,
      maxAbs,
      minVariance: 0.4,
      distinctInputsDistinctOutputs: true,
      minPairwiseDistance: 0.8,
      referenceCosine: [{ probe: 'walking', cosine: 0.999 }],
      minReferenceCosine: 0.999,
    },
    gates,
    failures,
    passed: failures.length === 0,
    durationMs: 30,
  };
}
