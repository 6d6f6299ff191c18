// Inference off the HTTP thread. onnxruntime-node 1.30 runs a model synchronously on the thread
// that calls session.run() (its async run() is the native call inside a setImmediate), so on the
// event loop every inference stalls request parsing and responses. Here each of N worker threads
// owns a session built from the same verified bytes; the HTTP thread parses the next request
// while a worker runs the previous one. Inputs and outputs are transferred, not copied.
//
// A worker that dies (crash, out of memory) fails its pending requests with an InferenceError and
// calls onFatal, which turns the runtime unhealthy: nothing is ever answered without a model run.
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { InferenceError, type InferenceEngine, type InferenceErrorKind, type SessionSignature } from './encoder';
import { WINDOW_VALUES } from './requestParsing';

export interface WorkerInit {
  model: Uint8Array;
  intraOpNumThreads: number;
  inputName: string;
  outputName: string;
  latentSize: number;
}

export type ToWorker = { type: 'run'; id: number; input: Float32Array; count: number } | { type: 'release' };

export type FromWorker =
  | { type: 'loaded'; signature: SessionSignature }
  | { type: 'load-failed'; message: string }
  | { type: 'result'; id: number; latents: Float32Array; runSeconds: number[] }
  | { type: 'failed'; id: number; kind: InferenceErrorKind; message: string };

export interface PoolOptions {
  workers: number;
  intraOpNumThreads: number;
  inputName: string;
  outputName: string;
  latentSize: number;
  /** A worker stopped outside release(): the runtime must stop serving. */
  onFatal: (reason: string) => void;
}

export class ModelSessionError extends Error {}

interface Pending {
  resolve: (latents: Float32Array[]) => void;
  reject: (err: Error) => void;
  count: number;
}

/** The part of esbuild's API used here (esbuild comes with tsx, which runs the TypeScript sources). */
interface Esbuild {
  build(opts: Record<string, unknown>): Promise<{ outputFiles?: Array<{ text: string }> }>;
}
interface EsbuildPluginBuild {
  onResolve(opts: { filter: RegExp }, cb: () => { path: string; external: boolean }): void;
}

let bundled: Promise<string> | undefined;

/**
 * The script a worker evaluates. Compiled JavaScript loads its entry directly. Under tsx (dev,
 * tests, the devices' `node --import tsx`), the worker entry is bundled once to plain JavaScript
 * with tsx's own esbuild, so a worker does not load tsx itself: that measured about 7 MiB of RSS
 * per worker (42 vs 49 MiB for a worker with its session). If bundling is impossible, the worker
 * registers tsx's CommonJS hook instead. Either way it does not inherit the parent's ESM loader
 * thread (execArgv []).
 */
function workerSource(): Promise<string> {
  const ext = path.extname(__filename);
  const entry = path.join(__dirname, `inferenceWorker${ext}`);
  if (ext !== '.ts') return Promise.resolve(`require(${JSON.stringify(entry)});`);
  bundled ??= bundleEntry(entry).catch(() => `require(${JSON.stringify(require.resolve('tsx/cjs'))});require(${JSON.stringify(entry)});`);
  return bundled;
}

async function bundleEntry(entry: string): Promise<string> {
  // Resolved from tsx's location: esbuild is tsx's dependency, not one of ours.
  const esbuild = createRequire(require.resolve('tsx/package.json'))('esbuild') as Esbuild;
  // The native binding stays external, by absolute path: eval'd code resolves from the cwd.
  const ort = require.resolve('onnxruntime-node');
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    logLevel: 'silent',
    plugins: [{ name: 'onnxruntime-node-absolute', setup: (b: EsbuildPluginBuild) => b.onResolve({ filter: /^onnxruntime-node$/ }, () => ({ path: ort, external: true })) }],
  });
  const text = result.outputFiles?.[0]?.text;
  if (!text) throw new Error('esbuild produced no output for the inference worker');
  return text;
}

class PoolWorker {
  readonly pending = new Map<number, Pending>();
  constructor(readonly thread: Worker) {}
}

export class InferencePool implements InferenceEngine {
  onRunSeconds?: (seconds: number) => void;
  private nextId = 1;
  private stopped: string | undefined;
  private releasing = false;

  private constructor(private readonly workers: PoolWorker[], private readonly latentSize: number, private readonly onFatal: (reason: string) => void) {
    for (const w of workers) {
      w.thread.on('message', (msg: FromWorker) => this.onMessage(w, msg));
      w.thread.on('error', (err) => this.fail(`inference worker failed: ${err.message}`));
      w.thread.on('exit', (code) => this.fail(`inference worker exited with code ${code}`));
    }
  }

