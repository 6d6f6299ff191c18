// compareWithServed: champion vs challenger on the GPU server. The candidate and each model the
// target devices serve now run on the same held-out synthetic activity windows (ml/compare_served.py),
// each z-scored with its own normalization: cosine and norm-ratio distributions, and with a
// labelled data folder the nearest-class-centroid activity accuracy of both. A served model is
// found by its sha256 in the content-addressed artifact store; one that is not there, or cannot
// run here (a HEF), is reported `missing` with the reason — never with figures it did not measure.
// Optional gate maxDriftFromServed (1 − min cosine): a drift beyond it is the non-retryable
// DriftGateFailed carrying the whole result.
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import type { ArtifactRef, CompareWithServedInput, CompareWithServedResult, Normalization, ServedComparison } from '../../common/contracts';
import { ErrorType } from '../../common/errors';
import { MODEL_NAME_PATTERN, SHA256_PATTERN } from '../../common/ids';
import { cancellationSignal, withHeartbeat } from './activityContext';
import { ArtifactStore, jobKey } from './artifactStore';
import { failure } from './failures';
import { readMetadata } from './modelMetadata';
import { runPythonTool } from './python';

export const DEFAULT_COMPARE_WINDOWS = 512;
/** Not the calibration (0), training (7, 8), pre-flight (5150, 5151) or quantizer held-out (99173) seeds. */
export const DEFAULT_COMPARE_SEED = 80021;
const COMPARE_VERSION = 'edgeship-compare-served/1';
export const NOT_IN_STORE = "not in this GPU server's artifact store; it was deployed from elsewhere";

const sha256 = z.string().regex(SHA256_PATTERN, '64 lowercase hex characters');
const CompareWithServedInputSchema = z.object({
  modelName: z.string().regex(MODEL_NAME_PATTERN, 'model name: 1-63 lowercase letters, digits or dashes'),
  candidate: z.object({ path: z.string().min(1), sha256, sizeBytes: z.number().int().nonnegative() }),
  candidateMetadataPath: z.string().min(1),
  served: z.array(z.object({ sha256, deviceIds: z.array(z.string().min(1)) })),
  windows: z.number().int().min(16).max(20_000).optional(),
  seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
  dataDir: z.string().min(1).optional(),
  maxDriftFromServed: z.number().gt(0).max(2).optional(),
});

type Figures = Required<Pick<ServedComparison, 'windows' | 'cosine' | 'normRatio' | 'drift'>> & Pick<ServedComparison, 'task'> & { nonFiniteWindows: number };
interface ToolAnswer {
  windows: number;
  seed: number;
  comparisons: Array<Figures & { sha256: string }>;
  taskSkipped?: string;
}
/** What a job record keeps: figures only, the gate is applied anew. */
interface JobFigures {
  figures: Figures;
  taskSkipped?: string;
}

type Resolved =
  | { found: 'store'; model: ArtifactRef; metadataPath: string; normalization: Normalization }
  | { found: 'missing'; reason: string };

function parseInput(raw: unknown): CompareWithServedInput {
  const parsed = CompareWithServedInputSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw failure(ErrorType.InvalidRequest, `compareWithServed input is invalid: ${issues}`);
  }
  return parsed.data;
}

const short = (sha: string): string => sha.slice(0, 12);

/** The served model as this server can run it, or why it cannot. */
async function resolveServed(sha: string, store: ArtifactStore): Promise<Resolved> {
  const hit = await store.findBySha256(sha);
  if (!hit) return { found: 'missing', reason: NOT_IN_STORE };
  const isHefFile = hit.model.path.endsWith('.hef');
  if (!hit.metadataPath) {
    return {
      found: 'missing',
      reason: isHefFile
        ? 'a HEF runs only on a Hailo NPU; it cannot run on this server'
        : `in the artifact store (${path.basename(hit.model.path)}) without its .meta.json: its normalization is unknown, so it cannot be run as the device runs it`,
    };
  }
  let meta;
  try {
    meta = await readMetadata(hit.metadataPath);
  } catch (err) {
    return { found: 'missing', reason: `in the artifact store, but its metadata cannot be used: ${(err as Error).message}` };
  }
  if (meta.sha256 !== sha) {
    return { found: 'missing', reason: `in the artifact store, but ${path.basename(hit.metadataPath)} describes ${short(meta.sha256)}, not this file` };
  }
  if (meta.format === 'hef' || isHefFile) {
    const from = meta.exportedFromOnnxSha256 ? ` (it was compiled from ONNX ${short(meta.exportedFromOnnxSha256)})` : '';
    return { found: 'missing', reason: `a HEF (${meta.target}) runs only on a Hailo NPU; it cannot run on this server${from}` };
  }
  return { found: 'store', model: hit.model, metadataPath: hit.metadataPath, normalization: meta.normalization };
}

/**
 * Names, sizes and modification times of the windows in a data folder: a finished comparison is
 * reused only while the folder holds the same files. undefined when the folder cannot be read
 * (the tool then says why, with its own error type).
 */
async function dataFingerprint(dir: string): Promise<string | undefined> {
  const hash = createHash('sha256');
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    const files = entries.filter((e) => e.isFile() && /\.(npy|csv)$/.test(e.name)).map((e) => path.join(e.parentPath, e.name)).sort();
    for (const f of files) {
      const st = await stat(f);
      hash.update(`${path.relative(dir, f)}\0${st.size}\0${st.mtimeMs}\n`);
    }
  } catch {
    return undefined;
  }
  return hash.digest('hex');
}

function gated(c: ServedComparison, gate: number | undefined): ServedComparison {
  return { ...c, passed: c.found === 'store' && (gate === undefined || (c.drift as number) <= gate) };
}

