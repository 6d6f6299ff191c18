// compileModel: the exported FP32 ONNX -> the artifact a target runs. The checks every target
// shares live here (input schema, known target, metadata and store copies); what each target does
// is its own file under targets/ (cpu-fp32: the export itself, re-checked; cpu-int8: onnxruntime
// static quantization gated on INT8-vs-FP32 cosine; hailo8/hailo8l: the Hailo DFC), found in the
// registry keyed by target.
import { performance } from 'node:perf_hooks';
import { COMPILE_TARGETS, type CompileInput, type CompileResult, type ModelMetadata } from '../../common/contracts';
import { ErrorType } from '../../common/errors';
import { ArtifactStore } from './artifactStore';
import { failure } from './failures';
import { readMetadata } from './modelMetadata';
import type { ReleaseSigner } from './releaseKey';
import { parseCompileInput } from './requests';
import { signRelease } from './signRelease';
import { compilerFor } from './targets/registry';

// Kept importable from here: tests and benchmarks name them through this module.
export { BINDING_WINDOWS, fp32Binding } from './targets/binding';
export { DEFAULT_INT8_GATE, DEFAULT_QUANTIZATION } from './targets/cpuInt8';

async function verifyInputs(input: CompileInput, meta: ModelMetadata, store: ArtifactStore): Promise<void> {
  if (meta.sha256 !== input.onnx.sha256) {
    throw failure(ErrorType.InvalidRequest, `metadata ${input.metadataPath} describes ${meta.sha256.slice(0, 12)}, not the ONNX ${input.onnx.sha256.slice(0, 12)}`);
  }
  if (meta.format !== 'onnx' || meta.target !== 'cpu-fp32') {
    throw failure(ErrorType.InvalidRequest, `compile from the exported FP32 ONNX; ${input.metadataPath} describes a ${meta.target} ${meta.format}`);
  }
  for (const ref of [input.onnx, input.calibrationSet]) {
    if (!(await store.holds(ref))) {
      throw failure(ErrorType.ArtifactShaMismatch, `${ref.path} is missing or no longer has sha256 ${ref.sha256.slice(0, 12)} / ${ref.sizeBytes} bytes`, undefined, { nonRetryable: true });
    }
  }
}

/**
 * Compiles, then signs the artifact's release manifest when the GPU worker has a release key
 * (signRelease.ts); reused compiles reuse their manifest and sequence too.
 */
export async function compileModel(rawInput: CompileInput, store = new ArtifactStore(), signer?: ReleaseSigner): Promise<CompileResult> {
  const result = await compileArtifact(rawInput, store);
  const { modelName } = parseCompileInput(rawInput);
  const release = await signRelease(store.root, signer, { modelName, target: result.target, artifact: result.artifact, metadataPath: result.metadataPath });
  return { ...result, release };
}

async function compileArtifact(rawInput: CompileInput, store: ArtifactStore): Promise<CompileResult> {
  const started = performance.now();
  const input = parseCompileInput(rawInput);
  const found = compilerFor(input.target);
  if (!found) {
    throw failure(ErrorType.UnknownTarget, `unknown compile target ${JSON.stringify(input.target)}; known: ${COMPILE_TARGETS.join(', ')}`);
  }
  const meta = await readMetadata(input.metadataPath);
  await verifyInputs(input, meta, store);
  return found.compiler.compile({ input, target: found.target, meta, store, started });
}
