// The one interface every compile target implements (cpu-fp32, cpu-int8, hailo8/hailo8l), and
// what compileModel hands it. A new target is a file implementing TargetCompiler plus its line in
// registry.ts; compileModel itself does not change.
import type { BindingSet, CompileInput, CompileResult, CompileTarget, ModelMetadata, QuantizationFigures } from '../../../common/contracts';
import type { ArtifactStore } from '../artifactStore';

/** A checked compile request: inputs verified against the store, metadata of the FP32 export read. */
export interface CompileContext {
  input: CompileInput;
  /** The target named by the input (the registry key that selected this compiler). */
  target: CompileTarget;
  meta: ModelMetadata;
  store: ArtifactStore;
  /** performance.now() when the activity started: every result reports its whole duration. */
  started: number;
}

export interface TargetCompiler {
  /** The compile result for the context's target; idempotent (a re-run reuses the stored result). */
  compile(ctx: CompileContext): Promise<CompileResult>;
}

export type Similarity = NonNullable<CompileResult['similarity']>;

/** What a target that builds a new file hands back; storedBuild.ts stores it and its metadata. */
export interface BuiltArtifact {
  file: string;
  filename: string;
  format: 'onnx' | 'hef';
  versions: Record<string, string>;
  similarity?: Similarity;
  latencyMs?: { fp32: number; artifact: number };
  preflight?: { ops: Record<string, number>; warnings: string[] };
  quantization?: QuantizationFigures;
  warnings?: string[];
  binding?: BindingSet;
}
