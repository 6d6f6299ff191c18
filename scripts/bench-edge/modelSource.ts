// Which model the edge benchmark measures: an explicit --model, else the demo model exported
// into the artifact store, else the TCN-shaped test model built on the spot (said so loudly).
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { ModelMetadata } from '../../common/contracts';
import { artifactStoreDir } from '../../common/paths';
import { readModelMetadata } from '../../edge/metadata';
import { buildTestModels } from '../../test/helpers/edgeModels';

export interface BenchModel {
  path: string;
  metadataPath: string;
  metadata: ModelMetadata;
  origin: string;
}

async function fromFile(file: string, origin: string): Promise<BenchModel> {
  const metadataPath = `${file}.meta.json`;
  return { path: file, metadataPath, metadata: await readModelMetadata(metadataPath), origin };
}

/** Newest FP32 ONNX of a demo model in the artifact store, by its metadata (never by name alone). */
async function findDemoInStore(): Promise<BenchModel | undefined> {
  const store = artifactStoreDir();
  if (!existsSync(store)) return undefined;
  const found: Array<{ file: string; mtime: number }> = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && depth < 4) await walk(p, depth + 1);
      else if (e.isFile() && e.name.endsWith('.onnx') && existsSync(`${p}.meta.json`)) found.push({ file: p, mtime: (await stat(p)).mtimeMs });
    }
  };
  await walk(store, 0);
  for (const { file } of found.sort((a, b) => b.mtime - a.mtime)) {
    try {
      const meta = JSON.parse(await readFile(`${file}.meta.json`, 'utf8')) as Partial<ModelMetadata>;
      if (meta.format === 'onnx' && meta.target === 'cpu-fp32' && /demo/i.test(meta.modelName ?? '')) return await fromFile(file, `demo model from the artifact store (${meta.modelName})`);
    } catch {
      // a half-written or foreign file in the store is not a candidate
    }
  }
  return undefined;
}

export async function resolveBenchModel(explicit: string | undefined): Promise<BenchModel> {
  if (explicit) return fromFile(path.resolve(explicit), `--model ${explicit}`);
  const demo = await findDemoInStore();
  if (demo) return demo;
  const built = await buildTestModels('tcn', ['good']);
  if (!built.good) throw new Error('test model build produced nothing');
  return fromFile(built.good.path, 'FALLBACK: no demo model in the artifact store; TCN encoder of the reference shape (64/128/256 ch, k3, d1/2/4, two convs per block), random weights, built by test/fixtures/make_test_models.py');
}
