// deployModel on a real Temporal dev server, with its activities replaced (replacedActivities.ts)
// to drive every path. One server and one set of workers serve the whole file.
// RECORD_HISTORIES=1 also stores each run's history under test/histories/ for the replay test.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { CancelledFailure, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '../helpers/historyJson';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { startDeployment } from '../../clients/startDeployment';
import { edgeTaskQueue, GPU_TASK_QUEUE } from '../../common/queues';
import { deploymentWorkflowId, parseDeployRequest, type DeployRequestInput } from '../../common/request';
import { SA_STATUS } from '../../common/searchAttributes';
import type { deployModel } from '../../workflows';
import { approveSignal, decideUpdate, rejectSignal, statusQuery } from '../../workflows/messages';
import type { DeploymentReport, DeploymentStatus } from '../../workflows/report';
import { startTestTemporal } from '../helpers/temporalEnv';
import { ReplacedFleet, sha, type Scenario } from './replacedActivities';

const DEVICES = ['pi-01', 'pi-02'];
const HISTORY_DIR = path.resolve(__dirname, '..', 'histories');

type Handle = WorkflowHandle<typeof deployModel>;

/** Worker chatter and the expected activity failures of these paths would bury the test output. */
function quietSdkLogs(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // Another test file in this process installed the runtime first; keep its logger.
  }
}

