// The deployment the demo (and the end-to-end tests) ask for: the demo model compiled to INT8,
// or in rollback mode the degenerate candidate as FP32 ONNX. Its embeddings have collapsed to one
// point: export parity cannot see that (PyTorch and ONNX agree perfectly), the INT8 gate would
// stop it before any device, so it goes out as FP32 and the edge validation has to catch it.
import { parseDeployRequest, type DeployRequest } from '../../common/request';
import type { DemoStack } from './stack';

export interface DemoRequestOptions {
  rollback: boolean;
  minRps: number;
  p95Ms: number;
  throughputDurationMs?: number;
  calibrationSamples?: number;
}

export function buildDemoRequest(stack: DemoStack, opts: DemoRequestOptions): DeployRequest {
  return parseDeployRequest({
    modelName: opts.rollback ? 'tcn-vae-degenerate' : 'tcn-vae-demo',
    source: { kind: 'checkpoint', checkpointPath: opts.rollback ? stack.checkpoints.degenerate : stack.checkpoints.good },
    target: opts.rollback ? 'cpu-fp32' : 'cpu-int8',
    devices: stack.fleet.devices.map((d) => d.id),
    calibration: { samples: opts.calibrationSamples ?? 2000 },
    gates: { minThroughputRps: opts.minRps, p95LatencyMs: opts.p95Ms },
    validation: { throughputDurationMs: opts.throughputDurationMs ?? 3000 },
    approval: { required: true, timeout: '1h' },
    // Simulated devices restart in about a second; a minute of health wait is plenty.
    edge: { healthTimeoutMs: 60_000, deviceDeadline: '10m' },
  });
}
