// IN-MEMORY FAKES of the GPU stage activities and the device-side activities, for the scale test
// (scale-fleet.ts) only. They return at once (or after `delayMs`) with plausible, well-typed
// results and touch no file, model, device or network. Nothing here is a real activity: every
// function is named fake…, and the worker registers them under the real activity names.
// The ownership activities (device leases on deviceOwner workflows) are NOT faked by the scale
// test: it runs the real ones.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { createHash } from 'node:crypto';
import type { DeviceInfo, EdgeActivities, GpuActivities, ServingFigures, ValidationReport } from '../common/contracts';
import { ErrorType } from '../common/errors';
import { defaultGatesAt } from '../common/gates';
import { parseDeviceRolloutWorkflowId } from '../common/workflowNames';

export const fakeSha = (text: string): string => createHash('sha256').update(text).digest('hex');

/** What every fake device served before the scale test's rollout. */
export const fakeBaselineSha = fakeSha('scale test: baseline model');

export interface FakeOptions {
  /** Added to every fake device-side activity (simulated device time). */
  delayMs?: number;
  /** Devices whose fake validateDeployment fails its latency gate (their rollout then restores). */
  failValidationOn?: ReadonlySet<string>;
}

const pause = (ms: number): Promise<void> => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());

/**
 * The device a call on a shared edge queue is for: the calling deviceRollout's workflow id is
 * `<deploymentId>.<deviceId>[.catch-up|.revert]` and device ids have no dots.
 */
export function fakeDeviceIdOfCall(): string {
  const workflowId = Context.current().info.workflowExecution?.workflowId ?? '';
  return parseDeviceRolloutWorkflowId(workflowId)?.deviceId ?? workflowId;
}

export function fakeValidationReport(deviceId: string, sha256: string, failing: boolean): ValidationReport {
  const p95 = failing ? 180 : 9;
  const gates = defaultGatesAt('device');
  return {
    deviceId,
    sha256,
    servedSha256Prefix: sha256.slice(0, 16),
    latencyMs: { count: 200, p50: 5, p90: 8, p95, p99: p95 + 5, mean: 6, max: p95 + 10 },
    throughput: { concurrency: 8, durationMs: 3000, completed: 1500, errors: 0, rps: 500 },
    outputs: { allFinite: true, maxAbs: 3.2, minVariance: 0.4, distinctInputsDistinctOutputs: true, minPairwiseDistance: 0.8, referenceCosine: [{ probe: 'walking', cosine: 0.999 }], minReferenceCosine: 0.999 },
    gates,
    failures: failing ? [`p95 latency ${p95} ms > ${gates.p95LatencyMs} ms (scale-test fake)`] : [],
    passed: !failing,
    durationMs: 1,
  };
}

export function createFakeGpuActivities(opts: FakeOptions = {}): GpuActivities {
  return {
    exportModel: async function fakeExportModel(input) {
      const onnxSha = fakeSha(`onnx of ${input.modelName}`);
      const sourceSha256 = input.source.kind === 'checkpoint' ? fakeSha(input.source.checkpointPath) : fakeSha(JSON.stringify(input.source.argv));
      return {
        onnx: { path: `/fake-store/${onnxSha}.onnx`, sha256: onnxSha, sizeBytes: 4_400_000 },
        metadataPath: `/fake-store/${onnxSha}.onnx.meta.json`,
        parity: { minCosine: 0.99999, maxAbsDiff: 2e-6, maxRelativeError: 1e-6, probes: [], gate: input.parityMinCosine ?? 0.9999 },
        sourceSha256,
        durationMs: 1,
        reused: false,
      };
    },
    buildCalibrationSet: async function fakeBuildCalibrationSet(input) {
      const setSha = fakeSha(`calibration ${input.metadataPath} ${input.samples}`);
      return {
        calibrationSet: { path: `/fake-store/${setSha}.npy`, sha256: setSha, sizeBytes: (input.samples ?? 2000) * 3600 },
        samples: input.samples ?? 2000, source: 'synthetic', classMix: { walking: 1 }, channelMean: new Array(9).fill(0), channelStd: new Array(9).fill(1), durationMs: 1, reused: false,
      };
    },
    compileModel: async function fakeCompileModel(input) {
      const artifactSha = fakeSha(`${input.target} of ${input.onnx.sha256}`);
      return {
        target: input.target,
        artifact: { path: `/fake-store/${artifactSha}.onnx`, sha256: artifactSha, sizeBytes: 1_200_000 },
        metadataPath: `/fake-store/${artifactSha}.onnx.meta.json`,
        format: 'onnx',
        similarity: { minCosine: 0.995, meanCosine: 0.998, windows: 256, gate: input.int8MinCosine ?? 0.99 },
        sizes: { fp32Bytes: input.onnx.sizeBytes, artifactBytes: 1_200_000 },
        durationMs: 1,
        reused: false,
      };
    },
    preflightModel: async function fakePreflightModel(input) {
      const gates = { ...defaultGatesAt('preflight'), ...input.gates };
      return {
        checked: { path: input.artifact.path, sha256: input.artifact.sha256, role: 'artifact' as const },
        figures: {
          windows: 1200, categories: { walking: 200 }, allFinite: true, nonFinite: [], maxAbsValue: 4.2, maxAbsCategory: 'running', maxAbsValueFullScale: 40, fullScaleCategory: 'saturated',
          inRangeWindows: 1100, perCategoryMaxAbs: { running: 4.2 }, activityWindows: 600, minOutputVariance: 0.01, meanOutputVariance: 0.2, minPairwiseDistance: 0.3, identicalPairs: 0,
          probes: [], minReferenceCosine: 0.9999, maxRelativeError: 0.001, normRatio: { min: 0.999, max: 1.001 }, maxAbsDiff: 0.002,
        },
        gates,
        checks: [{ name: 'allFinite' as const, value: true, gate: true, passed: true }],
        passed: true,
        durationMs: 1,
        reused: false,
      };
    },
    compareWithServed: async function fakeCompareWithServed(input) {
      const comparisons = input.served.map((s) => ({
        servedSha256: s.sha256, deviceIds: s.deviceIds, found: 'store' as const, windows: 512,
        cosine: { min: 0.996, p05: 0.998, mean: 0.999 }, normRatio: { min: 0.97, median: 1, max: 1.03 }, drift: 0.004, passed: true,
      }));
      return { comparisons, ...(input.maxDriftFromServed !== undefined ? { gate: input.maxDriftFromServed } : {}), durationMs: 1, reused: false };
    },
    resolveDevices: async function fakeResolveDevices(input): Promise<DeviceInfo[]> {
      return input.deviceIds.map((id) => ({ id, target: 'cpu-fp32', host: '127.0.0.1', port: 22, modelDir: `/fake/${id}/model`, healthUrl: 'http://127.0.0.1:9/healthz', inferenceUrl: 'http://127.0.0.1:9/infer' }));
    },
    pushArtifact: async function fakePushArtifact(input) {
      await pause(opts.delayMs ?? 0);
      const staged = `/fake/${input.deviceId}/model/staging/${input.artifact.sha256}.onnx`;
      return { deviceId: input.deviceId, stagedPath: staged, stagedMetadataPath: `${staged}.meta.json`, sha256: input.artifact.sha256, bytesSent: input.artifact.sizeBytes, reused: false, durationMs: 1, servedSha256: fakeBaselineSha };
    },
  };
}

