// Every gate of a deployment, declared once: its request field (`gates.<name>`), default, the
// places it is checked and which way it passes. The request schema (common/request.ts), the
// pre-flight (activities/gpu), the device validation (activities/edge/validationGates.ts), the
// contracts' PreflightGates/ValidationGates and the approval screen take their lists and
// defaults from here, so a request's value is the one checked wherever that property is checked.
// Pure data and pure functions, no imports: workflow code imports it.

/** Where a gate is checked. */
export type GatePlace =
  | 'export' // exportModel: ONNX vs PyTorch
  | 'compile' // compileModel: INT8 vs FP32, the ONNX parity again
  | 'preflight' // preflightModel on the GPU server, before anything is staged
  | 'served' // compareWithServed: the candidate against what each device serves now
  | 'device'; // validateDeployment on the device, after the swap

/** `min`: the figure must be ≥ the gate; `max`: ≤ the gate. */
export type GateDirection = 'min' | 'max';

/** The values a gate accepts (the request schema and the activities' input checks enforce it). */
export type GateDomain =
  | 'cosine' // (0, 1]
  | 'positive' // > 0
  | 'nonnegative' // ≥ 0
  | 'count' // an integer ≥ 1
  | 'drift'; // (0, 2]: 1 − cosine

export interface GateSpec {
  places: readonly GatePlace[];
  direction: GateDirection;
  domain: GateDomain;
  /** undefined: the gate is off unless the request sets it. */
  default: number | undefined;
  unit?: string;
  /** One line for the request's documentation and the approval screen. */
  what: string;
}

export const GATES = {
  parityMinCosine: { places: ['export', 'compile'], direction: 'min', domain: 'cosine', default: 0.9999, what: 'ONNX vs PyTorch on the probe windows, min cosine' },
  parityMaxRelativeError: { places: ['export'], direction: 'max', domain: 'positive', default: 1e-3, what: 'ONNX vs PyTorch in scale: max |ONNX − PyTorch| / |PyTorch| over the probes' },
  int8MinCosine: { places: ['compile'], direction: 'min', domain: 'cosine', default: 0.99, what: 'INT8 vs FP32 on held-out windows, min cosine' },
  maxAbsValue: { places: ['preflight', 'device'], direction: 'max', domain: 'positive', default: 100, what: 'no embedding value beyond ±this (pre-flight: windows within ±12 σ; device: the probe windows)' },
  maxAbsValueFullScale: { places: ['preflight'], direction: 'max', domain: 'positive', default: 10_000, what: 'the bound for windows beyond ±12 σ (saturated sensors), where a ReLU encoder grows with its input' },
  minOutputVariance: { places: ['preflight', 'device'], direction: 'min', domain: 'nonnegative', default: 1e-6, what: 'pre-flight: min over the 64 dimensions of the variance across activity windows; device: min variance of a latent' },
  minPairwiseDistance: { places: ['preflight'], direction: 'min', domain: 'nonnegative', default: 1e-4, what: 'min L2 distance between the embeddings of distinct activity windows' },
  minProbes: { places: ['preflight'], direction: 'min', domain: 'count', default: 4, what: 'reference files with fewer probes are refused' },
  minReferenceCosine: { places: ['preflight', 'device'], direction: 'min', domain: 'cosine', default: 0.98, what: 'direction against the GPU-side reference embeddings, min cosine' },
  // INT8 clips embeddings outside its calibrated output range: the demo's INT8 model is 0.153
  // off on the all-zeros probe (a dead sensor), FP32 is 2e-7 off; a 2× scale error is 0.5.
  maxRelativeError: { places: ['preflight'], direction: 'max', domain: 'positive', default: 0.25, what: 'the deployed artifact against the references in scale, |Δ| / |reference|' },
  parityMaxAbsDiff: { places: ['preflight'], direction: 'max', domain: 'positive', default: 8, what: 'max |Δ| of any embedding value against the references' },
  p95LatencyMs: { places: ['device'], direction: 'max', domain: 'positive', default: 50, unit: 'ms', what: 'sequential inference latency on the device, p95' },
  // Off by default (today's behaviour); a tail bound for services whose SLO is on the slowest requests.
  p99LatencyMs: { places: ['device'], direction: 'max', domain: 'positive', default: undefined, unit: 'ms', what: 'sequential inference latency on the device, p99 (off unless set)' },
  minThroughputRps: { places: ['device'], direction: 'min', domain: 'nonnegative', default: 250, unit: 'req/s', what: 'throughput at the validation concurrency' },
  // The INT8 gate on the GPU server is 0.99; the same figure must hold on the device's CPU.
  deviceMinCosine: { places: ['device'], direction: 'min', domain: 'cosine', default: 0.99, what: "the artifact's binding windows on the device's runtime, cosine with their FP32 outputs" },
  // S8S8 demo model: 0.078 on 200 windows under an emulated AVX2 CPU; a 2× scale error is 0.5.
  deviceMaxRelativeError: { places: ['device'], direction: 'max', domain: 'positive', default: 0.2, what: 'the same windows in scale, max |device − FP32| / |FP32|' },
  maxDriftFromServed: { places: ['served'], direction: 'max', domain: 'drift', default: undefined, what: '1 − min cosine of the candidate against what a device serves now (off unless set)' },
} as const satisfies Record<string, GateSpec>;

