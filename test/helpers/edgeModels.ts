// Real ONNX models for edge tests, built by test/fixtures/make_test_models.py with the project's
// Python venv, cached per script version in the OS temp dir so suites do not re-export them.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT, pythonExecutable } from '../../lib/paths';

const run = promisify(execFile);
const SCRIPT = path.join(PROJECT_ROOT, 'test', 'fixtures', 'make_test_models.py');

export type Variant = 'good' | 'constant' | 'nan';
export interface TestModel {
  path: string;
  metadataPath: string;
  sha256: string;
}
export type TestModels = Record<Variant, TestModel>;

export async function buildTestModels(arch: 'tiny' | 'tcn' = 'tiny', variants: Variant[] = ['good', 'constant', 'nan']): Promise<Partial<TestModels>> {
  const scriptHash = createHash('sha256').update(await readFile(SCRIPT)).digest('hex').slice(0, 12);
  const dir = path.join(tmpdir(), `edgeship-test-models-${scriptHash}-${arch}-${variants.join('-')}`);
  const manifest = path.join(dir, 'manifest.json');
  if (existsSync(manifest)) return JSON.parse(await readFile(manifest, 'utf8')) as TestModels;
  // Build aside and rename, so a concurrent or interrupted run never leaves a half-written cache.
  const work = await mkdtemp(path.join(tmpdir(), 'edgeship-models-build-'));
  const { stdout } = await run(pythonExecutable(), [SCRIPT, '--out-dir', work, '--arch', arch, '--variants', variants.join(',')], {
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  const built = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as TestModels;
  const relocated = Object.fromEntries(
    Object.entries(built).map(([k, m]) => [k, { sha256: m.sha256, path: path.join(dir, path.basename(m.path)), metadataPath: path.join(dir, path.basename(m.metadataPath)) }]),
  );
  await writeFile(path.join(work, 'manifest.json'), JSON.stringify(relocated));
  try {
    await rename(work, dir);
  } catch {
    await rm(work, { recursive: true, force: true }); // another process won the race: use its copy
  }
  return JSON.parse(await readFile(manifest, 'utf8')) as TestModels;
}

/**
 * A device model directory (releases/<sha>.onnx + sidecar, `current` → the release), laid out
 * like swapModel leaves it. `metadata: false` omits the sidecar; a string replaces its content.
 */
export async function makeModelDir(model: TestModel, opts: { metadata?: boolean | string } = {}): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'edgeship-device-'));
  await mkdir(path.join(dir, 'releases'));
  const release = path.join(dir, 'releases', `${model.sha256}.onnx`);
  await copyFile(model.path, release);
  if (typeof opts.metadata === 'string') await writeFile(`${release}.meta.json`, opts.metadata);
  else if (opts.metadata !== false) await copyFile(model.metadataPath, `${release}.meta.json`);
  await symlink(path.join('releases', `${model.sha256}.onnx`), path.join(dir, 'current'));
  return dir;
}
