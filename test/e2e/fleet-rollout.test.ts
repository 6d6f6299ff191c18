// A fleet rollout with everything real: Temporal dev server, the GPU worker (Python export and
// INT8 quantization), six simulated devices each with OpenSSH sshd, runtime and edge worker.
// Canary, approval with the canary's measured figures next to devices still on the old model,
// then two waves; one device of wave 2 is made to fail for real (test fault injection: its
// restart command refuses the new model), the rollout halts and reverts every device it swapped.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { awaitFinalReport } from '../../clients/deploymentState';
import { startDeployment } from '../../clients/startDeployment';
import { stateDir } from '../../lib/paths';
import { parseDeployRequest } from '../../common/request';
import { buildDemoRequest } from '../../sim/demoRequest';
import { startDemoStack, type DemoStack } from '../../sim/demoStack';
import { approveSignal, statusQuery } from '../../workflows/messages';
import type { DeploymentStatus } from '../../workflows/report';
import { startTestTemporal } from '../helpers/temporalEnv';

async function servedSha(url: string): Promise<string | undefined> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  const body = (await res.json()) as { ok?: boolean; hef_sha256?: string };
  return body.ok ? body.hef_sha256 : undefined;
}

describe('e2e: a fleet rollout on six simulated devices halts and reverts', function () {
  this.timeout(600_000);
  let env: TestWorkflowEnvironment;
  let stack: DemoStack;

  before(async () => {
    env = await startTestTemporal();
    stack = await startDemoStack({
      workDir: path.join(stateDir(), 'test', 'e2e-fleet'),
      // Its own checkpoints: npm test runs this file beside the main suite (scripts/test.sh).
      checkpointDir: path.join(stateDir(), 'test', 'e2e-fleet'),
      disposableRoot: path.join(stateDir(), 'test'),
      deviceCount: 6,
      target: 'cpu-int8',
      ssh: 'openssh',
      temporalAddress: env.address,
      log: () => undefined,
    });
  });

  after(async () => {
    await stack?.stop();
    await env?.teardown();
  });

  it('canary → approval (canary vs old-model figures) → wave 1 → a failure in wave 2 halts; every swapped device serves its old model again', async () => {
    const ids = stack.fleet.devices.map((d) => d.id);
    const [canary, w1a, w1b, failing, w2b, w2c] = ids;
    const base = buildDemoRequest(stack, { mode: 'deploy', minRps: 20, p95Ms: 250, throughputDurationMs: 1000, calibrationSamples: 512 });
    const request = parseDeployRequest({
      ...base,
      validation: { ...base.validation, latencyRequests: 100, throughputDurationMs: 500, concurrency: 2 },
      approval: { required: true, timeout: '1h' },
      // canary: 1 device; wave-1: 2; wave-2: 3, one at a time so the failing device goes first.
      rollout: { canary: [canary], waves: [2, 3], maxParallel: 1, halt: { maxFailed: 0 }, baselineDevices: 2, soak: '2s' },
    });
    const before = new Map<string, string | undefined>();
    for (const d of stack.fleet.devices) before.set(d.id, await servedSha(d.spec.healthUrl));
    // The request's device order is the fleet's: wave-2 is [failing, w2b, w2c].
    assert.deepEqual(request.devices, ids);
    stack.fleet.injectFault(failing, 'reject-new-model');

    const { handle, workflowId } = await startDeployment(stack.client, request);
    let status: DeploymentStatus;
    const deadline = Date.now() + 300_000;
    for (;;) {
      status = await handle.query(statusQuery);
      if (status.awaiting) break;
      if (status.finished) assert.fail(`ended before the approval after the canary: ${status.status} ${JSON.stringify(status.failure)}`);
      if (Date.now() > deadline) assert.fail(`no approval after 300 s (stage ${status.stage})`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const sha16 = status.artifact?.sha256.slice(0, 16);
    assert.equal(await servedSha(stack.fleet.devices[0].spec.healthUrl), sha16, 'the canary serves the candidate while awaiting approval');
    for (const d of stack.fleet.devices.slice(1)) assert.equal(await servedSha(d.spec.healthUrl), before.get(d.id), `${d.id} still on the old model`);
    const cmp = status.decisionFigures?.canaryComparison;
    assert.equal(cmp?.canary.length, 1);
    assert.ok((cmp?.canary[0].p95Ms ?? 0) > 0 && (cmp?.canary[0].rps ?? 0) > 0, 'the canary was measured');
    assert.deepEqual(cmp?.baseline.map((b) => b.deviceId), [w1a, w1b]);
    for (const b of cmp?.baseline ?? []) {
      assert.equal(b.error, undefined, `baseline ${b.deviceId}: ${b.error}`);
      assert.equal(b.servedSha256Prefix, before.get(b.deviceId), 'the baseline measured the old model');
      assert.ok((b.p95Ms ?? 0) > 0 && (b.rps ?? 0) > 0);
    }

    await handle.signal(approveSignal, { by: 'e2e-test' });
    const { report, executionStatus } = await awaitFinalReport(stack.client, workflowId);
    assert.equal(executionStatus, 'FAILED');
    assert.equal(report.status, 'rolled-back', JSON.stringify(report.failure));
    const rows = Object.fromEntries((report.rollout?.devices ?? []).map((r) => [r.deviceId, r]));
    assert.equal(rows[failing].outcome, 'failed');
    assert.equal(rows[failing].failedStep, 'swap');
    assert.equal(rows[w2b].outcome, 'not-reached');
    assert.equal(rows[w2c].outcome, 'not-reached');
    for (const id of [canary, w1a, w1b]) {
      assert.equal(rows[id].outcome, 'validated', id);
      assert.equal(rows[id].revert, 'reverted', id);
      assert.equal(rows[id].restore?.outcome, 'restored', id);
    }
    assert.match(report.rollout?.halted?.reason ?? '', /failed/);
    for (const d of stack.fleet.devices) assert.equal(await servedSha(d.spec.healthUrl), before.get(d.id), `${d.id} serves what it served before`);
    assert.equal(stack.fleet.faultOf(failing), undefined, 'the restore brought the failing device back (its fault is spent)');
  });
});