/** Device-side fakes; `deviceIdOf` names the device of a call (bound per worker, or from the calling workflow on a shared queue). */
export function createFakeEdgeActivities(deviceIdOf: () => string, opts: FakeOptions = {}): EdgeActivities {
  const delay = (): Promise<void> => pause(opts.delayMs ?? 0);
  const backupOf = (deviceId: string) => ({ sha256: fakeBaselineSha, backupPath: `/fake/${deviceId}/model/backups/20260101T000000Z-${fakeBaselineSha}.onnx`, releasePath: `/fake/${deviceId}/model/releases/${fakeBaselineSha}.onnx` });
  return {
    probeServing: async function fakeProbeServing() {
      const deviceId = deviceIdOf();
      return { deviceId, runtimeUp: true, ready: true, servedSha256Prefix: fakeBaselineSha.slice(0, 16), currentSha256: fakeBaselineSha };
    },
    swapModel: async function fakeSwapModel(input) {
      const deviceId = deviceIdOf();
      await delay();
      return { deviceId, backup: backupOf(deviceId), servedSha256Prefix: input.sha256.slice(0, 16), restartMs: 1, healthyAfterMs: 1, reused: false, backupsOnDevice: [fakeBaselineSha] };
    },
    validateDeployment: async function fakeValidateDeployment(input) {
      const deviceId = deviceIdOf();
      await delay();
      const failing = opts.failValidationOn?.has(deviceId) ?? false;
      const report = fakeValidationReport(deviceId, input.sha256, failing);
      if (failing) throw ApplicationFailure.create({ type: ErrorType.ValidationGateFailed, message: `validation failed on ${deviceId}: ${report.failures.join('; ')}`, nonRetryable: true, details: [report] });
      return report;
    },
    restoreBackup: async function fakeRestoreBackup() {
      const deviceId = deviceIdOf();
      await delay();
      return { deviceId, outcome: 'restored' as const, restoredSha256: fakeBaselineSha, servedSha256Prefix: fakeBaselineSha.slice(0, 16), durationMs: 1 };
    },
    discardStaged: async function fakeDiscardStaged(input) {
      const deviceId = deviceIdOf();
      return { deviceId, removed: [`/fake/${deviceId}/model/staging/${input.sha256}.${input.ext}`], otherClaims: 0 };
    },
    measureServing: async function fakeMeasureServing(): Promise<ServingFigures> {
      const deviceId = deviceIdOf();
      await delay();
      const r = fakeValidationReport(deviceId, fakeBaselineSha, false);
      return { deviceId, servedSha256Prefix: fakeBaselineSha.slice(0, 16), currentSha256: fakeBaselineSha, latencyMs: r.latencyMs, throughput: r.throughput, durationMs: 1 };
    },
    watchServing: async function fakeWatchServing(input) {
      const deviceId = deviceIdOf();
      await pause(Math.min(input.durationMs, 1000));
      return { deviceId, sha256: input.sha256, healthy: true, degraded: [], polls: 1, notReadyPolls: 0, wrongShaPolls: 0, unreachablePolls: 0, requests: 5, errors: 0, p95LatencyMs: 9, durationMs: input.durationMs };
    },
  };
}
