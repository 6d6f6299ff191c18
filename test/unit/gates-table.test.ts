// The one gate table (common/gates.ts) is what every place checks: the request's defaults, the
// pre-flight's and the device's gate lists, and a raised request value reaches the device.
import assert from 'node:assert/strict';
import { DEFAULT_PREFLIGHT_GATES, evaluatePreflight } from '../../activities/gpu/preflightModel';
import { parsePreflightInput } from '../../activities/gpu/requests';
import { DEFAULT_GATES, evaluateOutputs, resolveGates, type ProbeOutcome } from '../../activities/edge/validationGates';
import { GATES, GATE_NAMES, defaultGatesAt, describeGate, gateDomainProblem, gateNamesAt, gatesAt, passesGate } from '../../common/gates';
import { parseDeployRequest } from '../../common/request';
import { renderStatus } from '../../clients/format';
import type { DeploymentStatus } from '../../workflows/report';

const minimal = { modelName: 'tcn-vae', source: { kind: 'checkpoint', checkpointPath: '/ckpt/model.pt' }, target: 'cpu-int8', devices: ['pi-01'] };
const win = (v: number): number[][] => Array.from({ length: 100 }, () => Array.from({ length: 9 }, () => v));
const vec = (f: (i: number) => number): number[] => Array.from({ length: 64 }, (_, i) => f(i));
const probe = (name: string, w: number, latent: number[]): ProbeOutcome => ({ probe: name, window: win(w), reference: latent, latent });

