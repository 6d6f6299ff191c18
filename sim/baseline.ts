// Installs a model as a simulated device's initial release, the way a deployed device looks:
// releases/<sha256>.<ext> + its .meta.json (+ its signed .manifest.json) and a `current` symlink to it.
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, renameSync, symlinkSync } from 'node:fs';
import * as path from 'node:path';

export interface Baseline {
  modelPath: string;
  metadataPath: string;
  /** Its signed release manifest, installed beside it (a device that requires signatures serves nothing else). */
  manifestPath?: string;
}

export function installBaseline(modelDir: string, baseline: Baseline): { sha256: string; releasePath: string } {
  const ext = path.extname(baseline.modelPath).slice(1);
  if (ext !== 'onnx' && ext !== 'hef') throw new Error(`baseline ${baseline.modelPath}: extension must be .onnx or .hef`);
  const sha256 = createHash('sha256').update(readFileSync(baseline.modelPath)).digest('hex');
  const meta = JSON.parse(readFileSync(baseline.metadataPath, 'utf8')) as { sha256?: string };
  if (meta.sha256 !== sha256) throw new Error(`baseline metadata ${baseline.metadataPath} describes ${meta.sha256}, the model hashes to ${sha256}`);
  const name = `${sha256}.${ext}`;
  const releasePath = path.join(modelDir, 'releases', name);
  copyFileSync(baseline.modelPath, releasePath);
  copyFileSync(baseline.metadataPath, `${releasePath}.meta.json`);
  if (baseline.manifestPath) copyFileSync(baseline.manifestPath, `${releasePath}.manifest.json`);
  const tmpLink = path.join(modelDir, '.current.tmp');
  symlinkSync(path.join('releases', name), tmpLink);
  renameSync(tmpLink, path.join(modelDir, 'current'));
  return { sha256, releasePath };
}
