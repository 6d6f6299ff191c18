// probeServing, measureServing and watchServing (the fleet-rollout edge activities) against the
// REAL runtime process (edge/cli.ts, onnxruntime) serving real ONNX models on loopback: a device
// that serves, one that serves nothing, one that is gone, one stopped in the middle of a soak.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createEdgeActivities } from '../../activities/edge';
import { addIncrease, emptyIncrease, histogramP95Ms, metricsUrlOf, parseMetrics } from '../../activities/edge/runtimeMetrics';
import type { BindingSet, EdgeActivities, MeasureServingInput, ModelMetadata, ServingFigures, SoakReport, WatchServingInput } from '../../common/contracts';
import { ErrorType, NON_RETRYABLE_ERROR_TYPES } from '../../common/errors';
import type { DeviceSpec } from '../../lib/inventory';
import { RuntimeMetrics } from '../../edge/metrics';
import { buildTestModels, makeModelDir, type TestModels } from '../helpers/edgeModels';
import { startRuntimeProcess, type RuntimeProcess } from '../helpers/runtimeProcess';

const SHORT = { latencyRequests: 100, warmupRequests: 5, concurrency: 4, throughputDurationMs: 500 };

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** A device entry for the activities; SSH and the restart command are not used by these three. */
function spec(id: string, modelDir: string, url: string): DeviceSpec {
  return {
    id,
    target: 'cpu-fp32',
    ssh: { host: '127.0.0.1', port: 22, user: 'edge', privateKeyPath: '/nonexistent', knownHosts: '127.0.0.1 ssh-ed25519 AAAA' },
    modelDir,
    restartCommand: ['true'],
    healthUrl: `${url}/healthz`,
    inferenceUrl: `${url}/infer`,
    keepBackups: 3,
  };
}

async function expectFailure(p: Promise<unknown>, type: string): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `expected ApplicationFailure, got ${String(err)}`);
    assert.equal(err.type, type, err.message);
    return err;
  }
  assert.fail(`expected ${type}, but it resolved`);
}

/** watchServing in a mock activity context, collecting its heartbeats. */
async function watch(acts: EdgeActivities, input: WatchServingInput, env = new MockActivityEnvironment()): Promise<{ report: SoakReport; beats: unknown[] }> {
  const beats: unknown[] = [];
  env.on('heartbeat', (d: unknown) => beats.push(d));
  const report = await env.run<[WatchServingInput], SoakReport, EdgeActivities['watchServing']>(acts.watchServing, input);
  return { report, beats };
}

