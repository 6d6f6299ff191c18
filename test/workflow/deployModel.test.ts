// deployModel on a real Temporal dev server, with its activities replaced (the stand-ins of sim/standIns.ts)
// to drive every path. One server and one set of workers serve the whole file.
// RECORD_HISTORIES=1 also stores each run's history under test/histories/ for the replay test.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { CancelledFailure, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { historyToJSON } from '../helpers/historyJson';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { startDeployment } from '../../clients/startDeployment';
import { CONTROL_TASK_QUEUE, edgeTaskQueue } from '../../common/queues';
import { deploymentWorkflowId, parseDeployRequest, type DeployRequestInput } from '../../common/request';
import { SA_STATUS } from '../../common/searchAttributes';
import type { deployModel } from '../../workflows';
import { approveSignal, decideUpdate, rejectSignal, statusQuery } from '../../workflows/messages';
import type { DeploymentReport, DeploymentStatus } from '../../workflows/report';
import { decisionSenders } from '../../clients/decisionSenders';
import { readDeployment } from '../../clients/deploymentState';
import { listDeviceRecords, readDeviceRecord } from '../../clients/deviceRecords';
import { quietSdkLogs, startTestTemporal } from '../helpers/temporalEnv';
import { testEdgeIdentity } from '../helpers/edgeIdentity';
import { initialSha, StandInFleet, sha, type Scenario } from '../../sim/standIns';
import type { PreflightInput, ValidateDeploymentInput } from '../../common/contracts';
import { defaultGatesAt } from '../../common/gates';
import { DEPLOY_MODEL_WORKFLOW_TYPE } from '../../common/workflowNames';
import { createStandInFleetWorkers } from '../helpers/standInFleetWorkers';

const DEVICES = ['pi-01', 'pi-02'];
/** Histories of runs with device ownership; test/histories/v1 keeps the runs from before it. */
const HISTORY_DIR = path.resolve(__dirname, '..', 'histories', 'v2');

type Handle = WorkflowHandle<typeof deployModel>;

