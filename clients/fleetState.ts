// Fleet rollouts, read live: a running wave's own counts and halt figure come from its rolloutWave
// child (query `waveStatus`), fresher than the parent's report, which counts a wave when it ends.
import type { Client } from '@temporalio/client';
import type { RolloutReport, WaveStatus } from '../common/rollout';
import { WAVE_STATUS_QUERY } from './fleetFormat';

/**
 * The live status of each running wave, by wave name. A wave whose workflow does not answer within
 * the deadline (no worker, or it just closed) is left out: its reported counts stand.
 */
export async function readLiveWaves(client: Client, rollout: RolloutReport | undefined, timeoutMs = 3000): Promise<Record<string, WaveStatus>> {
  const out: Record<string, WaveStatus> = {};
  const running = rollout?.waves.filter((w) => w.state === 'running') ?? [];
  await Promise.all(
    running.map(async (w) => {
      try {
        const handle = client.workflow.getHandle(w.workflowId);
        out[w.name] = await client.withDeadline(Date.now() + timeoutMs, () => handle.query<WaveStatus>(WAVE_STATUS_QUERY));
      } catch {
        // not answered: the parent's counts stand
      }
    }),
  );
  return out;
}
