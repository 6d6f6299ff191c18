// buildCalibrationSet: N z-scored windows (float32 [N,100,9] .npy) for the quantizers, from a
// folder of recorded windows or from synthetic activity patterns (formats: ml/calibrate.py).
import { createHash } from 'node:crypto';
import { readdir, rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { CalibrationInput, CalibrationResult } from '../../common/contracts';
import { ErrorType } from '../../common/errors';
import { cancellationSignal, withHeartbeat } from './activityContext';
import { ArtifactStore, canonicalJson, jobKey, sha256File } from './artifactStore';
import { failure } from './failures';
import { readMetadata } from './modelMetadata';
import { runPythonTool } from './python';
import { parseCalibrationInput } from './requests';

export const CALIBRATION_SAMPLES = { default: 2000, min: 16, max: 100_000 } as const;
const CALIBRATOR_VERSION = 'edgeship-calibrate/1';
const DATA_FILE = /\.(npy|csv)$/;

interface CalibrateToolAnswer {
  path: string;
  samples: number;
  source: 'synthetic' | 'recorded';
  classMix: Record<string, number>;
  channelMean: number[];
  channelStd: number[];
  warnings: string[];
}

/** Content hash of every window file under dir (path + sha), so a changed recording is a new job. */
export async function hashDataDir(dir: string): Promise<{ sha256: string; files: number }> {
  let st;
  try {
    st = await stat(dir);
  } catch {
    throw failure(ErrorType.CalibrationDataInvalid, `data folder ${dir} does not exist`);
  }
  if (!st.isDirectory()) throw failure(ErrorType.CalibrationDataInvalid, `data folder ${dir} is not a directory`);
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  // calibrate.py reads symlinked window files too (datasets are often linked in): they are
  // inputs, so they are hashed through the link. Linked folders are followed by neither side.
  const files: string[] = [];
  for (const e of entries) {
    if (!DATA_FILE.test(e.name)) continue;
    const file = path.join(e.parentPath, e.name);
    if (e.isFile() || (e.isSymbolicLink() && (await stat(file).then((s) => s.isFile(), () => false)))) files.push(file);
  }
  files.sort();
  if (files.length === 0) throw failure(ErrorType.CalibrationDataInvalid, `data folder ${dir} holds no .npy or .csv windows`);
  const hash = createHash('sha256');
  for (const f of files) hash.update(`${path.relative(dir, f)}\0${await sha256File(f)}\n`);
  return { sha256: hash.digest('hex'), files: files.length };
}

export async function buildCalibrationSet(rawInput: CalibrationInput, store = new ArtifactStore()): Promise<CalibrationResult> {
  const started = performance.now();
  const input = parseCalibrationInput(rawInput);
  const samples = input.samples ?? CALIBRATION_SAMPLES.default;
  const seed = input.seed ?? 0;
  if (samples < CALIBRATION_SAMPLES.min || samples > CALIBRATION_SAMPLES.max) {
    throw failure(ErrorType.CalibrationSizeOutOfRange, `calibration samples ${samples} outside ${CALIBRATION_SAMPLES.min}..${CALIBRATION_SAMPLES.max}`);
  }
  const meta = await readMetadata(input.metadataPath);
  const dataDir = input.dataDir ? path.resolve(input.dataDir) : undefined;
  const data = dataDir ? (await hashDataDir(dataDir)).sha256 : 'synthetic';
  const normSha = createHash('sha256').update(canonicalJson(meta.normalization)).digest('hex');
  const key = jobKey('calibrate', { normalization: normSha, data }, { samples, seed, tool: CALIBRATOR_VERSION });

  const done = await store.lookupJob<CalibrationResult>(key);
  if (done) return { ...done, reused: true, durationMs: performance.now() - started };

  const work = await store.workDir('calibrate');
  try {
    return await withHeartbeat('calibrate', async (progress) => {
      const answer = await runPythonTool<CalibrateToolAnswer>('calibrate.py', {
        outPath: path.join(work, 'calibration.npy'),
        normalization: meta.normalization,
        samples,
        seed,
        dataDir,
      }, { onProgress: progress, signal: cancellationSignal() });
      const calibrationSet = await store.commitFile(answer.path, `calibration-${samples}.npy`);
      const result: CalibrationResult = {
        calibrationSet,
        samples: answer.samples,
        source: answer.source,
        classMix: answer.classMix,
        channelMean: answer.channelMean,
        channelStd: answer.channelStd,
        durationMs: performance.now() - started,
        reused: false,
      };
      await store.recordJob(key, 'calibrate', [calibrationSet], result);
      return result;
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