describe('deployModel workflow (real dev server, replaced activities)', function () {
  this.timeout(120_000);
  let env: TestWorkflowEnvironment;
  let workers: Worker[] = [];
  let running: Promise<unknown>;
  const fleet = new StandInFleet([...DEVICES, 'hailo-01']);
  /** Has a test edge worker only in the test that starts one with an old identity. */
  fleet.served.set('old-01', initialSha('old-01'));

  before(async function () {
    this.timeout(90_000);
    quietSdkLogs();
    env = await startTestTemporal();
    // `control` (workflows, leases, resolveDevices) and `gpu` (model work), as a GPU server runs them;
    // the ownership activities are the real ones: they talk to this test server.
    workers = await createStandInFleetWorkers(env, fleet, fleet.deviceIds);
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
    const workflowId = deploymentWorkflowId(name, request.target, sha(checkpointPath));
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

  /**
   * The final report, however the run closed: the result of a completed run, or the report a
   * run that did not deploy carries in its typed failure (whose type is checked).
   */
  async function closed(handle: Handle, expectedType?: string): Promise<DeploymentReport> {
    try {
      const report = await handle.result();
      assert.equal(expectedType, undefined, `the run completed; expected it to fail with ${expectedType}`);
      return report;
    } catch (err) {
      if (!(err instanceof WorkflowFailedError) || !(err.cause instanceof ApplicationFailure)) throw err;
      assert.equal(err.cause.type, expectedType, `closing failure type (${err.cause.message})`);
      assert.equal(err.cause.nonRetryable, true);
      return err.cause.details?.[0] as DeploymentReport;
    }
  }

  const compensations = (r: DeploymentReport): string[] => r.compensations.map((c) => `${c.action} ${c.deviceId}${c.ok ? '' : ' FAILED'}`);

  it('approve by signal: every device swapped and validated, report and search attributes complete', async () => {
    const { handle, id } = await start('approve-signal');
    const waiting = await awaitingApproval(handle);
    assert.equal(waiting.stage, 'approval');
    assert.deepEqual(waiting.decisionFigures?.stagedDevices, DEVICES);
    assert.equal(waiting.decisionFigures?.parity?.minCosine, 0.99999);
    assert.equal(waiting.decisionFigures?.int8Similarity?.minCosine, 0.995);
    // Champion vs challenger: what each device served when it was staged, compared.
    assert.deepEqual(waiting.decisionFigures?.servedComparison?.map((c) => c.deviceIds).flat().sort(), DEVICES);
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
    assert.deepEqual(stages, ['resolve-devices:ok', 'export:ok', 'calibrate:ok', 'compile:ok', 'preflight:ok', 'lease:ok', 'stage:ok', 'compare:ok', 'approval:ok', 'swap pi-01:ok', 'validate pi-01:ok', 'swap pi-02:ok', 'validate pi-02:ok']);
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
    // Who sent each decision, as the server recorded it (the `by` is only a claim).
    const senders = await decisionSenders(env.client, id);
    // Updates the validator refused never reach the history; the ignored signal does.
    assert.deepEqual(senders.map((d) => `${d.via} ${d.name} ${d.by}`), ['signal approve mallory', 'update decide carol']);
    assert.ok(senders.every((d) => d.identity.length > 0), 'every decision names the sending client');
    assert.deepEqual(fleet.trace(id, ['swapModel']), ['swapModel pi-01', 'swapModel pi-02']);
    await record('approve-update', handle);
  });

  it('reject: staged artifacts are discarded, nothing is swapped', async () => {
    const { handle, id } = await start('reject');
    await awaitingApproval(handle);
    await handle.signal(rejectSignal, { by: 'bob', reason: 'INT8 similarity too close to the gate' });
    const report = await closed(handle, 'DeploymentRejected');
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
    const report = await closed(handle, 'DeploymentRejected');
    assert.equal(report.status, 'rejected');
    assert.equal(report.approval?.decision, 'timed-out');
    assert.ok((report.approval?.waitedMs ?? 0) >= 2000, `waited ${report.approval?.waitedMs} ms`);
    assert.deepEqual(fleet.trace(id, ['swapModel', 'restoreBackup', 'discardStaged']), ['discardStaged pi-02', 'discardStaged pi-01']);
    await record('approval-timeout', handle);
  });

  it('target mismatch fails before anything is pushed', async () => {
    const { handle, id } = await start('target-mismatch', { deviceTargets: { 'pi-02': 'hailo8l' } }, { approval: { required: false } });
    const report = await closed(handle, 'DeploymentFailed');
    assert.equal(report.status, 'failed');
    assert.equal(report.failure?.type, 'TargetMismatch');
    assert.equal(report.failure?.stage, 'resolve-devices');
    assert.deepEqual(fleet.trace(id), ['resolveDevices']);
    await record('target-mismatch', handle);
  });

  it('swap fails its health check on the second device: both devices are restored, newest first', async () => {
    const before = new Map(fleet.served);
    const { handle, id } = await start('swap-fails', { swapFailsOn: 'pi-02' }, { approval: { required: false } });
    const report = await closed(handle, 'DeploymentRolledBack');
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
    const report = await closed(handle, 'DeploymentRolledBack');
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

  it('a request that raises gates.maxAbsValue to 1000: every device validation is sent the request value, so outputs reaching 190 pass', async () => {
    // The replaced validateDeployment fails outputs beyond the maxAbsValue it is sent.
    const raised = await start('max-abs-raised', { deviceMaxAbs: 190 }, { approval: { required: false }, gates: { maxAbsValue: 1000 } });
    const report = await closed(raised.handle);
    assert.equal(report.status, 'completed');
    const sent = fleet.callsOf(raised.id).filter((c) => c.activity === 'validateDeployment').map((c) => (c.input as ValidateDeploymentInput).gates);
    assert.equal(sent.length, DEVICES.length);
    for (const gates of sent) assert.deepEqual(gates, { ...defaultGatesAt('device'), maxAbsValue: 1000 });
    const preflight = fleet.callsOf(raised.id).find((c) => c.activity === 'preflightModel')?.input as PreflightInput;
    assert.equal(preflight.gates?.maxAbsValue, 1000, 'the pre-flight checks the same request field');

    // The same outputs under the default gate: the first device fails its validation and is restored.
    const byDefault = await start('max-abs-default', { deviceMaxAbs: 190 }, { approval: { required: false } });
    const rolledBack = await closed(byDefault.handle, 'DeploymentRolledBack');
    assert.deepEqual(rolledBack.devices[0].validation?.failures, ['outputs: max |value| 190 > gate 100']);
  });

  it('a device whose edge worker is gone: its swap fails past its deadline, the others are restored first, the run ends rollback-failed', async () => {
    const before = new Map(fleet.served);
    // ghost-01 is in the inventory but no worker polls edge.ghost-01.
    const { handle, id } = await start('worker-lost', {}, {
      devices: ['pi-01', 'ghost-01'],
      approval: { required: false },
      edge: { deviceDeadline: 1500, queueWait: 800, restoreDeadline: 1500 },
    });
    const report = await closed(handle, 'RollbackFailed');
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
    // A cancelled run has no result: its report is read from the memo, without a worker.
    const read = await readDeployment(env.client, id);
    assert.equal(read.source, 'memo');
    assert.equal(read.status?.status, 'cancelled');
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

  // ---- device ownership ---------------------------------------------------------------------

  const servedBy = (): Record<string, string | null | undefined> => Object.fromEntries(DEVICES.map((d) => [d, fleet.served.get(d)]));

  it('two deployments of different models on the same devices: the second waits its turn, nothing interleaves, reports match the devices', async () => {
    const a = await start('queue-holder');
    await awaitingApproval(a.handle);
    const b = await start('queued-behind-holder');
    const queued = await waitFor(b.handle, 'queued behind the holder', (s) => s.status === 'queued');
    assert.equal(queued.stage, 'lease');
    const waiting = queued.devices.find((d) => d.phase === 'queued');
    assert.equal(waiting?.lease?.position, 1);
    assert.match(waiting?.lease?.holder ?? '', /queue-holder/);
    assert.deepEqual(fleet.trace(b.id, ['pushArtifact', 'swapModel']), [], 'the queued run stages nothing');

    // The device's owner says who holds it and who waits, without any SSH.
    const records = await listDeviceRecords(env.client, DEVICES);
    for (const r of records) {
      assert.equal(r.record?.holder?.deploymentId, a.id);
      if (r.deviceId === 'pi-01') assert.deepEqual(r.record?.queue.map((q) => q.deploymentId), [b.id]);
    }

    await a.handle.signal(approveSignal, { by: 'alice' });
    const reportA = await closed(a.handle);
    assert.equal(reportA.status, 'completed');
    await awaitingApproval(b.handle);
    await b.handle.signal(approveSignal, { by: 'alice' });
    const reportB = await closed(b.handle);
    assert.equal(reportB.status, 'completed');

    // Every change of A happened before B touched anything.
    const order = fleet.calls.filter((c) => (c.workflowId === a.id || c.workflowId === b.id) && ['pushArtifact', 'swapModel', 'validateDeployment'].includes(c.activity)).map((c) => c.workflowId);
    assert.deepEqual(order, [...order.filter((w) => w === a.id), ...order.filter((w) => w === b.id)]);
    // Each device's backup from B's swap is A's artifact: B replaced what A deployed.
    for (const d of reportB.devices) assert.equal(d.backup?.sha256, reportA.artifact?.sha256);
    for (const d of DEVICES) assert.equal(fleet.served.get(d), reportB.artifact?.sha256);

    const after = await waitForRecords((rs) => rs.every((r) => r.record?.holder === null && r.record?.serves?.deploymentId === b.id));
    for (const r of after) {
      assert.equal(r.record?.serves?.sha256, reportB.artifact?.sha256);
      assert.equal(r.record?.serves?.verified, true);
      assert.deepEqual(r.record?.history.slice(-2).map((h) => `${h.deploymentId}:${h.outcome}`), [`${a.id}:deployed`, `${b.id}:deployed`]);
    }
    await record('queued-behind-holder', b.handle);
  });

  async function waitForRecords(predicate: (rs: Awaited<ReturnType<typeof listDeviceRecords>>) => boolean): Promise<Awaited<ReturnType<typeof listDeviceRecords>>> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      // Straight from each owner's description: the visibility store may lag a moment behind.
      const rs = await Promise.all(DEVICES.map(async (deviceId) => ({ deviceId, record: await readDeviceRecord(env.client, deviceId), owner: 'RUNNING' })));
      if (predicate(rs)) return rs;
      if (Date.now() > deadline) throw new Error(`device records never matched: ${JSON.stringify(rs)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('re-running a deployment id: the new run swaps on its own, and its rollback restores what it replaced, not an older model', async () => {
    const first = await start('rerun-rolls-back-to-own-backup', {}, { approval: { required: false } });
    const r1 = await closed(first.handle);
    assert.equal(r1.status, 'completed');
    const deployedByFirst = servedBy();

    // Same id (same model, target and source), another calibration: another artifact.
    const second = await start('rerun-rolls-back-to-own-backup', { validationFailsOn: 'pi-02' }, { approval: { required: false }, calibration: { samples: 1000 } });
    assert.equal(second.id, first.id);
    const r2 = await closed(second.handle, 'DeploymentRolledBack');
    assert.notEqual(r2.runId, r1.runId);
    assert.notEqual(r2.artifact?.sha256, r1.artifact?.sha256);
    assert.deepEqual(r2.devices.map((d) => `${d.deviceId}:${d.phase}:${d.restore?.outcome}`), ['pi-01:restored:restored', 'pi-02:restored:restored']);
    // Each device is back on what the first run deployed, as the second run's report says.
    assert.deepEqual(servedBy(), deployedByFirst);
    for (const d of r2.devices) assert.equal(d.restore?.restoredSha256, r1.artifact?.sha256);
    const restores = fleet.callsOf(second.id).filter((c) => c.activity === 'restoreBackup').map((c) => (c.input as { runId: string }).runId);
    assert.deepEqual(restores, [r2.runId, r2.runId], 'restores name the run that swapped');
    await record('rerun-rolls-back-to-own-backup', second.handle);
  });

  it('a pre-flight gate that fails stops the run before any device is leased or staged', async () => {
    const { handle, id } = await start('preflight-fails', { preflightFails: true }, { approval: { required: false } });
    const report = await closed(handle, 'DeploymentFailed');
    assert.equal(report.failure?.stage, 'preflight');
    assert.equal(report.failure?.type, 'PreflightGateFailed');
    assert.deepEqual(fleet.trace(id, ['preflightModel', 'pushArtifact', 'swapModel', 'discardStaged']), ['preflightModel']);
    const records = await Promise.all(DEVICES.map((d) => readDeviceRecord(env.client, d)));
    assert.ok(records.every((r) => !r || r.history.every((h) => h.deploymentId !== id)), 'no device was ever asked');
    await record('preflight-fails', handle);
  });

  it('a candidate that drifts too far from what the devices serve fails before approval; staged copies are discarded', async () => {
    const { handle, id } = await start('drift-fails', { driftFromServed: 0.3 }, { gates: { maxDriftFromServed: 0.1 } });
    const report = await closed(handle, 'DeploymentFailed');
    assert.equal(report.failure?.stage, 'compare');
    assert.equal(report.failure?.type, 'DriftGateFailed');
    assert.equal(report.approval, undefined, 'nobody was asked to approve');
    assert.deepEqual(fleet.trace(id, ['swapModel', 'discardStaged']), ['discardStaged pi-02', 'discardStaged pi-01']);
    await record('drift-fails', handle);
  });

  it('a swap that fails before switching registers no restore: the run fails with nothing live changed', async () => {
    const before = servedBy();
    const { handle, id } = await start('swap-fails-before-switch', { swapFailsBeforeSwitchOn: 'pi-01' }, { approval: { required: false } });
    const report = await closed(handle, 'DeploymentFailed');
    assert.equal(report.status, 'failed');
    assert.equal(report.failure?.type, 'ArtifactShaMismatch');
    assert.deepEqual(fleet.trace(id, ['swapModel', 'restoreBackup', 'discardStaged']), ['swapModel pi-01', 'discardStaged pi-02', 'discardStaged pi-01']);
    assert.deepEqual(servedBy(), before);
    await record('swap-fails-before-switch', handle);
  });

  it('onBusy "fail" refuses a busy device at once; an approve signal that says "reject" is ignored; a rejected run closes Failed', async () => {
    const holder = await start('busy-holder');
    await awaitingApproval(holder.handle);
    const impatient = await start('busy-impatient', {}, { onBusy: 'fail' });
    const refused = await closed(impatient.handle, 'DeploymentFailed');
    assert.equal(refused.failure?.type, 'DeviceBusy');
    assert.equal(refused.failure?.stage, 'lease');
    assert.match(refused.failure?.message ?? '', /busy-holder/);
    assert.deepEqual(fleet.trace(impatient.id, ['pushArtifact', 'swapModel', 'discardStaged']), []);

    await holder.handle.signal(approveSignal, { by: 'eve', decision: 'reject' } as unknown as { by: string });
    const ignored = await waitFor(holder.handle, 'ignored signal', (s) => s.ignoredMessages.length > 0);
    assert.equal(ignored.status, 'awaiting-approval');
    assert.match(ignored.ignoredMessages[0].reason, /approve signal carries "decision": "reject"/);
    await holder.handle.signal(rejectSignal, { by: 'bob', reason: 'not today' });
    const report = await closed(holder.handle, 'DeploymentRejected');
    assert.equal(report.approval?.decision, 'rejected');

    // Finished runs are read from the server (result, failure details, memo): no query, no worker needed.
    const read = await readDeployment(env.client, holder.id);
    assert.equal(read.source, 'failure');
    assert.equal(read.status?.status, 'rejected');
    const described = await holder.handle.describe();
    assert.equal(described.status.name, 'FAILED');
    assert.equal(described.typedSearchAttributes.get(SA_STATUS), 'rejected');
  });

  it('a device whose edge worker implements edge API 1 is refused at the lease, typed, before anything is staged', async () => {
    // A test edge worker (replaced activities) whose identity says what an old device package says.
    const old = await Worker.create({ connection: env.nativeConnection, taskQueue: edgeTaskQueue('old-01'), activities: fleet.edgeActivities('old-01'), identity: testEdgeIdentity('old-01', 1, '0.0.9') });
    const servedBefore = fleet.served.get('old-01');
    await old.runUntil(async () => {
      await waitForPoller('old-01');
      const { handle, id } = await start('old-edge', {}, { devices: ['pi-01', 'old-01'], approval: { required: false } });
      const report = await closed(handle, 'DeploymentFailed');
      assert.equal(report.status, 'failed');
      assert.equal(report.failure?.type, 'DeviceVersionUnsupported');
      assert.equal(report.failure?.stage, 'lease');
      assert.equal(report.failure?.deviceId, 'old-01');
      assert.match(report.failure?.message ?? '', /0\.0\.9 implements edge API 1; this GPU side needs ≥ 2: upgrade the device package/);
      assert.deepEqual(fleet.trace(id, ['pushArtifact', 'swapModel', 'discardStaged']), [], 'nothing staged, nothing swapped');
      assert.deepEqual(fleet.trace(id, ['exportModel', 'compileModel']), ['exportModel', 'compileModel'], 'the GPU stages ran: the gate is at the lease');
      assert.equal(fleet.served.get('old-01'), servedBefore, 'the old device serves what it served');
      // Refused before its owner was asked: old-01 has no owner, so nobody holds it.
      assert.equal(await readDeviceRecord(env.client, 'old-01'), null);
    });
  });

  async function waitForPoller(deviceId: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const res = await env.client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: edgeTaskQueue(deviceId) }, taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY });
      if ((res.pollers ?? []).length > 0) return;
      if (Date.now() > deadline) throw new Error(`no poller on ${edgeTaskQueue(deviceId)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('a holder that is terminated gives its lease to the next in line', async () => {
    const gone = await start('terminated-holder');
    await awaitingApproval(gone.handle);
    const next = await start('after-terminated-holder');
    await waitFor(next.handle, 'queued', (s) => s.status === 'queued');
    await gone.handle.terminate('operator pulled the plug');
    const waiting = await awaitingApproval(next.handle);
    assert.deepEqual(waiting.decisionFigures?.stagedDevices, DEVICES);
    const records = await waitForRecords((rs) => rs.every((r) => r.record?.holder?.deploymentId === next.id));
    for (const r of records) assert.equal(r.record?.history.at(-1)?.outcome, 'abandoned');
    await next.handle.signal(rejectSignal, { by: 'bob', reason: 'cleanup' });
    await closed(next.handle, 'DeploymentRejected');
  });

  it('a request started without the client gets the same schema: defaults filled, unknown keys refused before any activity', async () => {
    const base = { modelName: 'raw-start', source: { kind: 'checkpoint', checkpointPath: '/checkpoints/raw-start.pt' }, target: 'cpu-int8', devices: DEVICES };
    const ok = await env.client.workflow.start(DEPLOY_MODEL_WORKFLOW_TYPE, { taskQueue: CONTROL_TASK_QUEUE, workflowId: 'raw-start-defaults', args: [{ ...base, approval: { required: false }, edge: {} }] });
    const report = (await ok.result()) as DeploymentReport;
    assert.equal(report.status, 'completed');

    const bad = await env.client.workflow.start(DEPLOY_MODEL_WORKFLOW_TYPE, { taskQueue: CONTROL_TASK_QUEUE, workflowId: 'raw-start-unknown-key', args: [{ ...base, bogus: 1 }] });
    await assert.rejects(bad.result(), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure);
      assert.equal(err.cause.type, 'InvalidRequest');
      assert.match(err.cause.message, /Unrecognized key.*bogus/);
      return true;
    });
    assert.deepEqual(fleet.trace('raw-start-unknown-key'), []);
  });
});
