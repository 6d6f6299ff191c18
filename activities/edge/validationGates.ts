// Pure gate logic for validateDeployment: defaults, input checks, output figures and the list of
// failed gates. Kept apart from the HTTP measurement so every rule is unit-tested.
import type { LatencyFigures, ValidationGates, ValidationReport } from '../../common/contracts';
import { MODEL_OUTPUT } from '../../common/contracts';
import { GATES, defaultGatesAt, gateDomainProblem, gateNamesAt, passesGate } from '../../common/gates';
import { cosineSimilarity, euclideanDistance, variance } from '../../common/percentiles';

/** The device's gates and defaults come from the one table (common/gates.ts, place 'device'). */
export const DEFAULT_GATES: ValidationGates = defaultGatesAt('device');

/** Two latents closer than this (L2) count as the same embedding: float32 noise, not information. */
export const DISTINCT_EPSILON = 1e-6;

export const LATENT_SIZE = MODEL_OUTPUT.shape[1];

/** The request's gates over the defaults; a value out of its domain is a RangeError (the caller's InvalidRequest). */
export function resolveGates(partial: Partial<ValidationGates> | undefined): ValidationGates {
  const gates = { ...DEFAULT_GATES, ...(partial ?? {}) };
  for (const name of gateNamesAt('device')) {
    // A gate without a default is off unless the request sets it.
    if (gates[name] === undefined && GATES[name].default === undefined) continue;
    const problem = gateDomainProblem(name, gates[name]);
    if (problem) throw new RangeError(problem);
  }
  return gates;
}

/** What one probe window gave: a latent, or why there is none. */
export interface ProbeOutcome {
  probe: string;
  window: number[][];
  reference: number[];
  latent?: number[];
  error?: string;
}

export type OutputFigures = ValidationReport['outputs'];

function sameWindow(a: number[][], b: number[][]): boolean {
  return a.length === b.length && a.every((row, i) => row.length === b[i].length && row.every((v, j) => v === b[i][j]));
}

/** Output checks over the probe outcomes; returns the figures and the output-related failures. */
export function evaluateOutputs(outcomes: ProbeOutcome[], gates: ValidationGates): { outputs: OutputFigures; failures: string[] } {
  const failures: string[] = [];
  if (outcomes.length === 0) failures.push('outputs: the model metadata carries no probe windows, so outputs cannot be checked');
  let allFinite = outcomes.length > 0;
  const valid: Array<ProbeOutcome & { latent: number[] }> = [];
  for (const o of outcomes) {
    if (o.latent === undefined) {
      allFinite = false;
      failures.push(`outputs: probe ${o.probe}: ${o.error ?? 'no latent returned'}`);
    } else if (o.latent.length !== LATENT_SIZE) {
      allFinite = false;
      failures.push(`outputs: probe ${o.probe}: latent has ${o.latent.length} values, expected ${LATENT_SIZE}`);
    } else if (!o.latent.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      allFinite = false;
      failures.push(`outputs: probe ${o.probe}: latent contains non-finite values`);
    } else {
      valid.push(o as ProbeOutcome & { latent: number[] });
    }
  }

  let maxAbs = 0;
  let minVariance = valid.length ? Infinity : 0;
  const referenceCosine: Array<{ probe: string; cosine: number }> = [];
  for (const o of valid) {
    for (const v of o.latent) maxAbs = Math.max(maxAbs, Math.abs(v));
    minVariance = Math.min(minVariance, variance(o.latent));
    if (o.reference.length !== o.latent.length) {
      failures.push(`outputs: probe ${o.probe}: reference has ${o.reference.length} values, latent ${o.latent.length}`);
      referenceCosine.push({ probe: o.probe, cosine: 0 });
    } else {
      referenceCosine.push({ probe: o.probe, cosine: cosineSimilarity(o.latent, o.reference) });
    }
  }
  const minReferenceCosine = referenceCosine.length ? Math.min(...referenceCosine.map((r) => r.cosine)) : 0;

  let minPairwiseDistance = Infinity;
  let pairs = 0;
  for (let i = 0; i < valid.length; i++) {
    for (let j = i + 1; j < valid.length; j++) {
      if (sameWindow(valid[i].window, valid[j].window)) continue;
      pairs += 1;
      minPairwiseDistance = Math.min(minPairwiseDistance, euclideanDistance(valid[i].latent, valid[j].latent));
    }
  }
  if (pairs === 0) minPairwiseDistance = 0;
  const distinct = pairs > 0 && minPairwiseDistance > DISTINCT_EPSILON;

  if (!passesGate('maxAbsValue', maxAbs, gates.maxAbsValue)) failures.push(`outputs: max |value| ${maxAbs} > gate ${gates.maxAbsValue}`);
  if (valid.length > 0 && !passesGate('minOutputVariance', minVariance, gates.minOutputVariance)) failures.push(`outputs: min latent variance ${minVariance} < gate ${gates.minOutputVariance} (degenerate output)`);
  if (pairs === 0) failures.push('outputs: fewer than two distinct probe windows returned latents, so distinctness cannot be checked');
  else if (!distinct) failures.push(`outputs: distinct probe windows gave the same embedding (min pairwise L2 distance ${minPairwiseDistance})`);
  if (referenceCosine.length > 0 && minReferenceCosine < gates.minReferenceCosine) {
    const worst = referenceCosine.reduce((a, b) => (b.cosine < a.cosine ? b : a));
    failures.push(`outputs: cosine vs GPU reference ${minReferenceCosine.toFixed(6)} (probe ${worst.probe}) < gate ${gates.minReferenceCosine}`);
  }

  return {
    outputs: { allFinite, maxAbs, minVariance, distinctInputsDistinctOutputs: distinct, minPairwiseDistance, referenceCosine, minReferenceCosine },
    failures,
  };
}

