// discardStaged: drops this deployment run's claim on a staged artifact that it will not swap in
// (rejected, failed before the swap), and the staged file (+ metadata) with it once no other run
// claims it: the same bytes may be staged for another deployment at the same time. Idempotent:
// what is already gone is simply not listed. Only staging/ is touched, so a live release of the
// same sha stays served.
//
// pushArtifact writes its claim over SFTP, outside this process's lock. So the file is first
// renamed aside, the claims are read once more, and it is put back if a claim appeared; a push
// that claims after that finds its file gone and stages it again (it checks after claiming).
import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import * as path from 'node:path';
import type { DiscardStagedInput, DiscardStagedResult } from '../../common/contracts';
import type { EdgeDevice } from './device';
import { checkArtifactId, checkRun, dropClaim, exists, metaPathOf, otherClaims, removeClaimsDirIfEmpty, stagedPath } from './modelDir';
import { withModelDirLock } from './options';

interface Aside {
  file: string;
  aside: string;
}

async function setAside(files: string[]): Promise<Aside[]> {
  const moved: Aside[] = [];
  for (const file of files) {
    const aside = path.join(path.dirname(file), `.${path.basename(file)}.discard-${randomBytes(6).toString('hex')}`);
    try {
      await rename(file, aside);
      moved.push({ file, aside });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return moved;
}

/** Puts set-aside files back, unless a push staged them again meanwhile (its copy is verified). */
async function putBack(moved: Aside[]): Promise<void> {
  for (const { file, aside } of moved) {
    if (await exists(file)) await rm(aside, { force: true });
    else await rename(aside, file);
  }
}

export function createDiscardStaged(device: EdgeDevice) {
  return async function discardStaged(input: DiscardStagedInput): Promise<DiscardStagedResult> {
    checkArtifactId(input.sha256, input.ext);
    checkRun(input.deploymentId, input.runId);
    const { deploymentId, runId } = input;
    const staged = stagedPath(device.modelDir, input.sha256, input.ext);
    return withModelDirLock(device.modelDir, async () => {
      const removed: string[] = [];
      const claim = await dropClaim(staged, deploymentId, runId);
      if (claim) removed.push(claim);
      const kept = async (): Promise<DiscardStagedResult | null> => {
        const others = await otherClaims(staged, deploymentId, runId);
        return others.length > 0 ? { deviceId: device.id, removed, otherClaims: others.length } : null;
      };
      const early = await kept();
      if (early) return early;

      const moved = await setAside([staged, metaPathOf(staged)]);
      const late = await kept();
      if (late) {
        await putBack(moved);
        return late;
      }
      for (const { file, aside } of moved) {
        await rm(aside, { force: true });
        removed.push(file);
      }
      await removeClaimsDirIfEmpty(staged);
      return { deviceId: device.id, removed, otherClaims: 0 };
    });
  };
}
