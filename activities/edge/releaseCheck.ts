// The device's check of a release before swapModel touches anything live: the signed manifest
// (edge/trust.ts) of the files the swap would install, and the downgrade rule.
//
// Files checked: each of model, metadata and manifest from staging/ when staged, else the
// installed release's (what installRelease will leave in releases/). A refusal discards what
// this run staged (the bytes are refused whoever asks; for a downgrade, unless another run
// still claims them) and is thrown as a non-retryable SignatureInvalid or DowngradeRefused
// whose details name the check and the key id. Nothing in releases/, backups/ or `current`
// changes.
//
// Downgrades: the sequence served is read from the verified manifest of what `current` names.
// A release of the same model name with a lower sequence is refused unless the request says
// allowDowngrade (the result then names the sequence it went down from). A restore of a run's
// own journal (restoreBackup) never comes here: it is never refused.
import { rm } from 'node:fs/promises';
import type { ReleaseCheck } from '../../common/contracts';
import { ErrorType } from '../../common/errors';
import type { EdgeDevice } from './device';
import { ReleaseRefused, trustActive, verifyRelease, type DeviceTrust } from '../../edge/trust';
import type { ReleaseManifest } from '../../edge/releaseManifest';
import { edgeFailure } from './failures';
import { dropClaim, exists, manifestPathOf, metaPathOf, otherClaims, releasePath, removeClaimsDirIfEmpty, sidecarsOf, stagedPath, type CurrentTarget, type ModelExt } from './modelDir';

export interface ReleaseToCheck {
  deploymentId: string;
  runId: string;
  sha256: string;
  ext: ModelExt;
  allowDowngrade?: boolean;
}

async function stagedOrRelease(staged: string, release: string): Promise<string> {
  return (await exists(staged)) ? staged : release;
}

/** The verified manifest of what `current` serves; null when unsigned or no longer verifiable. */
async function servedManifest(trust: DeviceTrust, current: CurrentTarget | null): Promise<ReleaseManifest | null> {
  if (!current || !(await exists(current.file))) return null;
  try {
    const v = await verifyRelease({ ...trust, requireSignatures: false }, { manifestFile: manifestPathOf(current.file), metadataFile: metaPathOf(current.file), model: { file: current.file } });
    return v.signed ? v.manifest : null;
  } catch {
    // Signed by a key no longer trusted, or altered: its sequence proves nothing.
    return null;
  }
}

/** Removes what this run staged (model, metadata, manifest) and its claim. */
async function discardRefused(staged: string, run: ReleaseToCheck, evenIfClaimed: boolean): Promise<void> {
  await dropClaim(staged, run.deploymentId, run.runId);
  if (!evenIfClaimed && (await otherClaims(staged, run.deploymentId, run.runId)).length > 0) return;
  for (const f of [staged, ...sidecarsOf(staged)]) await rm(f, { force: true });
  await removeClaimsDirIfEmpty(staged);
}

export async function checkRelease(device: EdgeDevice, trust: DeviceTrust | undefined, current: CurrentTarget | null, input: ReleaseToCheck): Promise<ReleaseCheck> {
  if (!trustActive(trust)) return { signed: false, reason: 'unchecked' };
  const { modelDir } = device;
  const staged = stagedPath(modelDir, input.sha256, input.ext);
  const release = releasePath(modelDir, input.sha256, input.ext);
  let verdict;
  try {
    verdict = await verifyRelease(trust, {
      model: { file: await stagedOrRelease(staged, release) },
      metadataFile: await stagedOrRelease(metaPathOf(staged), metaPathOf(release)),
      manifestFile: await stagedOrRelease(manifestPathOf(staged), manifestPathOf(release)),
      expectedSha256: input.sha256,
      deviceTarget: device.target,
    });
  } catch (err) {
    if (!(err instanceof ReleaseRefused)) throw err;
    await discardRefused(staged, input, true);
    throw edgeFailure(ErrorType.SignatureInvalid, `device ${device.id} refused release ${input.sha256.slice(0, 12)}: ${err.check}: ${err.message}; the staged copy was discarded, nothing live was touched`, { deviceId: device.id, sha256: input.sha256, check: err.check, ...(err.keyId ? { keyId: err.keyId } : {}) }, true);
  }
  if (!verdict.signed) return { signed: false, reason: 'unsigned' };
  const m = verdict.manifest;
  const served = await servedManifest(trust, current);
  const older = served !== null && served.modelName === m.modelName && m.sequence < served.sequence;
  if (older && !input.allowDowngrade) {
    await discardRefused(staged, input, false);
    throw edgeFailure(ErrorType.DowngradeRefused, `device ${device.id} serves ${m.modelName} release ${served.sequence}; release ${m.sequence} (${input.sha256.slice(0, 12)}, signed by ${verdict.keyId}) is older: refused without allowDowngrade; the staged copy was discarded, nothing live was touched`, { deviceId: device.id, sha256: input.sha256, check: 'sequence', keyId: verdict.keyId, modelName: m.modelName, sequence: m.sequence, servedSequence: served.sequence }, true);
  }
  return { signed: true, keyId: verdict.keyId, modelName: m.modelName, sequence: m.sequence, ...(older ? { downgradeFrom: served.sequence } : {}) };
}
