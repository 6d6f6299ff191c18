// The ModelMetadata sidecar beside every model in the store, and the reference file an export
// (ours or a user's command) writes: {normalization, probes:[{name, window, reference}]}.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { MODEL_INPUT, MODEL_OUTPUT, type ArtifactRef, type CompileTarget, type ModelMetadata, type Normalization, type BindingSet, type ProbeReference, type QuantizationFigures } from '../../common/contracts';
import { ErrorType, type ErrorTypeName } from '../../common/errors';
import { parseModelMetadata } from '../../edge/metadata';
import { writeFileAtomic } from './artifactStore';
import { failure } from './failures';

const finite = z.number().refine(Number.isFinite, 'must be a finite number');

/** Fewer probes than this prove too little about an export (zeros, still, walking, running, …). */
export const MIN_REFERENCE_PROBES = 4;

export const ReferenceFileSchema = z.object({
  normalization: z.object({
    mean: z.array(finite).length(9),
    std: z.array(finite.refine((v) => v > 0, 'std must be > 0')).length(9),
  }),
  probes: z.array(z.object({
    name: z.string().min(1),
    window: z.array(z.array(finite).length(MODEL_INPUT.shape[2])).length(MODEL_INPUT.shape[1]),
    reference: z.array(finite).length(MODEL_OUTPUT.shape[1]),
  })).min(MIN_REFERENCE_PROBES, `at least ${MIN_REFERENCE_PROBES} probes`),
});

/**
 * JSON has no NaN or Infinity, but Python's json.dump writes them as bare tokens; JSON.parse
 * then fails with an unhelpful position. Name the token and where it is instead.
 */
export function findNonFiniteToken(text: string): { token: string; line: number; column: number } | undefined {
  // Outside string literals only (a probe may be named "NaN-test").
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      continue;
    }
    const m = /^-?(NaN|Infinity)/.exec(text.slice(i, i + 9));
    if (m) {
      const before = text.slice(0, i);
      return { token: m[0], line: before.split('\n').length, column: i - before.lastIndexOf('\n') };
    }
  }
  return undefined;
}

export type ReferenceFile = { normalization: Normalization; probes: ProbeReference[] };

/** Reads and validates reference.json; `errorType` names whose fault a bad file is. */
export async function readReferenceFile(file: string, errorType: ErrorTypeName): Promise<ReferenceFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw failure(errorType, `reference file ${file} is missing: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    const bad = findNonFiniteToken(text);
    if (bad) {
      throw failure(ErrorType.ModelOutputNotFinite, `reference file ${file} holds a ${bad.token} value (line ${bad.line}, column ${bad.column}): ` +
        'the reference embeddings (or windows) are not finite numbers; fix the model or the export before deploying it');
    }
    throw failure(errorType, `reference file ${file} is not JSON: ${(err as Error).message}`);
  }
  const parsed = ReferenceFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw failure(errorType, `reference file ${file} is not {normalization, probes:[{name, window [100][9], reference [64]}]}: ${issues}`);
  }
  return parsed.data;
}

export function metadataPathFor(model: ArtifactRef): string {
  return `${model.path}.meta.json`;
}

export interface MetadataFields {
  modelName: string;
  format: 'onnx' | 'hef';
  target: CompileTarget;
  artifact: ArtifactRef;
  reference: ReferenceFile;
  versions: Record<string, string>;
  opset?: number;
  conv2d?: boolean;
  sourceCheckpointSha256?: string;
  exportedFromOnnxSha256?: string;
  quantization?: QuantizationFigures;
  binding?: BindingSet;
}

export function buildMetadata(f: MetadataFields): ModelMetadata {
  return {
    schema: 'edgeship.model/1',
    modelName: f.modelName,
    format: f.format,
    target: f.target,
    sha256: f.artifact.sha256,
    sizeBytes: f.artifact.sizeBytes,
    input: { name: MODEL_INPUT.name, shape: [...MODEL_INPUT.shape] },
    output: { name: MODEL_OUTPUT.name, shape: [...MODEL_OUTPUT.shape] },
    normalization: f.reference.normalization,
    opset: f.opset,
    conv2d: f.conv2d,
    sourceCheckpointSha256: f.sourceCheckpointSha256,
    exportedFromOnnxSha256: f.exportedFromOnnxSha256,
    versions: f.versions,
    probes: f.reference.probes,
    ...(f.quantization ? { quantization: f.quantization } : {}),
    ...(f.binding ? { binding: f.binding } : {}),
  };
}

export async function writeMetadata(model: ArtifactRef, meta: ModelMetadata): Promise<string> {
  const file = metadataPathFor(model);
  await writeFileAtomic(file, JSON.stringify(meta, null, 2));
  return file;
}

/** Reads a sidecar given to an activity; a bad one is the caller's input error. */
export async function readMetadata(file: string): Promise<ModelMetadata> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw failure(ErrorType.InvalidRequest, `model metadata ${file} is missing or not JSON: ${(err as Error).message}`);
  }
  try {
    return parseModelMetadata(raw, file);
  } catch (err) {
    throw failure(ErrorType.InvalidRequest, (err as Error).message);
  }
}
