// Signing a release as it enters the artifact store: the manifest (edge/releaseManifest.ts)
// beside the artifact, `<artifact>.manifest.json`, signed with the GPU worker's release key.
//
// Idempotent: a manifest already there that describes the same model bytes, metadata bytes,
// model name and target, signed by this very key, is reused with its sequence; the check is
// repeated under the model name's sequence lock, so two compiles of one artifact at once sign it
// once. Anything else (another key after a rotation, metadata rewritten) is a new release with
// the next sequence number.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ArtifactRef, CompileTarget, ReleaseSigning } from '../../common/contracts';
import { writeFileAtomic } from '../../lib/durableFs';
import { manifestPathOf, MANIFEST_SCHEMA, parseSignedManifest, serializeSignedManifest, signatureHolds, type ReleaseManifest } from '../../edge/releaseManifest';
import type { ReleaseSigner } from './releaseKey';
import { ReleaseSequences } from './releaseSequence';

export interface ReleaseToSign {
  modelName: string;
  target: CompileTarget;
  artifact: ArtifactRef;
  metadataPath: string;
}

export const UNSIGNED_NO_KEY = 'no release key is configured on the GPU worker (--release-key / EDGESHIP_RELEASE_KEY): the artifact is unsigned';

const sha256Of = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** The existing manifest's sequence when it is exactly this release signed by this key. */
async function reusable(file: string, signer: ReleaseSigner, want: Omit<ReleaseManifest, 'sequence' | 'createdAt'>): Promise<{ sequence: number; sha256: string } | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    return undefined;
  }
  try {
    const signed = parseSignedManifest(JSON.parse(bytes.toString('utf8')), file);
    const m = signed.manifest;
    const same = m.keyId === want.keyId && signed.signature.keyId === signer.keyId && m.modelName === want.modelName && m.target === want.target &&
      m.model.sha256 === want.model.sha256 && m.model.sizeBytes === want.model.sizeBytes && m.model.file === want.model.file && m.metadata.sha256 === want.metadata.sha256;
    return same && signatureHolds(signed, signer.publicKey) ? { sequence: m.sequence, sha256: sha256Of(bytes) } : undefined;
  } catch {
    return undefined; // unreadable or foreign: replaced by a fresh one
  }
}

export async function signRelease(storeRoot: string, signer: ReleaseSigner | undefined, r: ReleaseToSign, now: () => Date = () => new Date()): Promise<ReleaseSigning> {
  if (!signer) return { signed: false, reason: UNSIGNED_NO_KEY };
  const manifestPath = manifestPathOf(r.artifact.path);
  const base = {
    schema: MANIFEST_SCHEMA,
    modelName: r.modelName,
    target: r.target,
    keyId: signer.keyId,
    model: { file: r.artifact.path.split('/').pop() as string, sha256: r.artifact.sha256, sizeBytes: r.artifact.sizeBytes },
    metadata: { sha256: sha256Of(await readFile(r.metadataPath)) },
  } satisfies Omit<ReleaseManifest, 'sequence' | 'createdAt'>;
  const found = await reusable(manifestPath, signer, base);
  if (found) return { signed: true, keyId: signer.keyId, sequence: found.sequence, manifestPath, manifestSha256: found.sha256, reused: true };

  const sequences = new ReleaseSequences(storeRoot);
  return sequences.withLock(r.modelName, async (take) => {
    const meanwhile = await reusable(manifestPath, signer, base);
    if (meanwhile) return { signed: true, keyId: signer.keyId, sequence: meanwhile.sequence, manifestPath, manifestSha256: meanwhile.sha256, reused: true };
    const sequence = await take();
    const text = serializeSignedManifest(signer.sign({ ...base, sequence, createdAt: now().toISOString() }));
    await writeFileAtomic(manifestPath, text);
    return { signed: true, keyId: signer.keyId, sequence, manifestPath, manifestSha256: sha256Of(Buffer.from(text)), reused: false };
  });
}