describe('serving probes: probeServing, measureServing, watchServing (real runtime process)', function () {
  this.timeout(60_000);
  let models: TestModels;
  const dirs: string[] = [];
  const runtimes: RuntimeProcess[] = [];
  let goodDir: string;
  let good: EdgeActivities;
  let noneDir: string;
  let none: EdgeActivities;

  async function runtime(dir: string, id: string): Promise<RuntimeProcess> {
    const rt = await startRuntimeProcess(dir, id);
    runtimes.push(rt);
    return rt;
  }

  before(async () => {
    models = (await buildTestModels('tiny')) as TestModels;
    goodDir = await makeModelDir(models.good);
    noneDir = await mkdtemp(path.join(tmpdir(), 'edgeship-device-'));
    await mkdir(path.join(noneDir, 'releases'));
    dirs.push(goodDir, noneDir);
    const [g, n] = await Promise.all([runtime(goodDir, 'serve-good'), runtime(noneDir, 'serve-none')]);
    good = createEdgeActivities(spec('serve-good', goodDir, g.url));
    none = createEdgeActivities(spec('serve-none', noneDir, n.url));
  });

  after(async () => {
    await Promise.all(runtimes.map((r) => r.stop()));
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  describe('probeServing', () => {
    it('reads /healthz and the release `current` names', async () => {
      const p = await good.probeServing({});
      assert.deepEqual(p, { deviceId: 'serve-good', runtimeUp: true, ready: true, servedSha256Prefix: models.good.sha256.slice(0, 16), currentSha256: models.good.sha256 });
    });

    it('a runtime that serves nothing: up, not ready, no current', async () => {
      assert.deepEqual(await none.probeServing({}), { deviceId: 'serve-none', runtimeUp: true, ready: false, servedSha256Prefix: null, currentSha256: null });
    });

    it('does not throw for a runtime that is down (runtimeUp: false), and answers quickly', async () => {
      const gone = createEdgeActivities(spec('serve-gone', goodDir, `http://127.0.0.1:${await freePort()}`));
      const t0 = performance.now();
      const p = await gone.probeServing({});
      assert.ok(performance.now() - t0 < 3000);
      assert.deepEqual(p, { deviceId: 'serve-gone', runtimeUp: false, ready: false, servedSha256Prefix: null, currentSha256: models.good.sha256 });
    });
  });

  describe('measureServing', () => {
    it('measures what is served, with agreement from the release metadata', async () => {
      const env = new MockActivityEnvironment();
      const stages = new Set<string>();
      env.on('heartbeat', (d: { stage?: string }) => stages.add(String(d.stage)));
      const f = await env.run<[MeasureServingInput], ServingFigures, EdgeActivities['measureServing']>(good.measureServing, SHORT);
      assert.equal(f.deviceId, 'serve-good');
      assert.equal(f.servedSha256Prefix, models.good.sha256.slice(0, 16));
      assert.equal(f.currentSha256, models.good.sha256);
      const l = f.latencyMs;
      assert.equal(l.count, 100);
      assert.ok(l.p50 > 0 && l.p50 <= l.p90 && l.p90 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max, JSON.stringify(l));
      assert.equal(f.throughput.concurrency, 4);
      assert.ok(f.throughput.completed > 0 && f.throughput.rps > 0 && f.throughput.errors === 0, JSON.stringify(f.throughput));
      assert.ok(Math.abs(f.throughput.durationMs - 500) < 60, `window ${f.throughput.durationMs} ms`);
      assert.ok(f.agreement?.minReferenceCosine !== undefined && f.agreement.minReferenceCosine > 0.9999, JSON.stringify(f.agreement));
      assert.match(f.agreement.note ?? '', /no binding windows/);
      assert.ok(f.durationMs > 500);
      for (const s of ['health', 'warmup', 'outputs', 'latency', 'throughput', 'health-after']) assert.ok(stages.has(s), `heartbeat stages: ${[...stages].join(', ')}`);
    });

    it('binding windows in the sidecar add binding figures; without the sidecar a note says why there is no agreement', async () => {
      // A binding set made of the probe windows and their FP32 references (shape as compileModel writes it).
      const meta = JSON.parse(await readFile(models.good.metadataPath, 'utf8')) as ModelMetadata;
      const binding: BindingSet = { source: 'fp32-onnx', fp32Sha256: models.good.sha256, seed: 0, windows: meta.probes.map((p) => p.window), reference: meta.probes.map((p) => p.reference) };
      const dir = await makeModelDir(models.good, { metadata: JSON.stringify({ ...meta, binding }) });
      dirs.push(dir);
      const rt = await runtime(dir, 'serve-binding');
      const acts = createEdgeActivities(spec('serve-binding', dir, rt.url));
      const withBinding = await acts.measureServing(SHORT);
      const a = withBinding.agreement;
      assert.ok(a?.bindingMinCosine !== undefined && a.bindingMinCosine > 0.9999, JSON.stringify(a));
      assert.ok(a.bindingMaxRelativeError !== undefined && a.bindingMaxRelativeError < 0.01, JSON.stringify(a));
      assert.ok(a.minReferenceCosine !== undefined && a.note === undefined, JSON.stringify(a));

      await rm(path.join(dir, 'releases', `${models.good.sha256}.onnx.meta.json`)); // after the load: the runtime keeps serving
      const f = await acts.measureServing(SHORT);
      assert.equal(f.latencyMs.count, 100);
      assert.ok(f.throughput.completed > 0);
      assert.deepEqual(Object.keys(f.agreement ?? {}), ['note']);
      assert.match(f.agreement?.note ?? '', /no metadata sidecar for the served release/);
    });

    it('a device that serves no model is NothingServed, non-retryable', async () => {
      assert.ok(NON_RETRYABLE_ERROR_TYPES.includes(ErrorType.NothingServed));
      const err = await expectFailure(none.measureServing(SHORT), ErrorType.NothingServed);
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /serves no model \(HTTP 503: no model installed/);
    });

    it('a runtime that does not answer is DeviceUnreachable, retryable; bad settings are InvalidRequest', async () => {
      const gone = createEdgeActivities(spec('serve-gone', goodDir, `http://127.0.0.1:${await freePort()}`));
      const err = await expectFailure(gone.measureServing(SHORT), ErrorType.DeviceUnreachable);
      assert.equal(err.nonRetryable, false);
      await expectFailure(good.measureServing({ latencyRequests: 10 }), ErrorType.InvalidRequest);
    });
  });

  describe('watchServing', () => {
    it('a good runtime stays healthy: every poll ready on the sha, traffic counted, p95 from the histogram', async () => {
      const { report, beats } = await watch(good, { sha256: models.good.sha256, durationMs: 2000, pollMs: 400, p95LatencyMs: 2500 });
      assert.equal(report.healthy, true, report.degraded.join('\n'));
      assert.deepEqual(report.degraded, []);
      assert.ok(report.polls >= 5 && report.polls <= 7, `polls ${report.polls}`);
      assert.equal(report.notReadyPolls + report.wrongShaPolls + report.unreachablePolls, 0);
      assert.equal(report.requests, report.polls * 5, 'the runtime counted exactly the watcher\'s requests');
      assert.equal(report.errors, 0);
      assert.ok(report.p95LatencyMs !== null && report.p95LatencyMs > 0, String(report.p95LatencyMs));
      assert.ok(report.durationMs >= 2000 && report.durationMs < 4000, `${report.durationMs} ms`);
      assert.ok(beats.length >= report.polls, `${beats.length} heartbeats`);
    });

    it('degraded when the runtime serves another sha (wrongShaPolls), and when p95 exceeds its bound', async () => {
      const { report } = await watch(good, { sha256: models.constant.sha256, durationMs: 1500, pollMs: 500, p95LatencyMs: 0.0001 });
      assert.equal(report.healthy, false);
      assert.equal(report.sha256, models.constant.sha256);
      assert.ok(report.polls >= 3);
      assert.equal(report.wrongShaPolls, report.polls);
      assert.ok(report.degraded.some((d) => d.includes(`serving ${models.good.sha256.slice(0, 16)} instead of ${models.constant.sha256.slice(0, 16)}`)), report.degraded.join('\n'));
      assert.ok(report.degraded.some((d) => /^inference p95 [\d.]+ ms \(histogram bucket bound\) > 0.0001 ms$/.test(d)), report.degraded.join('\n'));
    });

    it('degraded when the runtime is stopped mid-soak (unreachable polls); counters up to then still count', async () => {
      const dir = await makeModelDir(models.good);
      dirs.push(dir);
      const rt = await runtime(dir, 'serve-stopped');
      const acts = createEdgeActivities(spec('serve-stopped', dir, rt.url));
      const stopping = new Promise<void>((resolve, reject) => setTimeout(() => void rt.stop().then(resolve, reject), 1000));
      const { report } = await watch(acts, { sha256: models.good.sha256, durationMs: 3000, pollMs: 300 });
      await stopping;
      if (process.env.EDGESHIP_TEST_VERBOSE) console.log(JSON.stringify(report, null, 1));
      assert.equal(rt.running(), false);
      assert.equal(report.healthy, false);
      assert.ok(report.unreachablePolls >= 3, JSON.stringify(report));
      assert.ok(report.polls - report.unreachablePolls >= 2, JSON.stringify(report));
      assert.ok(report.degraded.some((d) => /polls could not reach the runtime \(last: unreachable: ECONNREFUSED\)/.test(d)), report.degraded.join('\n'));
      assert.ok(report.requests > 0 && report.p95LatencyMs !== null, JSON.stringify(report));
    });

    it('stops promptly when the activity is cancelled', async () => {
      const env = new MockActivityEnvironment();
      const t0 = performance.now();
      setTimeout(() => env.cancel(), 700);
      await assert.rejects(watch(good, { sha256: models.good.sha256, durationMs: 30_000, pollMs: 250 }, env), (err: unknown) => err instanceof CancelledFailure);
      assert.ok(performance.now() - t0 < 2000, `${Math.round(performance.now() - t0)} ms`);
    });

    it('rejects bad input as InvalidRequest', async () => {
      await expectFailure(good.watchServing({ sha256: 'abc', durationMs: 1000 }), ErrorType.InvalidRequest);
      await expectFailure(good.watchServing({ sha256: models.good.sha256, durationMs: 1000, pollMs: 1 }), ErrorType.InvalidRequest);
      await expectFailure(good.watchServing({ sha256: models.good.sha256, durationMs: 1000, p95LatencyMs: -1 }), ErrorType.InvalidRequest);
      await expectFailure(good.watchServing({ sha256: models.good.sha256 } as WatchServingInput), ErrorType.InvalidRequest);
    });
  });

  describe('reading /metrics', () => {
    it('increase and p95 from the runtime\'s own exposition, across a restart', () => {
      const render = (m: RuntimeMetrics, uptimeSeconds: number): string => m.render({ ready: true, uptimeSeconds, residentMemoryBytes: 1, model: null });
      const m = new RuntimeMetrics();
      m.recordRequest('/infer', 200, 0.001);
      const a = parseMetrics(render(m, 10));
      for (let i = 0; i < 19; i++) {
        m.recordRequest('/infer', 200, 0.002);
        m.recordInference(0.0008); // ≤ 1 ms bucket
      }
      m.recordRequest('/infer', 500, 0.002);
      m.recordRequest('/healthz', 503, 0.0001); // not /infer: neither a request nor an error of the soak
      m.recordInference(0.02); // the slowest, ≤ 25 ms: above the 95th of 20
      const b = parseMetrics(render(m, 12));
      const acc = emptyIncrease();
      addIncrease(acc, a, b);
      assert.deepEqual([acc.requests, acc.errors, acc.resets], [20, 1, 0]);
      assert.deepEqual(histogramP95Ms(acc.inferenceBuckets), { p95Ms: 1, overflow: false });

      const restarted = new RuntimeMetrics(); // a new process: counters from zero
      restarted.recordRequest('/infer', 200, 0.001);
      restarted.recordInference(5);
      addIncrease(acc, b, parseMetrics(render(restarted, 1)));
      assert.deepEqual([acc.requests, acc.errors, acc.resets], [21, 1, 1]);
      assert.equal(histogramP95Ms(emptyIncrease().inferenceBuckets), null);
      assert.equal(metricsUrlOf('http://10.0.0.5:8080/healthz'), 'http://10.0.0.5:8080/metrics');
      assert.equal(metricsUrlOf('http://dev/edge/healthz?x=1'), 'http://dev/edge/metrics');
    });
  });
});
