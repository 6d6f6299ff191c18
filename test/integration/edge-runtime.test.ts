// The real runtime on 127.0.0.1 with real ONNX models exported by PyTorch.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { ModelMetadata } from '../../common/contracts';
import { PROJECT_ROOT } from '../../lib/paths';
import { InferenceError } from '../../edge/encoder';
import { createNormalizer, parseInferPayload } from '../../edge/requestParsing';
import { startRuntime, type RuntimeHandle } from '../../edge/server';
import { InferencePool } from '../../edge/workerPool';
import { buildTestModels, makeModelDir, type TestModels } from '../helpers/edgeModels';

async function post(url: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function get(url: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** A model dir whose release holds `bytes` and `meta` (sha fixed up to the bytes unless told). */
async function customModelDir(bytes: Buffer, meta: ModelMetadata | null, opts: { keepMetaSha?: boolean } = {}): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'edgeship-device-'));
  await mkdir(path.join(dir, 'releases'));
  const sha = createHash('sha256').update(bytes).digest('hex');
  const release = path.join(dir, 'releases', `${sha}.onnx`);
  await writeFile(release, bytes);
  if (meta) await writeFile(`${release}.meta.json`, JSON.stringify({ ...meta, sha256: opts.keepMetaSha ? meta.sha256 : sha }));
  await symlink(release, path.join(dir, 'current'));
  return dir;
}