  /** Starts the workers and resolves once every one has loaded the model (or rejects with why not). */
  static async start(model: Uint8Array, opts: PoolOptions): Promise<{ pool: InferencePool; signature: SessionSignature }> {
    if (!(opts.workers >= 1)) throw new RangeError('an inference pool needs at least one worker');
    const source = await workerSource();
    const threads = Array.from({ length: opts.workers }, (_, i) => {
      // The last worker takes the loader's bytes (transferred); the others get their own copy.
      // (new Uint8Array(x) copies; Buffer#slice would be a view sharing the buffer being transferred.)
      const bytes = i === opts.workers - 1 ? model : new Uint8Array(model);
      const transfer = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? [bytes.buffer as ArrayBuffer] : [];
      const init: WorkerInit = { model: bytes, intraOpNumThreads: opts.intraOpNumThreads, inputName: opts.inputName, outputName: opts.outputName, latentSize: opts.latentSize };
      return new Worker(source, {
        eval: true,
        workerData: init,
        transferList: transfer,
        // [] keeps the parent's --import hooks (and a loader thread of their own) out of the worker.
        execArgv: [],
        stdout: false,
        stderr: false,
        // The worker allocates only small per-run objects; a 1 MiB young generation (V8's default
        // grows to 16+ MiB under load) kept the runtime's peak RSS about 5 MiB lower in bench:edge.
        resourceLimits: { maxYoungGenerationSizeMb: 1 },
      });
    });
    const loaded = threads.map(
      (t) =>
        new Promise<SessionSignature>((resolve, reject) => {
          const onMessage = (msg: FromWorker): void => {
            t.off('message', onMessage);
            if (msg.type === 'loaded') resolve(msg.signature);
            else if (msg.type === 'load-failed') reject(new ModelSessionError(msg.message));
            else reject(new ModelSessionError(`inference worker sent ${msg.type} before loading`));
          };
          t.on('message', onMessage);
          t.once('error', (err) => reject(new ModelSessionError(`inference worker failed while loading: ${err.message}`)));
          t.once('exit', (code) => reject(new ModelSessionError(`inference worker exited (${code}) while loading`)));
        }),
    );
    // Every worker settles first: terminate() on a thread still inside the native session
    // creation would abort the process. Those that loaded are asked to release and awaited.
    const settled = await Promise.allSettled(loaded);
    const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) {
      await Promise.all(
        threads.map((t, i) => {
          if (settled[i].status !== 'fulfilled' || t.threadId < 0) return Promise.resolve();
          const exited = new Promise<void>((resolve) => t.once('exit', () => resolve()));
          t.postMessage({ type: 'release' } satisfies ToWorker);
          return exited;
        }),
      );
      throw failure.reason;
    }
    const signatures = settled.map((r) => (r as PromiseFulfilledResult<SessionSignature>).value);
    const pool = new InferencePool(threads.map((t) => new PoolWorker(t)), opts.latentSize, opts.onFatal);
    return { pool, signature: signatures[0] };
  }

  /** The worker threads (diagnostics, and the test that kills one). */
  get threads(): readonly Worker[] {
    return this.workers.map((w) => w.thread);
  }

  run(input: Float32Array, count: number): Promise<Float32Array[]> {
    if (this.stopped) return Promise.reject(new InferenceError('run_failed', this.stopped));
    if (input.length !== count * WINDOW_VALUES) return Promise.reject(new RangeError(`expected ${count} windows of ${WINDOW_VALUES} values`));
    // The least busy worker; with one worker this is simply its queue.
    let target = this.workers[0];
    for (const w of this.workers) if (w.pending.size < target.pending.size) target = w;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      target.pending.set(id, { resolve, reject, count });
      // A private copy is transferred when the caller's array shares its buffer with anything else.
      const own = input.byteOffset === 0 && input.byteLength === input.buffer.byteLength ? input : input.slice();
      const msg: ToWorker = { type: 'run', id, input: own, count };
      target.thread.postMessage(msg, [own.buffer as ArrayBuffer]);
    });
  }

  private onMessage(w: PoolWorker, msg: FromWorker): void {
    if (msg.type !== 'result' && msg.type !== 'failed') return;
    const p = w.pending.get(msg.id);
    if (!p) return;
    w.pending.delete(msg.id);
    if (msg.type === 'failed') {
      p.reject(new InferenceError(msg.kind, msg.message));
      return;
    }
    if (msg.latents.length !== p.count * this.latentSize) {
      p.reject(new InferenceError('bad_output_shape', `inference worker returned ${msg.latents.length} values for ${p.count} windows`));
      return;
    }
    if (this.onRunSeconds) for (const s of msg.runSeconds) this.onRunSeconds(s);
    p.resolve(Array.from({ length: p.count }, (_, i) => msg.latents.subarray(i * this.latentSize, (i + 1) * this.latentSize)));
  }

  private fail(reason: string): void {
    if (this.releasing || this.stopped) return;
    this.stopped = reason;
    for (const w of this.workers) {
      for (const p of w.pending.values()) p.reject(new InferenceError('run_failed', reason));
      w.pending.clear();
    }
    // The other workers may still run, but a runtime missing part of its pool is not the one that
    // passed its self-test: stop them and report unhealthy rather than serve degraded silently.
    // Asked to release, not terminate()d: terminating a thread inside a native run aborts the process.
    for (const w of this.workers) if (w.thread.threadId >= 0) w.thread.postMessage({ type: 'release' } satisfies ToWorker);
    this.onFatal(reason);
  }

  async release(): Promise<void> {
    if (this.releasing) return;
    this.releasing = true;
    await Promise.all(
      this.workers.map(async (w) => {
        if (w.thread.threadId < 0) return; // already gone (terminated after a failure)
        const exited = new Promise<void>((resolve) => w.thread.once('exit', () => resolve()));
        w.thread.postMessage({ type: 'release' } satisfies ToWorker);
        const timer = setTimeout(() => void w.thread.terminate(), 5000);
        await exited;
        clearTimeout(timer);
        for (const p of w.pending.values()) p.reject(new InferenceError('run_failed', 'runtime shutting down'));
        w.pending.clear();
      }),
    );
  }
}
