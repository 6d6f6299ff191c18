// probeServing: what the device's runtime says right now (/healthz) and which release `current`
// names on disk. Cheap and bounded (one 2 s request and a readlink), and it never fails because
// the runtime is down (runtimeUp: false): a rollout schedules it with a scheduleToStartTimeout,
// and whether the device's edge worker picks it up at all is what "online" means.
import * as path from 'node:path';
import type { ProbeServingResult } from '../../common/contracts';
import type { EdgeDevice } from './device';
import { probeHealth } from './health';
import { isModelExt, readCurrent, releasesDir, type ModelExt } from './modelDir';

const RELEASE_NAME = /^([0-9a-f]{64})\.(onnx|hef)$/;
export const PROBE_REQUEST_TIMEOUT_MS = 2000;

export interface CurrentRelease {
  sha256: string;
  ext: ModelExt;
  file: string;
}

/**
 * The release `current` names: releases/<sha256>.<ext> by name (not hashed: the runtime's
 * /healthz is the proof of what is loaded). null when there is no `current`, or when it names
 * something that is not a release. A `current` that is not a symlink is DeviceStateCorrupt.
 */
export async function currentRelease(modelDir: string): Promise<CurrentRelease | null> {
  const current = await readCurrent(modelDir);
  if (!current || path.dirname(current.file) !== releasesDir(modelDir)) return null;
  const m = RELEASE_NAME.exec(path.basename(current.file));
  if (!m || !isModelExt(m[2])) return null;
  return { sha256: m[1], ext: m[2], file: current.file };
}

export function createProbeServing(device: Pick<EdgeDevice, 'id' | 'modelDir' | 'healthUrl'>): (input: Record<string, never>) => Promise<ProbeServingResult> {
  return async function probeServing(): Promise<ProbeServingResult> {
    const [obs, current] = await Promise.all([probeHealth(device.healthUrl, PROBE_REQUEST_TIMEOUT_MS), currentRelease(device.modelDir)]);
    return {
      deviceId: device.id,
      runtimeUp: obs.status !== null,
      ready: obs.healthy,
      servedSha256Prefix: obs.healthy ? obs.sha256Prefix : null,
      currentSha256: current?.sha256 ?? null,
    };
  };
}
