// The device gate on p99 latency (gates.p99LatencyMs), added through the one gate table: off by
// default, so today's validations are unchanged; when a request sets it, the device checks it.
import assert from 'node:assert/strict';
import { evaluatePerformance, resolveGates } from '../../activities/edge/validationGates';
import { gatesAt } from '../../common/gates';
import { InvalidDeployRequest, parseDeployRequest } from '../../common/request';

const minimal = { modelName: 'tcn-vae', source: { kind: 'checkpoint', checkpointPath: '/ckpt/model.pt' }, target: 'cpu-int8', devices: ['pi-01'] };
const latency = { count: 200, p50: 4, p90: 6, p95: 9, p99: 70, mean: 5, max: 80 };
const throughput = { concurrency: 8, durationMs: 3000, completed: 1500, errors: 0, rps: 500 };
const deviceGatesOf = (gates: Record<string, number>) => resolveGates(gatesAt('device', parseDeployRequest({ ...minimal, gates }).gates));

describe('device gate: p99 latency', () => {
  it('is off by default: a long tail passes as it did before the gate existed', () => {
    const gates = deviceGatesOf({});
    assert.equal(gates.p99LatencyMs, undefined);
    assert.deepEqual(evaluatePerformance(latency, 0, throughput, gates), []);
  });

  it('a request that sets it: the device fails a p99 above it and passes one below', () => {
    assert.deepEqual(evaluatePerformance(latency, 0, throughput, deviceGatesOf({ p99LatencyMs: 40 })), ['latency: p99 70.000 ms > gate 40 ms']);
    assert.deepEqual(evaluatePerformance(latency, 0, throughput, deviceGatesOf({ p99LatencyMs: 100 })), []);
  });

  it('bad values are refused by the request and by the device alike', () => {
    assert.throws(() => parseDeployRequest({ ...minimal, gates: { p99LatencyMs: 0 } }), (err: unknown) => err instanceof InvalidDeployRequest && err.issues.some((i) => i.startsWith('gates.p99LatencyMs')));
    assert.throws(() => resolveGates({ p99LatencyMs: -5 }), RangeError);
  });
});
