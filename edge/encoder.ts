// Runs z-scored windows through one reused onnxruntime session and checks what comes out. The
// checks live here, on the hot path, because a runtime must never return a non-finite latent.
import * as ort from 'onnxruntime-node';
import { WINDOW_CHANNELS, WINDOW_STEPS, WINDOW_VALUES } from './requestParsing';

export class InferenceError extends Error {
  constructor(readonly kind: 'run_failed' | 'bad_output_shape' | 'non_finite_output', message: string) {
    super(message);
    this.name = 'InferenceError';
  }
}

export class Encoder {
  private readonly dynamicBatch: boolean;

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

  /** `input` holds `count` windows of 100×9; returns one latent per window. */
  async run(input: Float32Array, count: number): Promise<Float32Array[]> {
    if (input.length !== count * WINDOW_VALUES) throw new RangeError(`expected ${count} windows of ${WINDOW_VALUES} values`);
    if (this.dynamicBatch || count === 1) return this.runOnce(input, count);
    const out: Float32Array[] = [];
    for (let i = 0; i < count; i++) {
      // A view, not a copy: the binding honours the view's byte offset (checked in the batch test).
      const [latent] = await this.runOnce(input.subarray(i * WINDOW_VALUES, (i + 1) * WINDOW_VALUES), 1);
      out.push(latent);
    }
    return out;
  }

  private async runOnce(input: Float32Array, count: number): Promise<Float32Array[]> {
    const tensor = new ort.Tensor('float32', input, [count, WINDOW_STEPS, WINDOW_CHANNELS]);
    let result: ort.InferenceSession.ReturnType;
    try {
      result = await this.session.run({ [this.inputName]: tensor }, [this.outputName]);
    } catch (err) {
      throw new InferenceError('run_failed', `model run failed: ${(err as Error).message}`);
    }
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
    return latents;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
