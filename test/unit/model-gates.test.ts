// Pure gate logic of issue 8: pre-flight checks, the device-side binding check, scale in
// parity, and finding a bare NaN token in a reference file.
import assert from 'node:assert/strict';
import type { PreflightFigures } from '../../common/contracts';
import { DEFAULT_GATES, evaluateBinding } from '../../activities/edge/validationGates';
import { findNonFiniteToken } from '../../activities/gpu/modelMetadata';
import { normRatio, relativeError } from '../../activities/gpu/parity';
import { DEFAULT_PREFLIGHT_GATES, evaluatePreflight } from '../../activities/gpu/preflightModel';

const vec = (f: (i: number) => number): number[] => Array.from({ length: 64 }, (_, i) => f(i));

const good: PreflightFigures = {
  windows: 1200, categories: { activity: 480 }, allFinite: true, nonFinite: [], maxAbsValue: 35.7, maxAbsCategory: 'free-fall',
  maxAbsValueFullScale: 481, fullScaleCategory: 'saturated', inRangeWindows: 980, perCategoryMaxAbs: {}, activityWindows: 480,
  minOutputVariance: 0.13, meanOutputVariance: 3, minPairwiseDistance: 0.12, identicalPairs: 0, probes: [],
  minReferenceCosine: 0.99, maxRelativeError: 0.15, normRatio: { min: 0.9, max: 1 }, maxAbsDiff: 4.1,
};

describe('model gates (issue 8)', () => {
  it('pre-flight: every check is reported, failed or not', () => {
    const checks = evaluatePreflight(good, 5, DEFAULT_PREFLIGHT_GATES);
    assert.equal(checks.length, 9);
    assert.ok(checks.every((c) => c.passed));
    const bad = evaluatePreflight({ ...good, allFinite: false, maxAbsValue: 190, maxRelativeError: 0.5 }, 3, DEFAULT_PREFLIGHT_GATES);
    assert.deepEqual(bad.filter((c) => !c.passed).map((c) => c.name), ['allFinite', 'maxAbsValue', 'minProbes', 'maxRelativeError']);
    assert.equal(bad.length, 9);
  });

  it('scale: a 2× output is 0.5 off and has norm ratio 2 with cosine 1', () => {
    const r = vec((i) => Math.sin(i) + 0.1);
    const y = r.map((v) => 2 * v);
    assert.ok(Math.abs(relativeError(y, r) - 1) < 1e-12);
    assert.ok(Math.abs(relativeError(r, y) - 0.5) < 1e-12);
    assert.ok(Math.abs(normRatio(y, r) - 2) < 1e-12);
    assert.equal(relativeError(vec(() => 0), vec(() => 0)), 0);
    assert.equal(normRatio(vec(() => 0), vec(() => 0)), 1);
  });

  it('binding: direction and scale are both gated', () => {
    const ref = vec((i) => Math.cos(i));
    const same = evaluateBinding([{ reference: ref, latent: ref.map((v) => v * 1.01) }], DEFAULT_GATES);
    assert.deepEqual(same.failures, []);
    const scaled = evaluateBinding([{ reference: ref, latent: ref.map((v) => v * 2) }], DEFAULT_GATES);
    assert.equal(scaled.failures.length, 1);
    assert.match(scaled.failures[0], /relative error against the FP32 outputs on this device 1\.0000 > gate 0\.2/);
    const missing = evaluateBinding([{ reference: ref, error: 'HTTP 500' }, { reference: ref, latent: ref }], DEFAULT_GATES);
    assert.match(missing.failures[0], /1 of 2 windows gave no usable latent \(first: HTTP 500\)/);
  });

  it('finds a bare NaN / Infinity token outside strings, with its line and column', () => {
    assert.deepEqual(findNonFiniteToken('{"a": [1, NaN]}'), { token: 'NaN', line: 1, column: 11 });
    assert.deepEqual(findNonFiniteToken('{\n "b": -Infinity}'), { token: '-Infinity', line: 2, column: 7 });
    assert.equal(findNonFiniteToken('{"name": "NaN-probe", "v": [1]}'), undefined);
    assert.equal(findNonFiniteToken('{"name": "say \\"NaN\\"", "v": 2}'), undefined);
  });
});
