// Schemas of the GPU activities' inputs. Workflow payloads are JSON from outside the process, so
// they are validated before any file is touched; a bad request is non-retryable InvalidRequest.
import { z } from 'zod';
import { CALIBRATION_METHODS, QUANT_FORMATS, type CalibrationInput, type CompileInput, type ExportModelInput, type PreflightInput } from '../../common/contracts';
import { ErrorType } from '../../common/errors';
import { gateSchema, placeGatesSchema } from '../../common/gateSchemas';
import { MODEL_NAME_PATTERN, SHA256_PATTERN } from '../../common/ids';
import { failure } from './failures';

const modelName = z.string().regex(MODEL_NAME_PATTERN, 'model name: 1-63 lowercase letters, digits or dashes');
const artifactRef = z.object({ path: z.string().min(1), sha256: z.string().regex(SHA256_PATTERN), sizeBytes: z.number().int().nonnegative() });

export const ExportModelInputSchema = z.object({
  modelName,
  source: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('checkpoint'), checkpointPath: z.string().min(1) }),
    z.object({ kind: z.literal('command'), argv: z.array(z.string()).min(1), cwd: z.string().min(1).optional() }),
  ]),
  conv2d: z.boolean().optional(),
  opset: z.number().int().min(11).max(21).optional(),
  parityMinCosine: gateSchema('parityMinCosine').optional(),
  parityMaxRelativeError: gateSchema('parityMaxRelativeError').optional(),
});

export const CalibrationInputSchema = z.object({
  modelName,
  metadataPath: z.string().min(1),
  // Range is checked by the activity, with its own error type.
  samples: z.number().int().optional(),
  dataDir: z.string().min(1).optional(),
  seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
});

export const CompileInputSchema = z.object({
  modelName,
  // Any string: an unknown target gets its own error type (UnknownTarget), not InvalidRequest.
  target: z.string(),
  onnx: artifactRef,
  metadataPath: z.string().min(1),
  calibrationSet: artifactRef,
  int8MinCosine: gateSchema('int8MinCosine').optional(),
  parityMinCosine: gateSchema('parityMinCosine').optional(),
  quantization: z.object({
    format: z.enum(QUANT_FORMATS).optional(),
    calibrationMethod: z.enum(CALIBRATION_METHODS).optional(),
    reduceRange: z.boolean().optional(),
    maxExcludedNodes: z.number().int().min(0).max(64).optional(),
  }).optional(),
});

export const PreflightInputSchema = z.object({
  modelName,
  artifact: artifactRef,
  metadataPath: z.string().min(1),
  sourceOnnx: artifactRef.optional(),
  gates: placeGatesSchema('preflight').optional(),
  sweepWindows: z.number().int().min(1000).max(20_000).optional(),
});

function parse<T>(schema: z.ZodType, raw: unknown, what: string): T {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw failure(ErrorType.InvalidRequest, `${what} input is invalid: ${issues}`);
  }
  return parsed.data as T;
}

export const parseExportInput = (raw: unknown): ExportModelInput => parse(ExportModelInputSchema, raw, 'exportModel');
export const parseCalibrationInput = (raw: unknown): CalibrationInput => parse(CalibrationInputSchema, raw, 'buildCalibrationSet');
export const parseCompileInput = (raw: unknown): CompileInput => parse(CompileInputSchema, raw, 'compileModel');
export const parsePreflightInput = (raw: unknown): PreflightInput => parse(PreflightInputSchema, raw, 'preflightModel');
