// The deployment the demo (and the end-to-end tests) ask for.
// - default: the demo model compiled to INT8, gates the simulated devices clear;
// - rollback: the demo model as FP32 in its Conv2d form (another graph, so another artifact than
//   the FP32 baseline the devices serve) with a device latency gate (p95 ≤ 0.05 ms) that no
//   device meets. Every gate the GPU server can check passes, so it is approved and swapped; the first
//   device's validation measures its real p95 and fails it, and the compensation restores the
//   backup. (A broken model no longer makes a rollback demo: the pre-flight stops it before any
//   device is touched — `degenerate` below shows that.)
// - degenerate: a checkpoint whose embeddings have collapsed to one point; the pre-flight finds
//   distinct windows giving one embedding and the run fails before staging.
// - rollout (with any of the above): a fleet rollout plan — a one-device canary, approval after
//   it (with its figures next to devices still on the old model), then half the fleet, then the
//   rest, up to 4 devices at once. With rollback the canary fails its validation and halts it.
import { parseDeployRequest, type DeployRequest } from '../common/request';
import type { DemoStack } from './demoStack';

export type DemoMode = 'deploy' | 'rollback' | 'degenerate';

/** The device p95 the rollback demo asks for: far below what any simulated device serves. */
export const ROLLBACK_DEMO_P95_MS = 0.05;

export interface DemoRequestOptions {
  mode: DemoMode;
  minRps: number;
  p95Ms: number;
  throughputDurationMs?: number;
  calibrationSamples?: number;
  /** A fleet rollout plan (needs at least 2 devices). */
  rollout?: boolean;
}

/** The demo's fleet rollout plan for a fleet of `devices`. */
export function demoRolloutPlan(devices: number): { canary: { count: number }; waves: string[]; maxParallel: number } {
  return { canary: { count: 1 }, waves: ['50%'], maxParallel: Math.min(4, devices) };
}

export function buildDemoRequest(stack: DemoStack, opts: DemoRequestOptions): DeployRequest {
  const degenerate = opts.mode === 'degenerate';
  return parseDeployRequest({
    modelName: degenerate ? 'tcn-vae-degenerate' : 'tcn-vae-demo',
    source: { kind: 'checkpoint', checkpointPath: degenerate ? stack.checkpoints.degenerate : stack.checkpoints.good },
    target: opts.mode === 'deploy' ? 'cpu-int8' : 'cpu-fp32',
    ...(opts.mode === 'rollback' ? { conv2d: true } : {}),
    devices: stack.fleet.devices.map((d) => d.id),
    calibration: { samples: opts.calibrationSamples ?? 2000 },
    gates: { minThroughputRps: opts.minRps, p95LatencyMs: opts.mode === 'rollback' ? ROLLBACK_DEMO_P95_MS : opts.p95Ms },
    validation: { throughputDurationMs: opts.throughputDurationMs ?? 3000 },
    approval: { required: true, timeout: '1h' },
    // Simulated devices restart in about a second; a minute of health wait is plenty.
    edge: { healthTimeoutMs: 60_000, deviceDeadline: '10m' },
    ...(opts.rollout ? { rollout: demoRolloutPlan(stack.fleet.devices.length) } : {}),
  });
}
