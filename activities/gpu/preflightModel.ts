// preflightModel: the model gates on the GPU server, before anything is staged on a device.
// The artifact that will be deployed (for a HEF: the FP32 ONNX it was compiled from, since a HEF
// only runs on the NPU) goes through a sweep of ≥ 1000 windows (ml/preflight.py: activities,
// upside down, on its side, free fall, saturated sensors, constant and zero windows, noise) and
// is held to its references in scale as well as direction. Every figure is reported; a failed
// gate is the non-retryable PreflightGateFailed carrying all of them.
import { performance } from 'node:perf_hooks';
import type { ArtifactRef, PreflightCheck, PreflightFigures, PreflightGates, PreflightInput, PreflightResult } from '../../common/contracts';
import { ErrorType } from '../../common/errors';
import { defaultGatesAt, gateNamesAt, passesGate } from '../../common/gates';
import { cancellationSignal, withHeartbeat } from './activityContext';
import { ArtifactStore, jobKey } from './artifactStore';
import { failure } from './failures';
import { readMetadata } from './modelMetadata';
import { runPythonTool } from './python';
import { parsePreflightInput } from './requests';

/** The pre-flight's gates and defaults come from the one table (common/gates.ts). */
export const DEFAULT_PREFLIGHT_GATES: PreflightGates = defaultGatesAt('preflight');
export const DEFAULT_SWEEP_WINDOWS = 1200;
const PREFLIGHT_VERSION = 'edgeship-preflight/1';

type ToolAnswer = PreflightFigures & { perCategoryMaxAbs: Record<string, number> };

/** Applies the gates to the figures: every check, passed or not, in a fixed order. Pure. */
export function evaluatePreflight(f: PreflightFigures, probes: number, g: PreflightGates): PreflightCheck[] {
  // The figure each pre-flight gate is checked against; the gate list and directions are the table's.
  const figure: Record<keyof PreflightGates, number> = {
    maxAbsValue: f.maxAbsValue,
    maxAbsValueFullScale: f.maxAbsValueFullScale,
    minOutputVariance: f.minOutputVariance,
    minPairwiseDistance: f.minPairwiseDistance,
    minProbes: probes,
    minReferenceCosine: f.minReferenceCosine,
    maxRelativeError: f.maxRelativeError,
    parityMaxAbsDiff: f.maxAbsDiff,
  };
  return [
    { name: 'allFinite', value: f.allFinite, gate: true, passed: f.allFinite },
    ...gateNamesAt('preflight').map((name): PreflightCheck => ({ name, value: figure[name], gate: g[name], passed: passesGate(name, figure[name], g[name]) })),
  ];
}

function describe(c: PreflightCheck, f: PreflightFigures): string {
  switch (c.name) {
    case 'allFinite':
      return `non-finite embeddings on ${f.nonFinite.map((n) => `${n.windows} ${n.category}`).join(', ')} window(s)`;
    case 'maxAbsValue':
      return `an embedding value reaches ${f.maxAbsValue.toPrecision(4)} (> ${c.gate}) on ${f.maxAbsCategory} windows`;
    case 'maxAbsValueFullScale':
      return `an embedding value reaches ${f.maxAbsValueFullScale.toPrecision(4)} (> ${c.gate}) on ${f.fullScaleCategory} windows`;
    case 'minOutputVariance':
      return `an embedding dimension varies by ${f.minOutputVariance.toExponential(2)} (< ${c.gate}) across ${f.activityWindows} activity windows`;
    case 'minPairwiseDistance':
      return `distinct activity windows give embeddings ${f.minPairwiseDistance.toExponential(2)} apart (< ${c.gate}; ${f.identicalPairs} identical pairs)`;
    case 'minProbes':
      return `the references hold ${String(c.value)} probe(s), fewer than ${c.gate}`;
    case 'minReferenceCosine':
      return `cosine with the references ${f.minReferenceCosine.toFixed(5)} < ${c.gate}`;
    case 'maxRelativeError': {
      const worst = f.probes.reduce((a, b) => (b.relativeError > a.relativeError ? b : a));
      return `scale differs from the references: relative error ${f.maxRelativeError.toPrecision(4)} > ${c.gate} (probe ${worst.name}, |output|/|reference| ${worst.normRatio.toPrecision(4)})`;
    }
    case 'parityMaxAbsDiff':
      return `max |output − reference| ${f.maxAbsDiff.toPrecision(4)} > ${c.gate}`;
  }
}