/** What one binding window gave on the device, against the FP32 output the GPU server computed. */
export interface BindingOutcome {
  reference: number[];
  latent?: number[];
  error?: string;
}

function l2(a: number[]): number {
  return Math.sqrt(a.reduce((s, v) => s + v * v, 0));
}

/**
 * The device-side binding check: the artifact's fixed windows, run by the device's own runtime,
 * against the FP32 outputs. Direction (cosine) and scale (relative error) are both gated, so an
 * INT8 kernel that saturates on this CPU, or a runtime that scales outputs, fails here.
 */
export function evaluateBinding(outcomes: BindingOutcome[], gates: ValidationGates): { binding: NonNullable<OutputFigures['binding']>; failures: string[] } {
  const failures: string[] = [];
  const cos: number[] = [];
  const rel: number[] = [];
  let firstError: string | undefined;
  for (const o of outcomes) {
    const ok = o.latent && o.latent.length === o.reference.length && o.latent.every((v) => typeof v === 'number' && Number.isFinite(v));
    if (!ok) {
      firstError ??= o.error ?? (o.latent ? `latent of ${o.latent.length} values or non-finite` : 'no latent returned');
      continue;
    }
    const y = o.latent as number[];
    cos.push(cosineSimilarity(y, o.reference));
    const r = l2(o.reference);
    const d = l2(y.map((v, i) => v - o.reference[i]));
    rel.push(d === 0 ? 0 : r === 0 ? Number.POSITIVE_INFINITY : d / r);
  }
  const answered = cos.length;
  const binding = {
    windows: outcomes.length,
    answered,
    minCosine: answered ? Math.min(...cos) : 0,
    meanCosine: answered ? cos.reduce((a, b) => a + b, 0) / answered : 0,
    maxRelativeError: answered ? Math.max(...rel) : Number.POSITIVE_INFINITY,
  };
  if (answered < outcomes.length) failures.push(`binding: ${outcomes.length - answered} of ${outcomes.length} windows gave no usable latent (first: ${firstError})`);
  if (answered > 0 && binding.minCosine < gates.deviceMinCosine) {
    failures.push(`binding: cosine with the FP32 outputs on this device ${binding.minCosine.toFixed(5)} < gate ${gates.deviceMinCosine} (${outcomes.length} fixed windows)`);
  }
  if (answered > 0 && !(binding.maxRelativeError <= gates.deviceMaxRelativeError)) {
    failures.push(`binding: relative error against the FP32 outputs on this device ${binding.maxRelativeError.toFixed(4)} > gate ${gates.deviceMaxRelativeError}`);
  }
  return { binding, failures };
}

export function evaluatePerformance(
  latency: LatencyFigures,
  latencyErrors: number,
  throughput: ValidationReport['throughput'],
  gates: ValidationGates,
): string[] {
  const failures: string[] = [];
  if (latencyErrors > 0) failures.push(`latency: ${latencyErrors} of ${latency.count + latencyErrors} sequential requests failed`);
  if (!(latency.p95 <= gates.p95LatencyMs)) failures.push(`latency: p95 ${latency.p95.toFixed(3)} ms > gate ${gates.p95LatencyMs} ms`);
  if (gates.p99LatencyMs !== undefined && !passesGate('p99LatencyMs', latency.p99, gates.p99LatencyMs)) failures.push(`latency: p99 ${latency.p99.toFixed(3)} ms > gate ${gates.p99LatencyMs} ms`);
  if (throughput.errors > 0) failures.push(`throughput: ${throughput.errors} requests failed at concurrency ${throughput.concurrency}`);
  if (!(throughput.rps >= gates.minThroughputRps)) failures.push(`throughput: ${throughput.rps.toFixed(1)} req/s < gate ${gates.minThroughputRps} req/s at concurrency ${throughput.concurrency}`);
  return failures;
}
