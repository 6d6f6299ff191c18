// The whole pipeline with everything real: Temporal dev server (with its Web UI), the GPU worker
// running the Python export and INT8 quantization, simulated devices each with OpenSSH sshd,
// inference runtime and edge worker, approval by signal. Then a degenerate candidate that the
// pre-flight stops before any device, and the compensation path: a candidate that fails its
// device validation after the swap, after which every device serves its backup again.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startDeployment } from '../../clients/startDeployment';
import { stateDir } from '../../lib/paths';
import { buildDemoRequest } from '../../sim/demoRequest';
import { startDemoStack, type DemoStack } from '../../sim/demoStack';
import { approveSignal, statusQuery } from '../../workflows/messages';
import { awaitFinalReport } from '../../clients/deploymentState';
import { freePort } from '../../sim/net';
import { startTestTemporal } from '../helpers/temporalEnv';
import { findRunInUi } from './temporalUi';

const ARTIFACTS = path.resolve(__dirname, '..', '..', 'test-artifacts');

async function servedSha(url: string): Promise<string | undefined> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  const body = (await res.json()) as { ok?: boolean; hef_sha256?: string };
  return body.ok ? body.hef_sha256 : undefined;
}

async function waitForApprovalStage(handle: Awaited<ReturnType<typeof startDeployment>>['handle']): Promise<void> {
  const deadline = Date.now() + 240_000;
  for (;;) {
    const status = await handle.query(statusQuery);
    if (status.awaiting) return;
    if (status.finished) assert.fail(`deployment ended before approval: ${status.status} ${JSON.stringify(status.failure)}`);
    if (Date.now() > deadline) assert.fail(`no approval stage after 240 s (stage ${status.stage})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('e2e: the whole pipeline on simulated devices', function () {
  this.timeout(600_000);
  let env: TestWorkflowEnvironment;
  let stack: DemoStack;
  let uiUrl: string;

  before(async () => {
    const uiPort = await freePort();
    env = await startTestTemporal({ ui: true, uiPort });
    uiUrl = `http://127.0.0.1:${uiPort}`;
    stack = await startDemoStack({
      workDir: path.join(stateDir(), 'test', 'e2e'),
      checkpointDir: path.join(stateDir(), 'test'),
      // A run killed earlier may have left devices (half made, processes running) here.
      disposableRoot: path.join(stateDir(), 'test'),
      deviceCount: 2,
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

  it('deploys after approval by signal; each device serves the new sha; the UI finds the run by its search attributes', async () => {
    // This machine's 2 cores also run Temporal, both workers and both runtimes: the throughput
    // gate is lowered so the test checks the pipeline, not the machine (bench:edge measures it).
    const request = buildDemoRequest(stack, { mode: 'deploy', minRps: 20, p95Ms: 250, throughputDurationMs: 1000, calibrationSamples: 512 });
    const { handle, workflowId } = await startDeployment(stack.client, request);
    await waitForApprovalStage(handle);

    for (const d of stack.fleet.devices) {
      assert.equal(await servedSha(d.spec.healthUrl), stack.baselineSha256.slice(0, 16), `${d.id} must still serve the baseline while awaiting approval`);
    }

    const ui = await findRunInUi(uiUrl, stack.namespace, `EdgeshipModel="tcn-vae-demo" AND EdgeshipStage="approval"`, workflowId, 'EdgeshipStage', ARTIFACTS);
    assert.ok(ui.listedIds.includes(workflowId), `UI list filtered by search attributes shows ${workflowId}: ${ui.listedIds.join(', ')}`);
    assert.match(ui.runPageText, /"EdgeshipStage": "approval"/, 'the run page shows the approval stage');
    assert.match(ui.runPageText, /"EdgeshipStatus": "awaiting-approval"/, 'the run page shows the status');

    await handle.signal(approveSignal, { by: 'e2e-test', comment: 'approved by the end-to-end test' });
    const { report, executionStatus } = await awaitFinalReport(stack.client, workflowId);
    assert.equal(executionStatus, 'COMPLETED');
    assert.equal(report.status, 'completed', JSON.stringify(report.failure));
    assert.equal(report.approval?.by, 'e2e-test');
    assert.ok(report.artifact);
    for (const d of stack.fleet.devices) {
      assert.equal(await servedSha(d.spec.healthUrl), report.artifact.sha256.slice(0, 16), `${d.id} serves the new model`);
      const state = report.devices.find((x) => x.deviceId === d.id);
      assert.equal(state?.backup?.sha256, stack.baselineSha256, `${d.id} backed up the baseline`);
      assert.ok(state?.validation?.passed, `${d.id} passed validation`);
    }
  });

  it('stops a degenerate candidate in the pre-flight, before any device is leased or staged', async () => {
    const before = new Map<string, string | undefined>();
    for (const d of stack.fleet.devices) before.set(d.id, await servedSha(d.spec.healthUrl));
    const request = buildDemoRequest(stack, { mode: 'degenerate', minRps: 20, p95Ms: 250, throughputDurationMs: 1000, calibrationSamples: 512 });
    const { workflowId } = await startDeployment(stack.client, request);
    const { report, executionStatus } = await awaitFinalReport(stack.client, workflowId);
    assert.equal(executionStatus, 'FAILED');
    assert.equal(report.status, 'failed');
    assert.equal(report.failure?.stage, 'preflight');
    assert.equal(report.failure?.type, 'PreflightGateFailed');
    assert.match(report.failure?.message ?? '', /minPairwiseDistance|minOutputVariance/);
    assert.deepEqual(report.compensations, [], 'nothing was staged, so nothing to undo');
    for (const d of stack.fleet.devices) {
      assert.equal(await servedSha(d.spec.healthUrl), before.get(d.id), `${d.id} untouched`);
      assert.deepEqual(readdirSync(path.join(d.spec.modelDir, 'staging')).filter((f) => f.includes(report.artifact?.sha256 ?? '-')), [], `${d.id} has nothing staged`);
    }
  });

  it('rolls back a candidate that fails its device validation: each device serves its backup sha again', async () => {
    const before = new Map<string, string | undefined>();
    for (const d of stack.fleet.devices) before.set(d.id, await servedSha(d.spec.healthUrl));
    // Passes every GPU-side gate; fails the device latency gate (p95 ≤ 0.05 ms) after the swap.
    const request = buildDemoRequest(stack, { mode: 'rollback', minRps: 20, p95Ms: 250, throughputDurationMs: 1000, calibrationSamples: 512 });
    const { handle, workflowId } = await startDeployment(stack.client, request);
    await waitForApprovalStage(handle);
    await handle.signal(approveSignal, { by: 'e2e-test' });
    const { report, executionStatus } = await awaitFinalReport(stack.client, workflowId);
    // Only a deployment that deployed closes Completed: the UI counts this one as a failure.
    assert.equal(executionStatus, 'FAILED');
    assert.equal(report.status, 'rolled-back');
    assert.equal(report.failure?.type, 'ValidationGateFailed');
    assert.match(report.failure?.message ?? '', /p95/);
    assert.ok(report.compensations.some((c) => c.action === 'restore' && c.ok), 'a restore ran');
    assert.deepEqual(report.compensations.filter((c) => !c.ok), [], 'every compensation succeeded');
    for (const d of stack.fleet.devices) {
      assert.ok(before.get(d.id), `${d.id} served a model before`);
      assert.equal(await servedSha(d.spec.healthUrl), before.get(d.id), `${d.id} serves what it served before the deployment`);
    }
  });
});