describe('deployModel workflow (real dev server, replaced activities)', function () {
  this.timeout(120_000);
  let env: TestWorkflowEnvironment;
  let workers: Worker[] = [];
  let running: Promise<unknown>;
  const fleet = new ReplacedFleet([...DEVICES, 'hailo-01']);

  before(async function () {
    this.timeout(90_000);
    quietSdkLogs();
    env = await startTestTemporal();
    const connection = env.nativeConnection;
    workers = [
      await Worker.create({ connection, taskQueue: GPU_TASK_QUEUE, workflowsPath: require.resolve('../../workflows'), activities: fleet.gpuActivities() }),
      ...(await Promise.all(fleet.deviceIds.map((id) => Worker.create({ connection, taskQueue: edgeTaskQueue(id), activities: fleet.edgeActivities(id) })))),
    ];
    running = Promise.all(workers.map((w) => w.run()));
  });

  after(async function () {
    this.timeout(60_000);
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await running;
    await env?.teardown();
  });

  async function start(name: string, scenario: Scenario = {}, overrides: Partial<DeployRequestInput> = {}): Promise<{ handle: Handle; id: string }> {
    const checkpointPath = `/checkpoints/${name}.pt`;
    const request = parseDeployRequest({
      modelName: name,
      source: { kind: 'checkpoint', checkpointPath },
      // What the replaced exportModel reports, so the workflow's source check passes.
      sourceSha256: sha(checkpointPath),
      target: 'cpu-int8',
      devices: DEVICES,
      approval: { timeout: '2m' },
      ...overrides,
    });
    // The scenario is registered before the run can reach an activity: the workflow id is known
    // up front, and the first activity needs a workflow task first.
    const workflowId = deploymentWorkflowId(name, sha(checkpointPath));
    fleet.scenario(workflowId, scenario);
    await startDeployment(env.client, request);
    return { handle: env.client.workflow.getHandle<typeof deployModel>(workflowId), id: workflowId };
  }

  async function waitFor(handle: Handle, what: string, predicate: (s: DeploymentStatus) => boolean): Promise<DeploymentStatus> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const status = await handle.query(statusQuery);
      if (predicate(status)) return status;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last status ${JSON.stringify({ stage: status.stage, status: status.status })}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const awaitingApproval = (handle: Handle): Promise<DeploymentStatus> => waitFor(handle, 'awaiting approval', (s) => s.status === 'awaiting-approval');

  async function record(name: string, handle: Handle): Promise<void> {
    if (process.env.RECORD_HISTORIES !== '1') return;
    const history = await handle.fetchHistory();
    mkdirSync(HISTORY_DIR, { recursive: true });
    writeFileSync(path.join(HISTORY_DIR, `${name}.json`), historyToJSON(history));
  }

  const compensations = (r: DeploymentReport): string[] => r.compensations.map((c) => `${c.action} ${c.deviceId}${c.ok ? '' : ' FAILED'}`);

  it('approve by signal: every device swapped and validated, report and search attributes complete', async () => {
    const { handle, id } = await start('approve-signal');
    const waiting = await awaitingApproval(handle);
    assert.equal(waiting.stage, 'approval');
    assert.deepEqual(waiting.decisionFigures?.stagedDevices, DEVICES);
    assert.equal(waiting.decisionFigures?.parity?.minCosine, 0.99999);
    assert.equal(waiting.decisionFigures?.int8Similarity?.minCosine, 0.995);
    assert.match(waiting.awaiting?.how.join('\n') ?? '', /--name approve/);
    assert.deepEqual(fleet.trace(id, ['swapModel']), [], 'nothing live before approval');

    // A running deployment of the same model+source is never duplicated.
    await assert.rejects(start('approve-signal'), WorkflowExecutionAlreadyStartedError);

    await handle.signal(approveSignal, { by: 'alice', comment: 'parity fine' });
    const report = await handle.result();
    assert.equal(report.status, 'completed');
    assert.deepEqual(fleet.trace(id, ['resolveDevices', 'exportModel', 'buildCalibrationSet', 'compileModel', 'swapModel', 'validateDeployment']), [
      'resolveDevices', 'exportModel', 'buildCalibrationSet', 'compileModel', 'swapModel pi-01', 'validateDeployment pi-01', 'swapModel pi-02', 'validateDeployment pi-02',
    ]);
    assert.deepEqual(fleet.trace(id, ['pushArtifact']).sort(), ['pushArtifact pi-01', 'pushArtifact pi-02']);
    assert.deepEqual(report.compensations, []);
    assert.equal(report.approval?.decision, 'approved');
    assert.equal(report.approval?.by, 'alice');
    assert.equal(report.approval?.comment, 'parity fine');
    assert.equal(report.approval?.via, 'signal');
    const artifact = report.artifact?.sha256 ?? '';
    for (const device of report.devices) {
      assert.equal(device.phase, 'validated');
      assert.equal(device.servedSha256Prefix, artifact.slice(0, 16));
      assert.equal(device.validation?.passed, true);
      assert.ok(device.backup, `${device.deviceId} has a backup record`);
      assert.equal(fleet.served.get(device.deviceId), artifact);
    }
    const stages = report.stages.map((s) => `${s.stage}${s.deviceId ? ` ${s.deviceId}` : ''}:${s.outcome}`);
    assert.deepEqual(stages, ['resolve-devices:ok', 'export:ok', 'calibrate:ok', 'compile:ok', 'stage:ok', 'approval:ok', 'swap pi-01:ok', 'validate pi-01:ok', 'swap pi-02:ok', 'validate pi-02:ok']);
    assert.ok(report.stages.every((s) => typeof s.durationMs === 'number' && s.durationMs >= 0));
    assert.ok(report.timing && report.timing.wallMs >= report.timing.approvalWaitMs);
    const described = await handle.describe();
    assert.equal(described.typedSearchAttributes.get(SA_STATUS), 'completed');
    await record('approve-signal', handle);
  });

  it('update: the validator refuses unknown approvers and a second decision; the answer names who decided', async () => {
    const { handle, id } = await start('approve-update', {}, { approval: { timeout: '2m', approvers: ['carol', 'dave'] } });
    await awaitingApproval(handle);
    await assert.rejects(handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', by: 'mallory' }] }), (err: unknown) => {
      assert.ok(err instanceof WorkflowUpdateFailedError);
      assert.match(String((err.cause as Error).message), /mallory is not an allowed approver/);
      return true;
    });
    // A signal from an unknown approver changes nothing, and says so in the status.
    await handle.signal(approveSignal, { by: 'mallory' });
    const afterSignal = await waitFor(handle, 'ignored signal', (s) => s.ignoredMessages.length > 0);
    assert.equal(afterSignal.status, 'awaiting-approval');
    assert.match(afterSignal.ignoredMessages[0].reason, /not an allowed approver/);

    const answer = await handle.executeUpdate(decideUpdate, { args: [{ decision: 'approve', by: 'carol', comment: 'ok' }] });
    assert.equal(answer.decision, 'approved');
    assert.equal(answer.by, 'carol');
    await assert.rejects(handle.executeUpdate(decideUpdate, { args: [{ decision: 'reject', by: 'dave', reason: 'too late' }] }), (err: unknown) => {
      assert.ok(err instanceof WorkflowUpdateFailedError);
      assert.match(String((err.cause as Error).message), /already been decided/);
      return true;
    });
    const report = await handle.result();
    assert.equal(report.status, 'completed');
    assert.equal(report.approval?.by, 'carol');
    assert.equal(report.approval?.via, 'update');
    assert.deepEqual(fleet.trace(id, ['swapModel']), ['swapModel pi-01', 'swapModel pi-02']);
    await record('approve-update', handle);
  });

  it('reject: staged artifacts are discarded, nothing is swapped', async () => {
    const { handle, id } = await start('reject');
    await awaitingApproval(handle);
    await handle.signal(rejectSignal, { by: 'bob', reason: 'INT8 similarity too close to the gate' });
    const report = await handle.result();
    assert.equal(report.status, 'rejected');
    assert.equal(report.approval?.decision, 'rejected');
    assert.equal(report.approval?.reason, 'INT8 similarity too close to the gate');
    assert.equal(report.failure?.type, 'ApprovalRejected');
    assert.deepEqual(compensations(report), ['discard pi-02', 'discard pi-01']);
    assert.deepEqual(fleet.trace(id, ['swapModel', 'restoreBackup', 'discardStaged']), ['discardStaged pi-02', 'discardStaged pi-01']);
    await record('reject', handle);
  });

  it('approval timeout rejects and discards', async () => {
    const { handle, id } = await start('approval-timeout', {}, { approval: { timeout: '2s' } });
    const report = await handle.result();
    assert.equal(report.status, 'rejected');
    assert.equal(report.approval?.decision, 'timed-out');
    assert.ok((report.approval?.waitedMs ?? 0) >= 2000, `waited ${report.approval?.waitedMs} ms`);
    assert.deepEqual(fleet.trace(id, ['swapModel', 'restoreBackup', 'discardStaged']), ['discardStaged pi-02', 'discardStaged pi-01']);
    await record('approval-timeout', handle);
  });

  it('target mismatch fails before anything is pushed', async () => {
    const { handle, id } = await start('target-mismatch', { deviceTargets: { 'pi-02': 'hailo8l' } }, { approval: { required: false } });
    const report = await handle.result();
    assert.equal(report.status, 'failed');
    assert.equal(report.failure?.type, 'TargetMismatch');
    assert.equal(report.failure?.stage, 'resolve-devices');
    assert.deepEqual(fleet.trace(id), ['resolveDevices']);
    await record('target-mismatch', handle);
  });

  it('swap fails its health check on the second device: both devices are restored, newest first', async () => {
    const before = new Map(fleet.served);
    const { handle, id } = await start('swap-fails', { swapFailsOn: 'pi-02' }, { approval: { required: false } });
    const report = await handle.result();
    assert.equal(report.status, 'rolled-back');
    assert.equal(report.failure?.stage, 'swap');
    assert.equal(report.failure?.deviceId, 'pi-02');
    assert.equal(report.failure?.type, 'HealthCheckTimeout');
    // pi-02's staged file may still be there if its swap failed before installing it.
    assert.deepEqual(compensations(report), ['restore pi-02', 'restore pi-01', 'discard pi-02']);
    const restores = fleet.callsOf(id).filter((c) => c.activity === 'restoreBackup');
    // pi-02's swap never returned its backup: the device resolves it from its journal.
    assert.equal((restores[0].input as { backup: unknown }).backup, null);
    assert.equal((restores[1].input as { backup: { sha256: string } }).backup.sha256, before.get('pi-01'));
    for (const d of DEVICES) assert.equal(fleet.served.get(d), before.get(d), `${d} serves its previous model again`);
    assert.deepEqual(report.devices.map((d) => d.phase), ['restored', 'restored']);
    assert.equal(report.devices[0].servedSha256Prefix, before.get('pi-01')?.slice(0, 16));
    assert.equal(report.approval?.decision, 'not-required');
    await record('swap-fails', handle);
  });

  it('validation gate fails on the second device: the report carries the validation report, both restored', async () => {
    const before = new Map(fleet.served);
    const { handle, id } = await start('validation-fails', { validationFailsOn: 'pi-02' }, { approval: { required: false } });
    const report = await handle.result();
    assert.equal(report.status, 'rolled-back');
    assert.equal(report.failure?.stage, 'validate');
    assert.equal(report.failure?.type, 'ValidationGateFailed');
    assert.equal((report.failure?.details as { passed: boolean }).passed, false);
    assert.equal(report.devices[1].validation?.passed, false);
    assert.match(report.devices[1].validation?.failures[0] ?? '', /p95 latency/);
    assert.deepEqual(fleet.trace(id, ['swapModel', 'validateDeployment', 'restoreBackup', 'discardStaged']), [
      'swapModel pi-01', 'validateDeployment pi-01', 'swapModel pi-02', 'validateDeployment pi-02', 'restoreBackup pi-02', 'restoreBackup pi-01',
    ]);
    for (const d of DEVICES) assert.equal(fleet.served.get(d), before.get(d), `${d} serves its previous model again`);
    await record('validation-fails', handle);
  });

  it('a device whose edge worker is gone: its swap fails past its deadline, the others are restored first, the run ends rollback-failed', async () => {
    const before = new Map(fleet.served);
    // ghost-01 is in the inventory but no worker polls edge.ghost-01.
    const { handle, id } = await start('worker-lost', {}, {
      devices: ['pi-01', 'ghost-01'],
      approval: { required: false },
      edge: { deviceDeadline: 1500, queueWait: 800, restoreDeadline: 1500 },
    });
    const report = await handle.result();
    assert.equal(report.status, 'rollback-failed');
    assert.equal(report.failure?.stage, 'swap');
    assert.equal(report.failure?.deviceId, 'ghost-01');
    // The server reports an activity nobody picked up before its deadline as SCHEDULE_TO_START.
    assert.match(report.failure?.type ?? '', /^ActivityTimeout:SCHEDULE_TO_(START|CLOSE)$/);
    // First pass: ghost-01 unreached, pi-01 restored; then ghost-01 again with the full deadline.
    assert.deepEqual(compensations(report), ['restore ghost-01 FAILED', 'restore pi-01', 'discard ghost-01 FAILED', 'restore ghost-01 FAILED']);
    assert.equal(report.compensations[0].error?.type, 'ActivityTimeout:SCHEDULE_TO_START');
    assert.match(report.compensations[3].error?.type ?? '', /^ActivityTimeout:SCHEDULE_TO_(START|CLOSE)$/);
    assert.ok(report.compensations[3].durationMs >= 1400, `the patient retry waited its deadline (${report.compensations[3].durationMs} ms)`);
    assert.equal(fleet.served.get('pi-01'), before.get('pi-01'));
    assert.deepEqual(report.devices.map((d) => `${d.deviceId}:${d.phase}`), ['pi-01:restored', 'ghost-01:restore-failed']);
    assert.deepEqual(fleet.trace(id, ['swapModel', 'restoreBackup']), ['swapModel pi-01', 'restoreBackup pi-01']);
    await record('worker-lost', handle);
  });

  it('cancellation while awaiting approval: staged artifacts discarded, run ends cancelled', async () => {
    const { handle, id } = await start('cancel-awaiting');
    await awaitingApproval(handle);
    await handle.cancel();
    await assert.rejects(handle.result(), (err: unknown) => err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure);
    const status = await handle.query(statusQuery);
    assert.equal(status.status, 'cancelled');
    assert.equal(status.finished, true);
    assert.equal(status.failure?.type, 'Cancelled');
    assert.deepEqual(compensations(status), ['discard pi-02', 'discard pi-01']);
    assert.deepEqual(fleet.trace(id, ['swapModel', 'restoreBackup', 'discardStaged']), ['discardStaged pi-02', 'discardStaged pi-01']);
    await record('cancel-awaiting', handle);
  });

  it('cancellation after a swap: the swapped device is restored, the unswapped one discarded', async () => {
    const before = new Map(fleet.served);
    const { handle, id } = await start('cancel-after-swap', { validationHangsOn: 'pi-01' }, { approval: { required: false } });
    await waitFor(handle, 'validation of pi-01', (s) => s.devices[0].phase === 'validating');
    assert.notEqual(fleet.served.get('pi-01'), before.get('pi-01'), 'pi-01 was swapped');
    await handle.cancel();
    await assert.rejects(handle.result(), (err: unknown) => err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure);
    const status = await handle.query(statusQuery);
    assert.equal(status.status, 'rolled-back');
    assert.equal(status.failure?.stage, 'validate');
    assert.equal(status.failure?.type, 'Cancelled');
    assert.deepEqual(compensations(status), ['restore pi-01', 'discard pi-02']);
    assert.deepEqual(fleet.trace(id, ['swapModel', 'restoreBackup', 'discardStaged']), ['swapModel pi-01', 'restoreBackup pi-01', 'discardStaged pi-02']);
    assert.equal(fleet.served.get('pi-01'), before.get('pi-01'));
    await record('cancel-after-swap', handle);
  });
});