describe('gates declared once (common/gates.ts)', () => {
  it('the request fills every gate that has a default with the table default, and only those', () => {
    const gates = parseDeployRequest(minimal).gates as Record<string, number | undefined>;
    for (const name of GATE_NAMES) assert.equal(gates[name], GATES[name].default, name);
    assert.deepEqual(Object.keys(gates).sort(), GATE_NAMES.filter((n) => GATES[n].default !== undefined).sort());
  });

  it('the pre-flight and the device take their gate lists and defaults from the table', () => {
    assert.deepEqual(DEFAULT_PREFLIGHT_GATES, defaultGatesAt('preflight'));
    assert.deepEqual(DEFAULT_GATES, defaultGatesAt('device'));
    assert.deepEqual(Object.keys(DEFAULT_GATES).sort(), gateNamesAt('device').filter((n) => GATES[n].default !== undefined).sort());
    // Properties checked in both places are one request field.
    assert.deepEqual(gateNamesAt('preflight').filter((n) => (gateNamesAt('device') as string[]).includes(n)).sort(), ['maxAbsValue', 'minOutputVariance', 'minReferenceCosine']);
  });

  it('gatesAt copies the request values of one place only', () => {
    const request = parseDeployRequest({ ...minimal, gates: { maxAbsValue: 1000, p95LatencyMs: 20 } });
    const device = gatesAt('device', request.gates);
    assert.equal(device.maxAbsValue, 1000);
    assert.equal(device.p95LatencyMs, 20);
    assert.equal((device as Record<string, unknown>).maxAbsValueFullScale, undefined, 'a pre-flight-only gate is not sent to the device');
    assert.equal(gatesAt('preflight', request.gates).maxAbsValue, 1000);
  });

  it('checks in the declared direction; NaN never passes', () => {
    assert.equal(passesGate('maxAbsValue', 100, 100), true);
    assert.equal(passesGate('maxAbsValue', 100.5, 100), false);
    assert.equal(passesGate('minThroughputRps', 249, 250), false);
    assert.equal(passesGate('minThroughputRps', Number.NaN, 250), false);
    assert.equal(passesGate('p95LatencyMs', Number.NaN, 50), false);
    assert.equal(describeGate('p95LatencyMs', 50), '≤ 50 ms');
    assert.equal(describeGate('minReferenceCosine', 0.98), '≥ 0.98');
  });

  it('refuses values out of a gate domain, in the request, the activities and the table alike', () => {
    assert.match(gateDomainProblem('minReferenceCosine', 1.5) ?? '', /\(0, 1\]/);
    assert.match(gateDomainProblem('minProbes', 2.5) ?? '', /integer/);
    assert.equal(gateDomainProblem('maxAbsValue', 1000), undefined);
    assert.throws(() => parseDeployRequest({ ...minimal, gates: { maxAbsValue: -1 } }), /gates\.maxAbsValue/);
    assert.throws(() => parsePreflightInput({ modelName: 'm', artifact: { path: '/a', sha256: 'a'.repeat(64), sizeBytes: 1 }, metadataPath: '/m', gates: { minProbes: 0 } }), /gates\.minProbes/);
    assert.throws(() => resolveGates({ deviceMinCosine: 0 }), RangeError);
  });

  it('a request with maxAbsValue 1000: the device validation of outputs reaching 190 passes it, the default fails it', () => {
    const outcomes = [probe('walking', 0, vec((i) => (i === 3 ? 190 : Math.sin(i)))), probe('running', 1, vec((i) => Math.cos(i) * 2))];
    const raised = resolveGates(gatesAt('device', parseDeployRequest({ ...minimal, gates: { maxAbsValue: 1000 } }).gates));
    const withRaised = evaluateOutputs(outcomes, raised);
    assert.equal(withRaised.outputs.maxAbs, 190);
    assert.deepEqual(withRaised.failures, []);
    const withDefault = evaluateOutputs(outcomes, resolveGates(gatesAt('device', parseDeployRequest(minimal).gates)));
    assert.deepEqual(withDefault.failures, ['outputs: max |value| 190 > gate 100']);
  });

  it('the pre-flight applies the same request value to the same property', () => {
    const figures = {
      windows: 1200, categories: {}, allFinite: true, nonFinite: [], maxAbsValue: 190, maxAbsCategory: 'running', maxAbsValueFullScale: 481, fullScaleCategory: 'saturated',
      inRangeWindows: 980, perCategoryMaxAbs: {}, activityWindows: 480, minOutputVariance: 0.1, meanOutputVariance: 0.3, minPairwiseDistance: 0.1, identicalPairs: 0,
      probes: [], minReferenceCosine: 0.99, maxRelativeError: 0.1, normRatio: { min: 0.9, max: 1 }, maxAbsDiff: 4,
    };
    const failedWith = (maxAbsValue?: number) => evaluatePreflight(figures, 5, { ...DEFAULT_PREFLIGHT_GATES, ...gatesAt('preflight', parseDeployRequest({ ...minimal, gates: maxAbsValue ? { maxAbsValue } : {} }).gates) }).filter((c) => !c.passed).map((c) => c.name);
    assert.deepEqual(failedWith(), ['maxAbsValue']);
    assert.deepEqual(failedWith(1000), []);
  });

  it('the approval screen shows each gate with its direction, and the device gates the request set', () => {
    const deviceGates = gatesAt('device', parseDeployRequest({ ...minimal, gates: { maxAbsValue: 1000 } }).gates);
    const awaiting = { decision: 'approve or reject' as const, since: '2026-01-01T00:00:00.000Z', deadline: '2026-01-02T00:00:00.000Z', how: ['edgeship approve x --by <you>'] };
    const status = {
      deploymentId: 'deploy-tcn-vae-cpu-int8-000000000000', status: 'awaiting-approval', stage: 'approval', modelName: 'tcn-vae', target: 'cpu-int8',
      awaiting, stages: [], devices: [], compensations: [], ignoredMessages: [],
      decisionFigures: {
        artifact: { sha256: 'a'.repeat(64), sizeBytes: 1024, format: 'onnx', target: 'cpu-int8' }, stagedDevices: ['pi-01'], deviceGates,
        preflight: [{ name: 'allFinite', value: true, gate: true, passed: true }, { name: 'maxAbsValue', value: 190, gate: 1000, passed: true }, { name: 'minProbes', value: 5, gate: 4, passed: true }],
      },
    } as unknown as DeploymentStatus; // only the fields renderStatus reads for an awaiting run
    const out = renderStatus(status);
    assert.match(out, /pre-flight: ✔ allFinite true \(gate true\) · ✔ maxAbsValue 190\.0 \(gate ≤ 1000\) · ✔ minProbes 5\.000 \(gate ≥ 4\)/);
    assert.match(out, /device gates after the swap: maxAbsValue ≤ 1000 · minOutputVariance ≥ 0\.000001 · minReferenceCosine ≥ 0\.98 · p95LatencyMs ≤ 50 ms · minThroughputRps ≥ 250 req\/s · deviceMinCosine ≥ 0\.99 · deviceMaxRelativeError ≤ 0\.2/);
  });
});
