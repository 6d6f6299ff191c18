// Reads and validates the ModelMetadata sidecar (`<model file>.meta.json`). The runtime takes its
// normalization from here and validateDeployment its probes, so a malformed file must be
// rejected with a precise reason rather than half-used.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { COMPILE_TARGETS, type ModelMetadata } from '../common/contracts';
import { SHA256_PATTERN } from '../common/ids';

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const nineFinite = z.array(finite).length(9);
const window = z.array(z.array(finite).length(9)).length(100);

export const ModelMetadataSchema = z.object({
  schema: z.literal('edgeship.model/1'),
  modelName: z.string().min(1),
  format: z.enum(['onnx', 'hef']),
  target: z.enum(COMPILE_TARGETS),
  sha256: z.string().regex(SHA256_PATTERN, '64 lowercase hex characters'),
  sizeBytes: z.number().int().nonnegative(),
  input: z.object({ name: z.string().min(1), shape: z.array(z.number().int()) }),
  output: z.object({ name: z.string().min(1), shape: z.array(z.number().int()) }),
  normalization: z.object({
    mean: nineFinite,
    std: z.array(finite.refine((v) => v > 0, 'std must be > 0')).length(9),
  }),
  opset: z.number().int().optional(),
  conv2d: z.boolean().optional(),
  sourceCheckpointSha256: z.string().optional(),
  exportedFromOnnxSha256: z.string().optional(),
  versions: z.record(z.string(), z.string()),
  probes: z.array(z.object({ name: z.string().min(1), window, reference: z.array(finite).min(1) })),
});

export class MetadataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetadataError';
  }
}

export function parseModelMetadata(raw: unknown, source: string): ModelMetadata {
  const parsed = ModelMetadataSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new MetadataError(`${source} is not valid model metadata: ${issues}`);
  }
  return parsed.data as ModelMetadata;
}

export async function readModelMetadata(file: string): Promise<ModelMetadata> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new MetadataError(`cannot read model metadata ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new MetadataError(`model metadata ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parseModelMetadata(raw, file);
}