async function modelToCheck(input: PreflightInput, store: ArtifactStore): Promise<{ ref: ArtifactRef; role: 'artifact' | 'source-onnx' }> {
  const meta = await readMetadata(input.metadataPath);
  if (meta.sha256 !== input.artifact.sha256) {
    throw failure(ErrorType.InvalidRequest, `metadata ${input.metadataPath} describes ${meta.sha256.slice(0, 12)}, not the artifact ${input.artifact.sha256.slice(0, 12)}`);
  }
  let ref = input.artifact;
  let role: 'artifact' | 'source-onnx' = 'artifact';
  if (meta.format === 'hef') {
    // A HEF runs only on the NPU: its outputs are proven on the device; here, the ONNX it came from.
    if (!input.sourceOnnx) throw failure(ErrorType.InvalidRequest, `${input.artifact.path} is a HEF: pass sourceOnnx, the FP32 ONNX it was compiled from`);
    if (meta.exportedFromOnnxSha256 && meta.exportedFromOnnxSha256 !== input.sourceOnnx.sha256) {
      throw failure(ErrorType.InvalidRequest, `the HEF was compiled from ONNX ${meta.exportedFromOnnxSha256.slice(0, 12)}, not ${input.sourceOnnx.sha256.slice(0, 12)}`);
    }
    ref = input.sourceOnnx;
    role = 'source-onnx';
  }
  if (!(await store.holds(ref))) {
    throw failure(ErrorType.ArtifactShaMismatch, `${ref.path} is missing or no longer has sha256 ${ref.sha256.slice(0, 12)} / ${ref.sizeBytes} bytes`, undefined, { nonRetryable: true });
  }
  return { ref, role };
}

export async function preflightModel(rawInput: PreflightInput, store = new ArtifactStore()): Promise<PreflightResult> {
  const started = performance.now();
  const input = parsePreflightInput(rawInput);
  const gates: PreflightGates = { ...DEFAULT_PREFLIGHT_GATES, ...input.gates };
  const windows = input.sweepWindows ?? DEFAULT_SWEEP_WINDOWS;
  const { ref, role } = await modelToCheck(input, store);
  const meta = await readMetadata(input.metadataPath);

  // Figures depend only on the model, its references and the sweep: the gates are applied anew.
  const key = jobKey('preflight', { model: ref.sha256, metadata: input.artifact.sha256 }, { windows, tool: PREFLIGHT_VERSION, probes: meta.probes.map((p) => p.reference) });
  let figures = await store.lookupJob<ToolAnswer>(key);
  const reused = figures !== undefined;
  if (!figures) {
    figures = await withHeartbeat('preflight', (progress) =>
      runPythonTool<ToolAnswer>('preflight.py', { modelPath: ref.path, metadataPath: input.metadataPath, windows }, { onProgress: progress, signal: cancellationSignal() }));
    await store.recordJob(key, 'preflight', [ref], figures);
  }
  const checks = evaluatePreflight(figures, meta.probes.length, gates);
  const failed = checks.filter((c) => !c.passed);
  const result: PreflightResult = {
    checked: { path: ref.path, sha256: ref.sha256, role },
    figures,
    gates,
    checks,
    passed: failed.length === 0,
    durationMs: performance.now() - started,
    reused,
  };
  if (failed.length > 0) {
    throw failure(ErrorType.PreflightGateFailed,
      `pre-flight of ${input.modelName} (${ref.sha256.slice(0, 12)}, ${figures.windows} sweep windows) failed ${failed.length} gate(s): ${failed.map((c) => `${c.name}: ${describe(c, figures)}`).join('; ')}`,
      result);
  }
  return result;
}
