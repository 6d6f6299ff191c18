import assert from 'node:assert/strict';
import { canonicalJson as exportCanonicalJson } from '../../activities/gpu/artifactStore';
import { canonicalJson, deploymentWorkflowId, InvalidDeployRequest, parseDeployRequest } from '../../common/request';

const minimal = { modelName: 'tcn-vae', source: { kind: 'checkpoint', checkpointPath: '/ckpt/model.pt' }, target: 'cpu-int8', devices: ['pi-01'] };

function issues(raw: unknown): string[] {
  try {
    parseDeployRequest(raw);
  } catch (err) {
    assert.ok(err instanceof InvalidDeployRequest);
    return err.issues;
  }
  assert.fail('request was accepted');
}

describe('deployment request schema', () => {
  it('fills in every default', () => {
    const r = parseDeployRequest(minimal);
    assert.deepEqual(r.calibration, { samples: 2000 });
    assert.deepEqual(r.gates, {
      parityMinCosine: 0.9999, parityMaxRelativeError: 1e-3, int8MinCosine: 0.99, p95LatencyMs: 50, minThroughputRps: 250, minReferenceCosine: 0.98,
      // pre-flight (issue 8)
      maxAbsValue: 100, maxAbsValueFullScale: 10_000, minOutputVariance: 1e-6, minPairwiseDistance: 1e-4, maxRelativeError: 0.25, parityMaxAbsDiff: 8, minProbes: 4,
      deviceMinCosine: 0.99, deviceMaxRelativeError: 0.2,
    });
    assert.deepEqual(r.quantization, { format: 'S8S8', calibrationMethod: 'MinMax', reduceRange: false, maxExcludedNodes: 4 });
    assert.deepEqual(r.validation, { latencyRequests: 200, concurrency: 8, throughputDurationMs: 3000 });
    assert.deepEqual(r.approval, { required: true, timeout: 24 * 3600_000 });
    assert.deepEqual(r.edge, { healthTimeoutMs: 60_000, deviceDeadline: 30 * 60_000, restoreDeadline: 3600_000, queueWait: 120_000 });
  });

  it('keeps given values and parses durations to milliseconds', () => {
    const r = parseDeployRequest({ ...minimal, approval: { timeout: '90s', approvers: ['alice'] }, gates: { p95LatencyMs: 20 }, calibration: { samples: 512, seed: 7 }, edge: { deviceDeadline: 120000 } });
    assert.equal(r.approval.timeout, 90_000);
    assert.deepEqual(r.approval.approvers, ['alice']);
    assert.equal(r.gates.p95LatencyMs, 20);
    assert.equal(r.gates.int8MinCosine, 0.99);
    assert.deepEqual(r.calibration, { samples: 512, seed: 7 });
    assert.equal(r.edge.deviceDeadline, 120_000);
  });

  it('accepts a command source', () => {
    const r = parseDeployRequest({ ...minimal, source: { kind: 'command', argv: ['python', 'export.py'], cwd: '/src' } });
    assert.equal(r.source.kind, 'command');
  });

  it('rejects bad requests with the path of each problem', () => {
    assert.ok(issues({ ...minimal, modelName: 'Bad_Name' }).some((i) => i.startsWith('modelName:')));
    assert.ok(issues({ ...minimal, devices: [] }).some((i) => /devices: list at least one/.test(i)));
    assert.ok(issues({ ...minimal, devices: ['pi-01', 'pi-01'] }).some((i) => /listed once/.test(i)));
    assert.ok(issues({ ...minimal, devices: ['../etc'] }).some((i) => i.startsWith('devices.0:')));
    assert.ok(issues({ ...minimal, target: 'tpu' }).some((i) => i.startsWith('target:')));
    assert.ok(issues({ ...minimal, source: { kind: 'checkpoint' } }).some((i) => i.startsWith('source.checkpointPath:')));
    assert.ok(issues({ ...minimal, source: { kind: 'command', argv: [] } }).some((i) => i.startsWith('source.argv:')));
    assert.ok(issues({ ...minimal, approval: { timeout: 'soon' } }).some((i) => /approval.timeout: not a positive duration/.test(i)));
    assert.ok(issues({ ...minimal, approval: { timeout: -5 } }).some((i) => i.startsWith('approval.timeout:')));
    assert.ok(issues({ ...minimal, gates: { int8MinCosine: 1.5 } }).some((i) => i.startsWith('gates.int8MinCosine:')));
    assert.ok(issues({ ...minimal, calibration: { samples: 3 } }).some((i) => i.startsWith('calibration.samples:')));
    assert.ok(issues({ ...minimal, validation: { latencyRequests: 10 } }).some((i) => i.startsWith('validation.latencyRequests:')));
    assert.ok(issues({ ...minimal, sourceSha256: 'abc' }).some((i) => i.startsWith('sourceSha256:')));
    // Typos are errors, not silently ignored settings.
    assert.ok(issues({ ...minimal, gates: { p95LatencyMS: 20 } }).some((i) => /p95LatencyMS/.test(i)));
    assert.ok(issues({ ...minimal, devcies: ['pi-01'] }).some((i) => /devcies/.test(i)));
  });

  it('derives the workflow id from the model and the first 12 hex of the source sha256', () => {
    const sha = 'ab'.repeat(32);
    assert.equal(deploymentWorkflowId('tcn-vae', 'cpu-int8', sha), 'deploy-tcn-vae-cpu-int8-abababababab');
    assert.notEqual(deploymentWorkflowId('tcn-vae', 'cpu-fp32', sha), deploymentWorkflowId('tcn-vae', 'cpu-int8', sha));
    assert.throws(() => deploymentWorkflowId('tcn-vae', 'cpu-int8', 'xyz'), InvalidDeployRequest);
    assert.throws(() => deploymentWorkflowId('TCN', 'cpu-int8', sha), InvalidDeployRequest);
    assert.throws(() => deploymentWorkflowId('tcn-vae', 'gpu', sha), InvalidDeployRequest);
  });

  it('canonical JSON sorts keys and drops undefined members, so equal argv+cwd hash equally', () => {
    assert.equal(canonicalJson({ cwd: undefined, argv: ['a', 'b'] }), '{"argv":["a","b"]}');
    assert.equal(canonicalJson({ b: 1, a: { d: null, c: [1, { y: 2, x: 1 }] } }), '{"a":{"c":[1,{"x":1,"y":2}],"d":null},"b":1}');
  });

  it('hashes command sources exactly as the export activity does (the workflow id must match its sourceSha256)', () => {
    for (const source of [{ argv: ['python', 'export.py', '--out', 'é ü'] }, { argv: ['x'], cwd: '/work' }, { cwd: undefined, argv: ['a"b', 'c\\d'] }]) {
      assert.equal(canonicalJson(source), exportCanonicalJson(source));
    }
  });
});
