// What a soak run does, decided up front from the seed: batches of overlapping deployments on
// the same devices, each with its model, devices, a decision and when to take it, plus the
// worker kills that hit the batch.
import type { CompileTarget } from '../../common/contracts';
import { Random } from './random';

/**
 * The models a soak deploys. Two names share one artifact (a and b: same checkpoint, target and
 * graph); a-int8 is the same id space as a with another target; c is another graph (Conv2d), so
 * another artifact. Picking a spec again after its run closed re-runs that workflow id.
 */
export const MODEL_SPECS = [
  { key: 'a', modelName: 'soak-a', target: 'cpu-fp32', conv2d: false },
  { key: 'b', modelName: 'soak-b', target: 'cpu-fp32', conv2d: false },
  { key: 'a-int8', modelName: 'soak-a', target: 'cpu-int8', conv2d: false },
  { key: 'c', modelName: 'soak-c', target: 'cpu-fp32', conv2d: true },
] as const satisfies ReadonlyArray<{ key: string; modelName: string; target: CompileTarget; conv2d: boolean }>;

export type ModelSpec = (typeof MODEL_SPECS)[number];

/**
 * approve: deploys. approve-fails: approved, then validation fails on the device (a latency gate
 * no device meets), so the run rolls back. reject / cancel: a person says no, or cancels the run
 * at `atMs` whatever its stage.
 */
export type Decision = 'approve' | 'approve-fails' | 'reject' | 'cancel';

export interface PlannedDeployment {
  label: string;
  spec: ModelSpec;
  devices: string[];
  startAtMs: number;
  decision: Decision;
  /** approve/reject: after the run awaits approval; cancel: after its start. */
  atMs: number;
}

export interface PlannedKill {
  worker: 'edge' | 'gpu';
  deviceId?: string;
  atMs: number;
  downMs: number;
}

export interface PlannedBatch {
  index: number;
  deployments: PlannedDeployment[];
  kills: PlannedKill[];
}

export interface PlanOptions {
  runs: number;
  deviceIds: string[];
  maxConcurrent: number;
  killProbability: number;
}

export function planSoak(seed: number, opts: PlanOptions): PlannedBatch[] {
  const rnd = new Random(seed);
  const batches: PlannedBatch[] = [];
  let planned = 0;
  while (planned < opts.runs) {
    const size = Math.min(opts.runs - planned, rnd.int(1, opts.maxConcurrent));
    const deployments: PlannedDeployment[] = [];
    for (let i = 0; i < size; i++) {
      const decision = rnd.pick<Decision>(['approve', 'approve', 'approve', 'approve-fails', 'reject', 'cancel']);
      deployments.push({
        label: `b${batches.length}.${i}`,
        // Two runs of one id at once would only show the id policy refusing the second.
        spec: rnd.pick(MODEL_SPECS.filter((m) => !deployments.some((d) => d.spec.modelName === m.modelName && d.spec.target === m.target))),
        devices: rnd.subset(opts.deviceIds),
        startAtMs: rnd.int(0, 1500),
        decision,
        atMs: decision === 'cancel' ? rnd.int(500, 12_000) : rnd.int(0, 1500),
      });
    }
    const kills: PlannedKill[] = [];
    if (rnd.chance(opts.killProbability)) kills.push({ worker: 'edge', deviceId: rnd.pick(opts.deviceIds), atMs: rnd.int(1000, 15_000), downMs: rnd.int(500, 3000) });
    if (rnd.chance(opts.killProbability / 2)) kills.push({ worker: 'gpu', atMs: rnd.int(1000, 15_000), downMs: rnd.int(500, 2000) });
    batches.push({ index: batches.length, deployments, kills });
    planned += size;
  }
  return batches;
}