describe('edge runtime (real onnxruntime, real HTTP)', function () {
  this.timeout(60_000);
  let models: TestModels;
  let goodMeta: ModelMetadata;
  const dirs: string[] = [];
  const runtimes: RuntimeHandle[] = [];

  async function serve(modelDir: string, inferenceWorkers?: number): Promise<RuntimeHandle> {
    const rt = await startRuntime({ modelDir, port: 0, deviceId: 'test-dev', inferenceWorkers });
    runtimes.push(rt);
    await rt.ready;
    return rt;
  }

  before(async () => {
    models = (await buildTestModels('tiny')) as TestModels;
    goodMeta = JSON.parse(await readFile(models.good.metadataPath, 'utf8')) as ModelMetadata;
  });

  after(async () => {
    await Promise.all(runtimes.map((r) => r.close()));
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  describe('with a good model', () => {
    let rt: RuntimeHandle;
    before(async () => {
      const dir = await makeModelDir(models.good);
      dirs.push(dir);
      rt = await serve(dir);
    });

    it('reports healthy with the sha of the served file', async () => {
      const { status, json } = await get(`${rt.url}/healthz`);
      assert.equal(status, 200);
      assert.equal(json.ok, true);
      assert.equal(json.sha256, models.good.sha256);
      assert.equal(json.hef_sha256, models.good.sha256.slice(0, 16));
      assert.equal(json.model, models.good.sha256);
      assert.equal(json.device, 'test-dev');
      assert.equal(json.config_version, 'edgeship.model/1');
      assert.equal(typeof json.version, 'string');
      assert.ok(typeof json.latency_ms === 'number' && json.latency_ms > 0);
      assert.ok(typeof json.uptime_s === 'number' && json.uptime_s >= 0);
    });

    it('applies the metadata z-score: latents match the PyTorch references of the probes', async () => {
      for (const p of goodMeta.probes) {
        const { status, json } = await post(`${rt.url}/infer`, JSON.stringify({ x: p.window }));
        assert.equal(status, 200, JSON.stringify(json));
        const latent = json.latent as number[];
        assert.equal(latent.length, 64);
        const maxDiff = Math.max(...latent.map((v, i) => Math.abs(v - p.reference[i])));
        assert.ok(maxDiff < 1e-4, `probe ${p.name}: max |onnx - torch| = ${maxDiff}`);
      }
    });

    it('serves the batch form with the same latents as single requests', async () => {
      const windows = goodMeta.probes.map((p) => p.window);
      const { status, json } = await post(`${rt.url}/infer`, JSON.stringify({ batch: windows }));
      assert.equal(status, 200);
      const latents = json.latents as number[][];
      assert.equal(latents.length, windows.length);
      for (let i = 0; i < windows.length; i++) {
        const single = (await post(`${rt.url}/infer`, JSON.stringify({ x: windows[i] }))).json.latent as number[];
        assert.deepEqual(latents[i], single, `window ${i}`);
      }
      const tooMany = await post(`${rt.url}/infer`, JSON.stringify({ batch: Array.from({ length: 65 }, () => windows[0]) }));
      assert.equal(tooMany.status, 400);
      assert.match(String(tooMany.json.reason), /limit is 64/);
    });

    it('answers concurrent requests correctly', async () => {
      const probes = goodMeta.probes;
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => post(`${rt.url}/infer`, JSON.stringify({ x: probes[i % probes.length].window }))));
      results.forEach((r, i) => {
        assert.equal(r.status, 200);
        const ref = probes[i % probes.length].reference;
        assert.ok((r.json.latent as number[]).every((v, j) => Math.abs(v - ref[j]) < 1e-4), `request ${i}`);
      });
    });

    it('rejects malformed requests with 4xx and a JSON reason', async () => {
      const w = goodMeta.probes[0].window;
      const cases: Array<[string, number, RegExp]> = [
        ['{"x": [[1,2', 400, /not valid JSON/],
        [JSON.stringify({ x: w.slice(1) }), 400, /100 rows/],
        [JSON.stringify({ x: w.map((row, t) => (t === 5 ? row.slice(1) : row)) }), 400, /x\[5\] must be an array of 9/],
        [JSON.stringify({ x: w.map((row, t) => (t === 7 ? row.map(String) : row)) }), 400, /x\[7\]\[0\] must be a finite number/],
        [JSON.stringify({ x: w }).replace(/^\{"x":\[\[[^,]+,/, '{"x":[[1e999,'), 400, /finite number \(got Infinity\)/],
        [JSON.stringify({ y: w }), 400, /exactly one of/],
      ];
      for (const [body, status, reason] of cases) {
        const r = await post(`${rt.url}/infer`, body);
        assert.equal(r.status, status, body.slice(0, 40));
        assert.match(String(r.json.reason), reason);
      }
      const big = await post(`${rt.url}/infer`, JSON.stringify({ x: w, pad: 'x'.repeat(1024 * 1024) }));
      assert.equal(big.status, 413);
      assert.match(String(big.json.reason), /exceeds the limit/);
      assert.equal((await fetch(`${rt.url}/infer`)).status, 405);
      assert.equal((await fetch(`${rt.url}/nope`)).status, 404);
      // The server survives all of it.
      assert.equal((await post(`${rt.url}/infer`, JSON.stringify({ x: w }))).status, 200);
    });

    it('exposes Prometheus metrics with the model sha as a label', async () => {
      const res = await fetch(`${rt.url}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
      const text = await res.text();
      assert.match(text, new RegExp(`^edgeship_model_info\\{model="${models.good.sha256}",sha256="${models.good.sha256}",device="test-dev"\\} 1$`, 'm'));
      assert.match(text, /^edgeship_http_requests_total\{route="\/infer",status="200"\} \d+$/m);
      assert.match(text, /^edgeship_http_requests_total\{route="\/infer",status="400"\} [1-9]\d*$/m);
      assert.match(text, /^edgeship_http_requests_total\{route="\/infer",status="413"\} 1$/m);
      assert.match(text, /^edgeship_request_duration_seconds_count\{route="\/infer"\} \d+$/m);
      assert.match(text, /^edgeship_ready 1$/m);
    });
  });

  describe('inference on the event loop (0 workers) and in a pool of 2', () => {
    for (const workers of [0, 2]) {
      it(`--inference-workers ${workers}: the probes' PyTorch latents, single and batched, under concurrency`, async () => {
        const dir = await makeModelDir(models.good);
        dirs.push(dir);
        const rt = await serve(dir, workers);
        assert.equal((await get(`${rt.url}/healthz`)).status, 200);
        const probes = goodMeta.probes;
        const results = await Promise.all(Array.from({ length: 24 }, (_, i) => post(`${rt.url}/infer`, JSON.stringify({ x: probes[i % probes.length].window }))));
        results.forEach((r, i) => {
          assert.equal(r.status, 200);
          const ref = probes[i % probes.length].reference;
          assert.ok((r.json.latent as number[]).every((v, j) => Math.abs(v - ref[j]) < 1e-4), `request ${i}`);
        });
        const batch = await post(`${rt.url}/infer`, JSON.stringify({ batch: probes.map((p) => p.window) }));
        assert.equal(batch.status, 200);
        (batch.json.latents as number[][]).forEach((l, i) => assert.ok(l.every((v, j) => Math.abs(v - probes[i].reference[j]) < 1e-4), `batch window ${i}`));
        const metrics = await (await fetch(`${rt.url}/metrics`)).text();
        // Every served window was one model run: the 24 singles and the batch's (the self-test runs
        // before the histogram is attached).
        const runs = Number(/^edgeship_inference_duration_seconds_count (\d+)$/m.exec(metrics)?.[1]);
        assert.equal(runs, 24 + probes.length);
      });
    }

    it('a worker that stops unexpectedly is fatal: its pool fails what is pending and answers nothing after', async () => {
      const bytes = await readFile(models.good.path);
      const fatal: string[] = [];
      const { pool } = await InferencePool.start(bytes, { workers: 2, intraOpNumThreads: 1, inputName: goodMeta.input.name, outputName: goodMeta.output.name, latentSize: 64, onFatal: (r) => fatal.push(r) });
      try {
        const norm = createNormalizer(goodMeta.normalization);
        const input = () => parseInferPayload({ x: goodMeta.probes[0].window }, norm, 1).input;
        const reference = goodMeta.probes[0].reference;
        const [ok] = await pool.run(input(), 1);
        assert.ok(ok.every((v, j) => Math.abs(v - reference[j]) < 1e-4));
        const pending = Array.from({ length: 20 }, () => pool.run(input(), 1).then((l) => l[0], (err: unknown) => err));
        // Worker 1 ends on its own (as a crashed one would, minus the native abort a terminate()
        // inside a run causes): the pool did not ask for it, so it is fatal.
        pool.threads[1].postMessage({ type: 'release' });
        const outcomes = await Promise.all(pending);
        for (const o of outcomes) {
          // Each request got the model's answer or an InferenceError: never anything else.
          if (o instanceof Float32Array) assert.ok(o.every((v, j) => Math.abs(v - reference[j]) < 1e-4));
          else assert.ok(o instanceof InferenceError && o.kind === 'run_failed' && /inference worker exited/.test(o.message), String(o));
        }
        for (let i = 0; i < 100 && fatal.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
        assert.deepEqual(fatal, ['inference worker exited with code 0']);
        await assert.rejects(pool.run(input(), 1), (err: unknown) => err instanceof InferenceError && /exited/.test(err.message));
      } finally {
        await pool.release();
      }
    });
  });

  describe('stays up but unhealthy, never inventing outputs', () => {
    async function expectUnhealthy(dir: string, reason: RegExp): Promise<void> {
      dirs.push(dir);
      const rt = await serve(dir);
      const h = await get(`${rt.url}/healthz`);
      assert.equal(h.status, 503);
      assert.equal(h.json.ok, false);
      assert.match(String(h.json.reason), reason);
      const inf = await post(`${rt.url}/infer`, JSON.stringify({ x: goodMeta.probes[0].window }));
      assert.equal(inf.status, 503);
      assert.equal(inf.json.latent, undefined);
      assert.match(await (await fetch(`${rt.url}/metrics`)).text(), /^edgeship_ready 0$/m);
    }

    it('when nothing is installed (no current link)', async () => {
      await expectUnhealthy(await mkdtemp(path.join(tmpdir(), 'edgeship-device-')), /no model installed: .*current does not exist/);
    });

    it('when the model file cannot be loaded', async () => {
      await expectUnhealthy(await customModelDir(Buffer.from('this is not an onnx model'), goodMeta), /onnxruntime cannot load/);
    });

    it('when the metadata sidecar is missing', async () => {
      await expectUnhealthy(await makeModelDir(models.good, { metadata: false }), /cannot read model metadata .*\.meta\.json: ENOENT/);
    });

    it('when the metadata is invalid', async () => {
      await expectUnhealthy(await makeModelDir(models.good, { metadata: JSON.stringify({ ...goodMeta, normalization: { mean: [0], std: [1] } }) }), /not valid model metadata: normalization/);
    });

    it('when the metadata describes another file', async () => {
      const bytes = await readFile(models.good.path);
      await expectUnhealthy(await customModelDir(bytes, { ...goodMeta, sha256: 'a'.repeat(64) }, { keepMetaSha: true }), /describes sha256 a{64}, but the served file has/);
    });

    it('when the self-test inference gives non-finite outputs', async () => {
      await expectUnhealthy(await makeModelDir(models.nan), /self-test inference failed: .*non-finite/);
    });
  });

  it('runs as a CLI: announces the URL, serves, and exits 0 on SIGTERM', async () => {
    const dir = await makeModelDir(models.good);
    dirs.push(dir);
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'edge', 'cli.ts'), '--model-dir', dir, '--port', '0', '--device', 'cli-dev'], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /^edgeship-runtime listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(out);
          if (m) resolve(m[1]);
        });
        child.on('exit', (code) => reject(new Error(`runtime exited early (${code}): ${out}`)));
      });
      let health = await get(`${url}/healthz`);
      for (let i = 0; i < 100 && health.status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 50));
        health = await get(`${url}/healthz`);
      }
      assert.equal(health.status, 200);
      assert.equal(health.json.device, 'cli-dev');
      assert.equal(health.json.hef_sha256, models.good.sha256.slice(0, 16));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