export async function compareWithServed(rawInput: CompareWithServedInput, store = new ArtifactStore()): Promise<CompareWithServedResult> {
  const started = performance.now();
  const input = parseInput(rawInput);
  const windows = input.windows ?? DEFAULT_COMPARE_WINDOWS;
  const seed = input.seed ?? DEFAULT_COMPARE_SEED;
  const gate = input.maxDriftFromServed;

  const candMeta = await readMetadata(input.candidateMetadataPath);
  if (candMeta.sha256 !== input.candidate.sha256) {
    throw failure(ErrorType.InvalidRequest, `metadata ${input.candidateMetadataPath} describes ${short(candMeta.sha256)}, not the candidate ${short(input.candidate.sha256)}`);
  }
  if (candMeta.format === 'hef') {
    throw failure(ErrorType.InvalidRequest, `the candidate ${input.candidate.path} is a HEF, which runs only on a Hailo NPU: pass the FP32 ONNX it was compiled from${candMeta.exportedFromOnnxSha256 ? ` (${short(candMeta.exportedFromOnnxSha256)})` : ''} and its metadata`);
  }
  if (!(await store.holds(input.candidate))) {
    throw failure(ErrorType.ArtifactShaMismatch, `${input.candidate.path} is missing or no longer has sha256 ${short(input.candidate.sha256)} / ${input.candidate.sizeBytes} bytes`, undefined, { nonRetryable: true });
  }
  const data = input.dataDir ? await dataFingerprint(input.dataDir) : undefined;

  // Each distinct served sha once: resolved, then reused from a job record or measured.
  const shas = [...new Set(input.served.map((s) => s.sha256))];
  const resolved = new Map<string, Resolved>();
  const keys = new Map<string, string>();
  const measured = new Map<string, JobFigures>();
  let reusedAll = true;
  for (const sha of shas) {
    const r = await resolveServed(sha, store);
    resolved.set(sha, r);
    if (r.found !== 'store') continue;
    const key = jobKey('compare-served', { candidate: input.candidate.sha256, served: sha }, {
      windows, seed, dataDir: input.dataDir ?? null, data: data ?? null, tool: COMPARE_VERSION,
      candidateNormalization: candMeta.normalization, servedNormalization: r.normalization,
    });
    keys.set(sha, key);
    const done = await store.lookupJob<JobFigures>(key);
    if (done) measured.set(sha, done);
  }

  const toRun = shas.filter((sha) => resolved.get(sha)?.found === 'store' && !measured.has(sha));
  if (toRun.length > 0) {
    reusedAll = false;
    const served = toRun.map((sha) => {
      const r = resolved.get(sha) as Extract<Resolved, { found: 'store' }>;
      return { sha256: sha, modelPath: r.model.path, metadataPath: r.metadataPath };
    });
    const answer = await withHeartbeat('compare-served', (progress) =>
      runPythonTool<ToolAnswer>('compare_served.py', {
        candidate: { modelPath: input.candidate.path, metadataPath: input.candidateMetadataPath },
        served, windows, seed, ...(input.dataDir ? { dataDir: input.dataDir } : {}),
      }, { onProgress: progress, signal: cancellationSignal() }));
    for (const { sha256: sha, ...figures } of answer.comparisons) {
      const job: JobFigures = { figures, ...(answer.taskSkipped ? { taskSkipped: answer.taskSkipped } : {}) };
      const r = resolved.get(sha) as Extract<Resolved, { found: 'store' }>;
      await store.recordJob(keys.get(sha) as string, 'compare-served', [input.candidate, r.model], job);
      measured.set(sha, job);
    }
  }

  let taskSkipped: string | undefined;
  const comparisons = input.served.map((s): ServedComparison => {
    const r = resolved.get(s.sha256) as Resolved;
    if (r.found === 'missing') return { servedSha256: s.sha256, deviceIds: s.deviceIds, found: 'missing', reason: r.reason, passed: false };
    const job = measured.get(s.sha256);
    if (!job) throw failure(ErrorType.PythonToolFailed, `compare_served.py gave no figures for ${short(s.sha256)}`);
    taskSkipped ??= job.taskSkipped;
    const f = job.figures;
    return gated({
      servedSha256: s.sha256, deviceIds: s.deviceIds, found: 'store',
      windows: f.windows, cosine: f.cosine, normRatio: f.normRatio, ...(f.task ? { task: f.task } : {}), drift: Math.max(0, f.drift),
      passed: true,
    }, gate);
  });

  const result: CompareWithServedResult = {
    comparisons,
    ...(gate !== undefined ? { gate } : {}),
    ...(taskSkipped ? { taskSkipped } : {}),
    durationMs: performance.now() - started,
    reused: reusedAll && measured.size > 0,
  };
  const drifted = comparisons.filter((c) => c.found === 'store' && !c.passed);
  if (gate !== undefined && drifted.length > 0) {
    throw failure(ErrorType.DriftGateFailed,
      `${input.modelName} ${short(input.candidate.sha256)} drifts from what ${drifted.length} served model(s) compute, beyond maxDriftFromServed ${gate}: ` +
      drifted.map((c) => `${short(c.servedSha256)} (devices ${c.deviceIds.join(', ') || 'none named'}): drift ${(c.drift as number).toPrecision(4)} (min cosine ${c.cosine?.min.toFixed(5)}, p05 ${c.cosine?.p05.toFixed(5)}, norm ratio ${c.normRatio?.min.toPrecision(4)}..${c.normRatio?.max.toPrecision(4)}) over ${c.windows} windows`).join('; '),
      result);
  }
  return result;
}
