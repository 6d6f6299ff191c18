// Loads the model behind `<modelDir>/current` and proves it works before the runtime reports
// healthy: the served file is hashed by us (names are never trusted), the sidecar metadata must
// describe exactly that file, and a self-test inference must give finite latents of the right size.
// On a device with trusted release keys the file must also carry a manifest signed by one of them
// that names these very bytes and metadata (edge/trust.ts); with requireSignatures an unsigned
// file, e.g. one copied into releases/ by hand, is not served.
import { createHash } from 'node:crypto';
import { lstat, readFile, realpath } from 'node:fs/promises';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { ModelMetadata } from '../common/contracts';
import { Encoder, type InferenceEngine, type SessionSignature } from './encoder';
import { readModelMetadata } from './metadata';
import { manifestPathOf } from './releaseManifest';
import { createNormalizer, parseInferPayload, WINDOW_CHANNELS, WINDOW_STEPS, type Normalizer } from './requestParsing';
import { runtimeSessionOptions } from './session';
import { ReleaseRefused, trustActive, verifyRelease, type DeviceTrust } from './trust';
import { InferencePool } from './workerPool';

export class ModelLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelLoadError';
  }
}

export interface LoadedModel {
  file: string; // the resolved file behind `current`
  stem: string; // file name without extension: what /healthz reports as `model`
  sha256: string;
  metadata: ModelMetadata;
  normalizer: Normalizer;
  encoder: InferenceEngine;
  selfTestMs: number;
  /** Worker threads running inference; 0 when it runs on the event loop. */
  inferenceWorkers: number;
  /** The verified release manifest (absent: the device checks no signatures, or the model is unsigned and none are required). */
  release?: { keyId: string; sequence: number };
}

export interface LoadOptions {
  intraOpNumThreads?: number;
  /** Inference worker threads (default 1); 0 runs the model on the calling thread. */
  inferenceWorkers?: number;
  /** An inference worker died after the load: the caller must stop serving (see workerPool.ts). */
  onFatal?: (reason: string) => void;
  /** The device's trusted release keys (loadDeviceTrust); absent: no signature check. */
  trust?: DeviceTrust;
}

