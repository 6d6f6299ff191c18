// Release keys and signed manifests for tests: real Ed25519 keys (edgeship keys create) and the
// GPU side's real signing code, so a test's "signed artifact" is exactly what compileModel makes.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
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
