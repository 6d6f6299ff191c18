// Runs z-scored windows through one reused onnxruntime session and checks what comes out. The
// checks live here, on the hot path, because a runtime must never return a non-finite latent.
import * as ort from 'onnxruntime-node';
import { WINDOW_CHANNELS, WINDOW_STEPS, WINDOW_VALUES } from './requestParsing';

export type InferenceErrorKind = 'run_failed' | 'bad_output_shape' | 'non_finite_output';

export class InferenceError extends Error {
  constructor(readonly kind: InferenceErrorKind, message: string) {
    super(message);
    this.name = 'InferenceError';
  }
}

/** What the server runs windows through: an Encoder on this thread or a pool of worker threads. */
export interface InferenceEngine {
  /** `input` holds `count` windows of 100×9; resolves to one checked latent per window. */
  run(input: Float32Array, count: number): Promise<Float32Array[]>;
  /** Called with the model run time (seconds) of every successful run; the runtime's histogram. */
  onRunSeconds?: (seconds: number) => void;
  release(): Promise<void>;
}

/** The parts of a session the loader checks against the metadata (a worker reports them too). */
export interface SessionSignature {
  inputNames: readonly string[];
  outputNames: readonly string[];
  inputMetadata: readonly ort.InferenceSession.ValueMetadata[];
}

export class Encoder implements InferenceEngine {
  private readonly dynamicBatch: boolean;
  onRunSeconds?: (seconds: number) => void;

  constructor(
    private readonly session: ort.InferenceSession,
    readonly inputName: string,
    readonly outputName: string,
    readonly latentSize: number,
  ) {
    const meta = session.inputMetadata.find((m) => m.name === inputName);
    const dim0 = meta && meta.isTensor ? meta.shape[0] : 1;
    // Exports for NPUs are batch-1 static; only a symbolic batch axis lets us send a batch at once.
    this.dynamicBatch = typeof dim0 === 'string' || dim0 === -1;
  }

  private tail: Promise<unknown> = Promise.resolve();

  async run(input: Float32Array, count: number): Promise<Float32Array[]> {
    const { latents, runSeconds } = await this.runTimed(input, count);
    if (this.onRunSeconds) for (const s of runSeconds) this.onRunSeconds(s);
    return latents;
  }

  /**
   * Like run(), also returning the time of each model run. Runs are serialized: concurrent callers
   * would otherwise each start their clock before queueing behind the others' synchronous runs.
   */
  runTimed(input: Float32Array, count: number): Promise<{ latents: Float32Array[]; runSeconds: number[] }> {
    const next = this.tail.then(() => this.runNow(input, count));
    this.tail = next.catch(() => undefined);
    return next;
  }

  private async runNow(input: Float32Array, count: number): Promise<{ latents: Float32Array[]; runSeconds: number[] }> {
    if (input.length !== count * WINDOW_VALUES) throw new RangeError(`expected ${count} windows of ${WINDOW_VALUES} values`);
    if (this.dynamicBatch || count === 1) return this.runOnce(input, count);
    const latents: Float32Array[] = [];
    const runSeconds: number[] = [];
    for (let i = 0; i < count; i++) {
      // A view, not a copy: the binding honours the view's byte offset (checked in the batch test).
      const one = await this.runOnce(input.subarray(i * WINDOW_VALUES, (i + 1) * WINDOW_VALUES), 1);
      latents.push(one.latents[0]);
      runSeconds.push(...one.runSeconds);
    }
    return { latents, runSeconds };
  }

  private async runOnce(input: Float32Array, count: number): Promise<{ latents: Float32Array[]; runSeconds: number[] }> {
    const tensor = new ort.Tensor('float32', input, [count, WINDOW_STEPS, WINDOW_CHANNELS]);
    let result: ort.InferenceSession.ReturnType;
    const t0 = performance.now();
    try {
      // onnxruntime-node 1.30's async run() is the synchronous native call inside a setImmediate:
      // it occupies this thread for the whole inference (why the server uses a worker pool).
      result = await this.session.run({ [this.inputName]: tensor }, [this.outputName]);
    } catch (err) {
      throw new InferenceError('run_failed', `model run failed: ${(err as Error).message}`);
    }
    const runSeconds = (performance.now() - t0) / 1000;
    const output = result[this.outputName];
    if (!output || output.type !== 'float32' || output.size !== count * this.latentSize) {
      throw new InferenceError('bad_output_shape', `model output ${this.outputName} has shape [${output?.dims.join(',') ?? ''}] (${output?.type}); expected ${count}×${this.latentSize} float32`);
    }
    const data = output.data as Float32Array;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) throw new InferenceError('non_finite_output', `model produced a non-finite value at index ${i}`);
    }
    const latents: Float32Array[] = [];
    for (let i = 0; i < count; i++) latents.push(data.subarray(i * this.latentSize, (i + 1) * this.latentSize));
    return { latents, runSeconds: [runSeconds] };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
