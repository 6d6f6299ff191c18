import assert from 'node:assert/strict';
import { DEFAULT_GATES, evaluateOutputs, evaluatePerformance, resolveGates, type ProbeOutcome } from '../../activities/edge/validationGates';

const win = (v: number): number[][] => Array.from({ length: 100 }, () => Array.from({ length: 9 }, () => v));
const vec = (f: (i: number) => number): number[] => Array.from({ length: 64 }, (_, i) => f(i));

function probe(name: string, w: number, latent: number[] | undefined, reference = latent ?? vec(() => 1)): ProbeOutcome {
  return { probe: name, window: win(w), reference, latent };
}

describe('validation gates', () => {
  it('fills defaults and rejects nonsense gates', () => {
    assert.deepEqual(resolveGates(undefined), DEFAULT_GATES);
    assert.equal(resolveGates({ p95LatencyMs: 5 }).p95LatencyMs, 5);
    assert.throws(() => resolveGates({ p95LatencyMs: -1 }), RangeError);
    assert.throws(() => resolveGates({ minReferenceCosine: 2 }), RangeError);
    assert.throws(() => resolveGates({ maxAbsValue: Number.NaN }), RangeError);
  });

  it('passes distinct, finite outputs that agree with the references', () => {
    const { outputs, failures } = evaluateOutputs([probe('a', 0, vec((i) => Math.sin(i))), probe('b', 1, vec((i) => Math.cos(i)))], DEFAULT_GATES);
    assert.deepEqual(failures, []);
    assert.equal(outputs.allFinite, true);
    assert.equal(outputs.distinctInputsDistinctOutputs, true);
    assert.ok(outputs.minReferenceCosine > 0.999999);
    assert.ok(outputs.minPairwiseDistance > 1);
  });

  it('fails a constant model: distinct windows, one embedding', () => {
    const c = vec((i) => i / 64);
    const { outputs, failures } = evaluateOutputs([probe('a', 0, c), probe('b', 1, [...c])], DEFAULT_GATES);
    assert.equal(outputs.distinctInputsDistinctOutputs, false);
    assert.equal(outputs.minPairwiseDistance, 0);
    assert.ok(failures.some((f) => /same embedding/.test(f)), failures.join('\n'));
  });

  it('does not count identical windows as a distinctness failure', () => {
    const { failures } = evaluateOutputs([probe('a', 0, vec(Math.sin)), probe('a2', 0, vec(Math.sin)), probe('b', 2, vec(Math.cos))], DEFAULT_GATES);
    assert.deepEqual(failures, []);
  });

  it('fails flat, huge, short and missing outputs', () => {
    const flat = evaluateOutputs([probe('a', 0, vec(() => 0)), probe('b', 1, vec(() => 1))], DEFAULT_GATES);
    assert.ok(flat.failures.some((f) => /variance/.test(f)));
    const huge = evaluateOutputs([probe('a', 0, vec((i) => i * 10)), probe('b', 1, vec((i) => -i))], DEFAULT_GATES);
    assert.ok(huge.failures.some((f) => /max \|value\| 630/.test(f)));
    const short = evaluateOutputs([probe('a', 0, [1, 2, 3]), probe('b', 1, vec(Math.cos))], DEFAULT_GATES);
    assert.equal(short.outputs.allFinite, false);
    assert.ok(short.failures.some((f) => /3 values, expected 64/.test(f)));
    const missing = evaluateOutputs([{ ...probe('a', 0, undefined), error: 'HTTP 503' }], DEFAULT_GATES);
    assert.ok(missing.failures.some((f) => /probe a: HTTP 503/.test(f)));
    assert.ok(missing.failures.some((f) => /fewer than two distinct/.test(f)));
    assert.ok(evaluateOutputs([], DEFAULT_GATES).failures.some((f) => /no probe windows/.test(f)));
  });

  it('fails disagreement with the GPU reference', () => {
    const { outputs, failures } = evaluateOutputs([probe('a', 0, vec(Math.sin), vec((i) => -Math.sin(i))), probe('b', 1, vec(Math.cos))], DEFAULT_GATES);
    assert.ok(outputs.minReferenceCosine < -0.99);
    assert.ok(failures.some((f) => /cosine vs GPU reference .* \(probe a\)/.test(f)), failures.join('\n'));
  });

  it('fails slow, low-throughput or erroring performance', () => {
    const lat = { count: 100, p50: 1, p90: 2, p95: 60, p99: 70, mean: 3, max: 80 };
    const tp = { concurrency: 8, durationMs: 1000, completed: 100, errors: 2, rps: 100 };
    const f = evaluatePerformance(lat, 1, tp, DEFAULT_GATES);
    assert.equal(f.length, 4, f.join('\n'));
    assert.deepEqual(evaluatePerformance({ ...lat, p95: 10 }, 0, { ...tp, errors: 0, rps: 300 }, DEFAULT_GATES), []);
  });
});
