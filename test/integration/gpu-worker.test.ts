// The three GPU activities through a real Worker on task queue `gpu`, against a real
// `temporal server start-dev`.
import * as assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createGpuModelActivities } from '../../activities/gpu';
import { GPU_TASK_QUEUE } from '../../common/queues';
import { startTestTemporal } from '../helpers/temporalEnv';
import { demoCheckpoint, tempDir } from '../helpers/gpuFixtures';
import type { gpuStages } from './workflows/gpuStages';

describe('gpu worker with a real Temporal dev server', function () {
  this.timeout(300_000);
  let env: TestWorkflowEnvironment;
  let storeDir: string;

  before(async () => {
    env = await startTestTemporal();
    storeDir = tempDir('gpu-worker-store');
  });
  after(async () => {
    await env?.teardown();
    rmSync(storeDir, { recursive: true, force: true });
  });

  it('runs export -> calibrate -> compile as activities and carries typed failures', async () => {
    const ckpt = await demoCheckpoint();
    const worker = await Worker.create({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue: GPU_TASK_QUEUE,
      workflowsPath: require.resolve('./workflows/gpuStages'),
      activities: createGpuModelActivities({ storeDir }),
    });
    const result = await worker.runUntil(env.client.workflow.execute<typeof gpuStages>('gpuStages', {
      taskQueue: GPU_TASK_QUEUE,
      workflowId: `gpu-stages-${Date.now()}`,
      args: [ckpt.path, 64],
    }));

    assert.ok(result.exported.parity.minCosine >= 0.9999);
    assert.ok(result.exported.onnx.path.startsWith(storeDir));
    assert.equal(result.calibration.samples, 64);
    assert.equal(result.compiled.target, 'cpu-int8');
    assert.ok(result.compiled.similarity!.minCosine >= 0.99);
    assert.deepEqual(result.hailo, { type: 'HailoCompilerUnavailable', nonRetryable: true, attempts: 'NON_RETRYABLE_FAILURE' });
  });
});
