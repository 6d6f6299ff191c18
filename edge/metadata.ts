// Reads and validates the ModelMetadata sidecar (`<model file>.meta.json`). The runtime takes its
// normalization from here and validateDeployment its probes, so a malformed file must be
// rejected with a precise reason rather than half-used.
import { readFile } from 'node:fs/promises';
import { COMPILE_TARGETS, type ModelMetadata } from '../common/contracts';
import { SHA256_PATTERN } from '../common/ids';
import { array, finiteNumber, literal, number, object, oneOf, optional, parse, pathText, record, string, boolean } from './shape';

const finite = finiteNumber();
const nineFinite = array(finite, { length: 9 });
const window = array(array(finite, { length: 9 }), { length: 100 });
const int = number({ int: true });

export const ModelMetadataSchema = object({
  schema: literal('edgeship.model/1'),
  modelName: string({ min: 1 }),
  format: oneOf(['onnx', 'hef']),
  target: oneOf(COMPILE_TARGETS),
  sha256: string({ pattern: SHA256_PATTERN, patternMessage: '64 lowercase hex characters' }),
  sizeBytes: number({ int: true, min: 0 }),
  input: object({ name: string({ min: 1 }), shape: array(int) }),
  output: object({ name: string({ min: 1 }), shape: array(int) }),
  normalization: object({
    mean: nineFinite,
    std: array(finiteNumber([[(v) => v > 0, 'std must be > 0']]), { length: 9 }),
  }),
  opset: optional(int),
  conv2d: optional(boolean()),
  sourceCheckpointSha256: optional(string()),
  exportedFromOnnxSha256: optional(string()),
  versions: record(string()),
  probes: array(object({ name: string({ min: 1 }), window, reference: array(finite, { min: 1 }) })),
});

export class MetadataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetadataError';
  }
}

export function parseModelMetadata(raw: unknown, source: string): ModelMetadata {
  const parsed = parse(ModelMetadataSchema, raw);
  if (!parsed.ok) {
    const issues = parsed.issues.slice(0, 5).map((i) => `${pathText(i.path) || '(root)'}: ${i.message}`).join('; ');
    throw new MetadataError(`${source} is not valid model metadata: ${issues}`);
  }
  return parsed.value;
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