export type GateName = keyof typeof GATES;
type Spec<N extends GateName> = (typeof GATES)[N];

/** The gates checked at a place. */
export type GateNameAt<P extends GatePlace> = { [N in GateName]: P extends Spec<N>['places'][number] ? N : never }[GateName];
/** Gates that have a default (always set in a parsed request). */
export type DefaultedGateName = { [N in GateName]: Spec<N>['default'] extends number ? N : never }[GateName];

/** Every gate of a place with its value: what an activity checking that place receives. */
export type GatesAt<P extends GatePlace> = { [N in GateNameAt<P> & DefaultedGateName]: number } & { [N in Exclude<GateNameAt<P>, DefaultedGateName>]?: number };

/** A parsed request's `gates`: every defaulted gate set, the others optional. */
export type RequestGates = GatesAt<GatePlace>;

export const GATE_NAMES = Object.keys(GATES) as GateName[];

export function gateNamesAt<P extends GatePlace>(place: P): Array<GateNameAt<P>> {
  return GATE_NAMES.filter((n) => (GATES[n].places as readonly GatePlace[]).includes(place)) as Array<GateNameAt<P>>;
}

/** The defaults of a place's gates (gates without a default are left out). */
export function defaultGatesAt<P extends GatePlace>(place: P): GatesAt<P> {
  const out: Record<string, number> = {};
  for (const n of gateNamesAt(place)) {
    const d = GATES[n].default as number | undefined;
    if (d !== undefined) out[n] = d;
  }
  return out as GatesAt<P>;
}

/**
 * The request's values of a place's gates: what the workflow passes to the activity that checks
 * that place. Only the place's fields are copied, so an activity receives no gate it ignores.
 */
export function gatesAt<P extends GatePlace>(place: P, gates: Partial<Record<GateName, number | undefined>>): GatesAt<P> {
  const out: Record<string, number> = {};
  for (const n of gateNamesAt(place)) {
    const v = gates[n];
    if (v !== undefined) out[n] = v;
  }
  return out as GatesAt<P>;
}

/** Whether a figure passes a gate in its declared direction (NaN never passes). */
export function passesGate(name: GateName, value: number, gate: number): boolean {
  return GATES[name].direction === 'min' ? value >= gate : value <= gate;
}

/** Why a gate value is out of its domain, or undefined when it is fine. */
export function gateDomainProblem(name: GateName, value: unknown): string | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return `gate ${name} must be a finite number, got ${String(value)}`;
  switch (GATES[name].domain) {
    case 'cosine':
      return value > 0 && value <= 1 ? undefined : `gate ${name} must be in (0, 1], got ${value}`;
    case 'positive':
      return value > 0 ? undefined : `gate ${name} must be > 0, got ${value}`;
    case 'nonnegative':
      return value >= 0 ? undefined : `gate ${name} must be ≥ 0, got ${value}`;
    case 'count':
      return Number.isInteger(value) && value >= 1 ? undefined : `gate ${name} must be an integer ≥ 1, got ${value}`;
    case 'drift':
      return value > 0 && value <= 2 ? undefined : `gate ${name} must be in (0, 2], got ${value}`;
  }
}

/** `≥ 0.98` / `≤ 50 ms`: a gate as the approval screen and reports show it. */
export function describeGate(name: GateName, gate: number): string {
  const spec: GateSpec = GATES[name];
  return `${spec.direction === 'min' ? '≥' : '≤'} ${gate}${spec.unit ? ` ${spec.unit}` : ''}`;
}
