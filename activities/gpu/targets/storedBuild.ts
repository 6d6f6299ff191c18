// The part every target that builds a new file shares: the job key in the artifact store (so a
// retry or re-run reuses a finished compile), a scratch folder, heartbeats while the tool runs,
// committing the file with its metadata, and the CompileResult.
import { statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { ArtifactRef, CompileResult } from '../../../common/contracts';
import { withHeartbeat } from '../activityContext';
import { jobKey, sha256File } from '../artifactStore';
import { buildMetadata, writeMetadata } from '../modelMetadata';
import type { BuiltArtifact, CompileContext } from './targetCompiler';

/** 2: S8S8 default, quantization options and mixed precision; records from /1 are not reused. */
export const COMPILER_VERSION = 'edgeship-compile/2';

async function refOf(file: string): Promise<ArtifactRef> {
  return { path: file, sha256: await sha256File(file), sizeBytes: statSync(file).size };
}

export interface StoredBuildOptions {
  /** Settings that change the artifact: part of the store key. */
  keyOptions: Record<string, unknown>;
  /** Applied to a stored result before it is reused (e.g. the INT8 gate of this request). */
  onReuse?: (done: CompileResult) => CompileResult;
  build: (work: string, progress: (line: string) => void) => Promise<BuiltArtifact>;
}

export async function storedBuild(ctx: CompileContext, opts: StoredBuildOptions): Promise<CompileResult> {
  const { input, target, meta, store, started } = ctx;
  const key = jobKey('compile', { onnx: input.onnx.sha256, calibration: input.calibrationSet.sha256 }, { target, modelName: input.modelName, tool: COMPILER_VERSION, ...opts.keyOptions });
  const done = await store.lookupJob<CompileResult>(key);
  if (done) {
    const checked = opts.onReuse ? opts.onReuse(done) : done;
    return { ...checked, reused: true, durationMs: performance.now() - started };
  }

  const work = await store.workDir(`compile-${target}`);
  try {
    return await withHeartbeat(`compile ${target}`, async (progress) => {
      const out = await opts.build(work, progress);
      const artifact = await store.commitFile(out.file, out.filename);
      const metadataPath = await writeMetadata(artifact, buildMetadata({
        modelName: input.modelName,
        format: out.format,
        target,
        artifact,
        reference: { normalization: meta.normalization, probes: meta.probes },
        versions: { ...meta.versions, compiler: COMPILER_VERSION, ...out.versions },
        opset: meta.opset,
        conv2d: meta.conv2d,
        sourceCheckpointSha256: meta.sourceCheckpointSha256,
        exportedFromOnnxSha256: input.onnx.sha256,
        quantization: out.quantization,
        binding: out.binding,
      }));
      const result: CompileResult = {
        target,
        artifact,
        metadataPath,
        format: out.format,
        similarity: out.similarity,
        sizes: { fp32Bytes: input.onnx.sizeBytes, artifactBytes: artifact.sizeBytes },
        latencyMs: out.latencyMs,
        preflight: out.preflight,
        quantization: out.quantization,
        warnings: out.warnings ?? [],
        durationMs: performance.now() - started,
        reused: false,
      };
      await store.recordJob(key, 'compile', [artifact, await refOf(metadataPath)], result);
      return result;
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
