// Release keys and signed manifests for tests: real Ed25519 keys (edgeship keys create) and the
// GPU side's real signing code, so a test's "signed artifact" is exactly what compileModel makes.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { loadReleaseSigner, type ReleaseSigner } from '../../activities/gpu/releaseKey';
import { signRelease } from '../../activities/gpu/signRelease';
import type { CompileTarget } from '../../common/contracts';
import { createReleaseKeyPair, type CreatedKeyPair } from '../../clients/releaseKeys';

export interface TestKey extends CreatedKeyPair {
  signer: ReleaseSigner;
}

export function makeTestKey(prefix = 'key'): TestKey {
  const pair = createReleaseKeyPair(mkdtempSync(path.join(tmpdir(), `edgeship-${prefix}-`)));
  return { ...pair, signer: loadReleaseSigner(pair.privateKeyPath) };
}

/**
 * Signs `<model>.manifest.json` for a model file + metadata as compileModel would, with the
 * sequence counter in `storeRoot` (each call for new bytes takes the next number).
 */
export async function signTestRelease(storeRoot: string, key: TestKey, model: { path: string; metadataPath: string; sha256: string }, modelName = 'tcn-test', target: CompileTarget = 'cpu-fp32'): Promise<{ manifestPath: string; sequence: number }> {
  const bytes = readFileSync(model.path);
  const r = await signRelease(storeRoot, key.signer, { modelName, target, artifact: { path: model.path, sha256: createHash('sha256').update(bytes).digest('hex'), sizeBytes: bytes.length }, metadataPath: model.metadataPath });
  if (!r.signed) throw new Error('not signed');
  return { manifestPath: r.manifestPath, sequence: r.sequence };
}

/**
 * The same encoder as `model` with another sha: an ONNX ModelProto with a doc_string (field 6)
 * appended, which protobuf reads as just another field. Its metadata names the new sha.
 */
export function relabelledModel(model: { path: string; metadataPath: string }, dir: string, label: string): { path: string; metadataPath: string; sha256: string } {
  const text = Buffer.from(label, 'utf8');
  if (text.length > 127) throw new Error('label too long for a one-byte length');
  const bytes = Buffer.concat([readFileSync(model.path), Buffer.from([0x32, text.length]), text]);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const file = path.join(dir, `${sha256}.onnx`);
  writeFileSync(file, bytes);
  const meta = JSON.parse(readFileSync(model.metadataPath, 'utf8')) as Record<string, unknown>;
  writeFileSync(`${file}.meta.json`, JSON.stringify({ ...meta, sha256, sizeBytes: bytes.length }));
  return { path: file, metadataPath: `${file}.meta.json`, sha256 };
}