async function resolveCurrent(modelDir: string): Promise<string> {
  const link = path.join(modelDir, 'current');
  try {
    await lstat(link);
  } catch {
    throw new ModelLoadError(`no model installed: ${link} does not exist`);
  }
  try {
    return await realpath(link);
  } catch (err) {
    throw new ModelLoadError(`${link} points at a missing file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

async function createSession(bytes: Uint8Array, file: string, opts: LoadOptions): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(bytes, runtimeSessionOptions(opts.intraOpNumThreads));
  } catch (err) {
    throw new ModelLoadError(`onnxruntime cannot load ${file}: ${(err as Error).message}`);
  }
}

function latentSizeOf(meta: ModelMetadata): number {
  const latentSize = product(meta.output.shape.slice(1));
  if (!(latentSize > 0)) throw new ModelLoadError(`metadata output shape [${meta.output.shape.join(',')}] has no latent size`);
  return latentSize;
}

/** The session on this thread (inferenceWorkers 0) or a worker pool, each from the same bytes. */
async function createEngine(bytes: Uint8Array, file: string, meta: ModelMetadata, opts: LoadOptions): Promise<{ engine: InferenceEngine; signature: SessionSignature }> {
  const latentSize = latentSizeOf(meta);
  const workers = opts.inferenceWorkers ?? 1;
  if (workers === 0) {
    const session = await createSession(bytes, file, opts);
    return { engine: new Encoder(session, meta.input.name, meta.output.name, latentSize), signature: session };
  }
  try {
    const { pool, signature } = await InferencePool.start(bytes, {
      workers,
      intraOpNumThreads: opts.intraOpNumThreads ?? 1,
      inputName: meta.input.name,
      outputName: meta.output.name,
      latentSize,
      onFatal: (reason) => opts.onFatal?.(reason),
    });
    return { engine: pool, signature };
  } catch (err) {
    throw new ModelLoadError(`onnxruntime cannot load ${file}: ${(err as Error).message}`);
  }
}

function checkSignature(session: SessionSignature, meta: ModelMetadata, file: string): void {
  if (!session.inputNames.includes(meta.input.name)) {
    throw new ModelLoadError(`${file} has inputs [${session.inputNames.join(', ')}], metadata expects ${meta.input.name}`);
  }
  if (!session.outputNames.includes(meta.output.name)) {
    throw new ModelLoadError(`${file} has outputs [${session.outputNames.join(', ')}], metadata expects ${meta.output.name}`);
  }
  const input = session.inputMetadata.find((m) => m.name === meta.input.name);
  if (input?.isTensor) {
    const [, steps, channels] = input.shape;
    if (input.shape.length !== 3 || steps !== WINDOW_STEPS || channels !== WINDOW_CHANNELS || input.type !== 'float32') {
      throw new ModelLoadError(`${file} input ${meta.input.name} is ${input.type}[${input.shape.join(',')}], expected float32[1,${WINDOW_STEPS},${WINDOW_CHANNELS}]`);
    }
  }
}

/** Windows for the self-test: the metadata's probes (real activity patterns) or the channel means. */
function selfTestWindows(meta: ModelMetadata): number[][][] {
  if (meta.probes.length > 0) return meta.probes.map((p) => p.window);
  return [Array.from({ length: WINDOW_STEPS }, () => [...meta.normalization.mean])];
}

async function selfTest(encoder: InferenceEngine, meta: ModelMetadata, normalizer: Normalizer): Promise<number> {
  const timings: number[] = [];
  for (const window of selfTestWindows(meta)) {
    const { input } = parseInferPayload({ x: window }, normalizer, 1);
    const t0 = performance.now();
    try {
      await encoder.run(input, 1);
    } catch (err) {
      throw new ModelLoadError(`self-test inference failed: ${(err as Error).message}`);
    }
    timings.push(performance.now() - t0);
  }
  timings.sort((a, b) => a - b);
  return timings[Math.floor((timings.length - 1) / 2)];
}

export async function loadModel(modelDir: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  const file = await resolveCurrent(modelDir);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new ModelLoadError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  // Hash the very bytes handed to onnxruntime, so the reported sha is the served model's.
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  let metadata: ModelMetadata;
  try {
    metadata = await readModelMetadata(`${file}.meta.json`);
  } catch (err) {
    throw new ModelLoadError((err as Error).message);
  }
  if (metadata.sha256 !== sha256) {
    throw new ModelLoadError(`metadata ${file}.meta.json describes sha256 ${metadata.sha256}, but the served file has ${sha256}`);
  }
  let release: LoadedModel['release'];
  if (trustActive(opts.trust)) {
    try {
      const v = await verifyRelease(opts.trust, { manifestFile: manifestPathOf(file), metadataFile: `${file}.meta.json`, model: { sha256 } });
      if (v.signed) release = { keyId: v.keyId, sequence: v.manifest.sequence };
    } catch (err) {
      if (err instanceof ReleaseRefused) throw new ModelLoadError(`${file} is not a verified release (${err.check}): ${err.message}`);
      throw err;
    }
  }
  if (metadata.format !== 'onnx') {
    throw new ModelLoadError(`${file} is a ${metadata.format} artifact; this runtime serves ONNX (a Hailo device keeps its HailoRT sidecar)`);
  }
  const { engine, signature } = await createEngine(bytes, file, metadata, opts);
  try {
    checkSignature(signature, metadata, file);
    const normalizer = createNormalizer(metadata.normalization);
    // Through the engine that will serve: with workers, this proves the worker path end to end.
    const selfTestMs = await selfTest(engine, metadata, normalizer);
    const stem = path.basename(file).replace(/\.[^.]+$/, '');
    return { file, stem, sha256, metadata, normalizer, encoder: engine, selfTestMs, inferenceWorkers: opts.inferenceWorkers ?? 1, ...(release ? { release } : {}) };
  } catch (err) {
    await engine.release();
    throw err;
  }
}
