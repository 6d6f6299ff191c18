// Which model the edge benchmark measures: an explicit --model (with its .meta.json), else the
// demo model (demo checkpoint → exportModel into the artifact store, reused when already there),
// else — only if that cannot run here — the TCN-shaped test model, labelled as a fallback.
import * as path from 'node:path';
import type { ModelMetadata } from '../../common/contracts';
import { stateDir } from '../../lib/paths';
import { ensureDemoCheckpoint } from '../../activities/gpu/demoCheckpoint';
import { exportModel } from '../../activities/gpu/exportModel';
import { readModelMetadata } from '../../edge/metadata';
import { buildTestModels } from '../../test/helpers/edgeModels';

export interface BenchModel {
  path: string;
  metadataPath: string;
  metadata: ModelMetadata;
  origin: string;
}

async function fromFiles(file: string, metadataPath: string, origin: string): Promise<BenchModel> {
  return { path: file, metadataPath, metadata: await readModelMetadata(metadataPath), origin };
}

async function demoModel(): Promise<BenchModel> {
  const ckpt = await ensureDemoCheckpoint(path.join(stateDir(), 'demo', 'tcn-vae-demo.pt'));
  const exp = await exportModel({ modelName: 'tcn-vae-demo', source: { kind: 'checkpoint', checkpointPath: ckpt.path } });
  return fromFiles(exp.onnx.path, exp.metadataPath, `demo model tcn-vae-demo (checkpoint ${ckpt.sha256.slice(0, 12)}, exportModel${exp.reused ? ' reused from the artifact store' : ''}; parity min cosine ${exp.parity.minCosine.toFixed(6)})`);
}

export async function resolveBenchModel(explicit: string | undefined): Promise<BenchModel> {
  if (explicit) {
    const file = path.resolve(explicit);
    return fromFiles(file, `${file}.meta.json`, `--model ${explicit}`);
  }
  try {
    return await demoModel();
  } catch (err) {
    const why = (err as Error).message.split('\n')[0];
    const built = await buildTestModels('tcn', ['good']);
    if (!built.good) throw new Error(`demo model unavailable (${why}) and the test model build produced nothing`);
    return fromFiles(built.good.path, built.good.metadataPath, `FALLBACK (demo model unavailable: ${why}): TCN encoder of the reference shape, random weights, from test/fixtures/make_test_models.py`);
  }
}
