// Fleet rollouts (request.rollout) on a real Temporal dev server, with the device and GPU
// activities replaced (the stand-ins of sim/standIns.ts: they keep a model of what each device serves, so
// halts and reverts are checked by their effect) and the real ownership activities. One device,
// `f-off`, has no edge worker until a test starts one: it is the offline device.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { startDeployment } from '../../clients/startDeployment';
import { readDeviceRecord, renderDevices } from '../../clients/deviceRecords';
import { listedExecution } from '../../clients/commands/list';
import { deviceRuns, listQuery } from '../../clients/fleetFormat';
import { readLiveWaves } from '../../clients/fleetState';
import { edgeTaskQueue } from '../../common/queues';
import { deploymentWorkflowId, parseDeployRequest, type DeployRequestInput } from '../../common/request';
import type { FleetDeviceRow } from '../../common/rollout';
import type { deployModel } from '../../workflows';
import { approveSignal, pauseSignal, rejectSignal, resumeSignal, statusQuery } from '../../workflows/messages';
import { waveStatusQuery } from '../../workflows/fleet/rolloutWave';
import { WAVE_START_WINDOW } from '../../workflows/fleet/startWindow';
import { historyFigures } from '../../bench/fleet-scale';
import type { DeploymentReport, DeploymentStatus } from '../../workflows/report';
import { testEdgeIdentity } from '../helpers/edgeIdentity';
import { historyToJSON } from '../helpers/historyJson';
import { quietSdkLogs, startTestTemporal } from '../helpers/temporalEnv';
import { StandInFleet, initialSha, sha, type Scenario } from '../../sim/standIns';
import { createStandInFleetWorkers } from '../helpers/standInFleetWorkers';

const ONLINE = ['f-01', 'f-02', 'f-03', 'f-04', 'f-05', 'f-06', 'f-07', 'f-08'];
const OFFLINE = 'f-off';
/** Devices whose edge workers predate this GPU side's edge API (started by their test only). */
const OLD = ['old-01', 'old-02'];
/** A wave wider than the start window (workers started by their test only). */
const WIDE = Array.from({ length: WAVE_START_WINDOW + 4 }, (_, i) => `w-${String(i + 1).padStart(2, '0')}`);

type Handle = WorkflowHandle<typeof deployModel>;

/** RECORD_HISTORIES=1 stores the parent's, the waves' and some devices' histories for the replay test. */
const HISTORY_DIR = path.resolve(__dirname, '..', 'histories', 'fleet');

describe('fleet rollouts (real dev server, replaced activities)', function () {
  this.timeout(180_000);
  let env: TestWorkflowEnvironment;
  const workers: Worker[] = [];
  const running: Array<Promise<unknown>> = [];
  const fleet = new StandInFleet([...ONLINE, OFFLINE, ...OLD, ...WIDE]);

  before(async function () {
    this.timeout(90_000);
    quietSdkLogs();
    env = await startTestTemporal();
    // Cancellations reach a heartbeating activity within a second (as edge workers do within 5 s).
    workers.push(...(await createStandInFleetWorkers(env, fleet, ONLINE, { gateVersions: true, edge: { maxHeartbeatThrottleInterval: '500ms' } })));
    for (const w of workers) running.push(w.run());
  });

  after(async function () {
    this.timeout(60_000);
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await Promise.all(running);
    await env?.teardown();
  });

  async function start(name: string, devices: string[], rollout: DeployRequestInput['rollout'], scenario: Scenario = {}, overrides: Partial<DeployRequestInput> = {}): Promise<{ handle: Handle; id: string }> {
    const checkpointPath = `/checkpoints/${name}.pt`;
    const request = parseDeployRequest({
      modelName: name,
      source: { kind: 'checkpoint', checkpointPath },
      sourceSha256: sha(checkpointPath),
      target: 'cpu-int8',
      devices,
      approval: { required: false },
      rollout,
      ...overrides,
    });
    const id = deploymentWorkflowId(name, request.target, sha(checkpointPath));
    fleet.scenario(id, scenario);
    await startDeployment(env.client, request);
    return { handle: env.client.workflow.getHandle<typeof deployModel>(id), id };
  }

  async function closed(handle: Handle, expectedType?: string): Promise<DeploymentReport> {
    try {
      const report = await handle.result();
      assert.equal(expectedType, undefined, `the run completed; expected ${expectedType}`);
      return report;
    } catch (err) {
      if (!(err instanceof WorkflowFailedError) || !(err.cause instanceof ApplicationFailure)) throw err;
      assert.equal(err.cause.type, expectedType, `closing failure type (${err.cause.message})`);
      return err.cause.details?.[0] as DeploymentReport;
    }
  }

  async function waitFor(handle: Handle, what: string, predicate: (s: DeploymentStatus) => boolean): Promise<DeploymentStatus> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const status = await handle.query(statusQuery);
      if (predicate(status)) return status;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last ${JSON.stringify({ status: status.status, stage: status.stage })}`);
      await new Promise((r) => setTimeout(r, 150));
    }
  }

  /** Stores `<path>--<child suffix or "deployment">.json` for each of the run's workflows named. */
  async function record(name: string, deploymentId: string, children: string[]): Promise<void> {
    if (process.env.RECORD_HISTORIES !== '1') return;
    mkdirSync(HISTORY_DIR, { recursive: true });
    // Child workflow ids derive from the parent's: replay needs each history's own id.
    const idsFile = path.join(HISTORY_DIR, 'workflow-ids.json');
    const ids = existsSync(idsFile) ? (JSON.parse(readFileSync(idsFile, 'utf8')) as Record<string, string>) : {};
    for (const suffix of ['', ...children]) {
      const workflowId = suffix ? `${deploymentId}.${suffix}` : deploymentId;
      const file = `${name}--${suffix || 'deployment'}`;
      writeFileSync(path.join(HISTORY_DIR, `${file}.json`), historyToJSON(await env.client.workflow.getHandle(workflowId).fetchHistory()));
      ids[file] = workflowId;
    }
    writeFileSync(idsFile, `${JSON.stringify(ids, Object.keys(ids).sort(), 2)}\n`);
  }

  /**
   * The device's record once its owner has applied this run's release: the owner takes the
   * release signal in its next workflow task, which may come after the run closed.
   */
  async function releasedRecord(deviceId: string, deploymentId: string): Promise<Awaited<ReturnType<typeof readDeviceRecord>>> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const record = await readDeviceRecord(env.client, deviceId);
      if (record && record.holder?.deploymentId !== deploymentId && record.history.some((h) => h.deploymentId === deploymentId)) return record;
      if (Date.now() > deadline) assert.fail(`the owner of ${deviceId} did not apply the release of ${deploymentId}: ${JSON.stringify(record)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const rows = (r: DeploymentReport): Record<string, FleetDeviceRow> => Object.fromEntries((r.rollout?.devices ?? []).map((d) => [d.deviceId, d]));
  const artifactOf = (r: DeploymentReport): string => r.artifact?.sha256 ?? '';
  const swapped = (id: string): string[] => fleet.trace(id, ['swapModel']).map((t) => t.split(' ')[1]);

  /** Puts every device back on its initial model (each test starts from the same fleet). */
  function resetFleet(): void {
    for (const id of fleet.deviceIds) fleet.served.set(id, initialSha(id));
  }
  beforeEach(resetFleet);

  it('the canary fails: nothing else is swapped, the canary is restored, the run ends rolled-back', async () => {
    const { handle, id } = await start('canary-fails', ONLINE.slice(0, 6), { canary: ['f-01'], waves: [2], maxParallel: 2 }, { validationFailsOnDevices: ['f-01'] });
    const report = await closed(handle, 'DeploymentRolledBack');
    assert.deepEqual(swapped(id), ['f-01']);
    assert.equal(fleet.served.get('f-01'), initialSha('f-01'));
    const r = rows(report);
    assert.equal(r['f-01'].outcome, 'failed');
    assert.equal(r['f-01'].failedStep, 'validate');
    assert.equal(r['f-01'].restore?.outcome, 'restored');
    for (const other of ONLINE.slice(1, 6)) assert.equal(r[other].outcome, 'not-reached');
    assert.equal(report.rollout?.halted?.wave, 'canary');
    assert.deepEqual(report.rollout?.waves.map((w) => `${w.name}:${w.state}`), ['canary:halted', 'wave-1:not-run', 'wave-2:not-run']);
    assert.equal(report.failure?.type, 'DeploymentHalted');
    await record('canary-fails', id, ['canary', 'f-01']);
  });

  it('wave 2 crosses the threshold: the rollout halts and every device it swapped is restored (revert-all)', async () => {
    const devices = ONLINE.slice(0, 8);
    const { handle, id } = await start('halt-revert-all', devices, { canary: { count: 1 }, waves: [3, 4], maxParallel: 1, halt: { maxFailed: 1 } }, { validationFailsOnDevices: ['f-05', 'f-06'] });
    const report = await closed(handle, 'DeploymentRolledBack');
    assert.equal(report.status, 'rolled-back');
    const r = rows(report);
    // wave-2 is f-05..f-08 run one at a time: f-05 fails (1 ≤ maxFailed), f-06 fails (2 > 1) → halt.
    assert.deepEqual(swapped(id), ['f-01', 'f-02', 'f-03', 'f-04', 'f-05', 'f-06']);
    assert.equal(r['f-07'].outcome, 'not-reached');
    assert.equal(r['f-08'].outcome, 'not-reached');
    for (const d of ['f-01', 'f-02', 'f-03', 'f-04']) {
      assert.equal(r[d].outcome, 'validated');
      assert.equal(r[d].revert, 'reverted', d);
    }
    for (const d of devices) assert.equal(fleet.served.get(d), initialSha(d), `${d} serves its old model again`);
    assert.match(report.rollout?.halted?.reason ?? '', /2 devices failed, more than maxFailed 1/);
    const revert = report.rollout?.waves.find((w) => w.name === 'revert');
    assert.equal(revert?.counts.reverted, 4);
    // The owners' records agree: reverted devices were rolled back, the others untouched.
    const owner = await releasedRecord('f-02', id);
    assert.equal(owner?.serves?.sha256, initialSha('f-02'));
    assert.equal(owner?.holder, null);
    // `edgeship list --device f-02` finds this rollout through its device children.
    const listed = [];
    for await (const info of env.client.workflow.list({ query: listQuery({ device: 'f-02' }) })) listed.push(listedExecution(info));
    const run = deviceRuns(listed, 'f-02').find((r) => r.deploymentId === id);
    assert.ok(run, `list --device f-02 shows ${id}: ${JSON.stringify(listed.map((l) => l.workflowId))}`);
    await record('halt-revert-all', id, ['canary', 'wave-1', 'wave-2', 'revert', 'f-05', 'f-02.revert']);
  });

  it('a failed device and the halted wave close Failed with their typed reason; the parent\'s details say why the device failed', async () => {
    const devices = ONLINE.slice(0, 5);
    const { handle, id } = await start('culprit-red', devices, { canary: { count: 1 }, waves: [4], maxParallel: 1, halt: { maxFailed: 0 }, onHalt: 'keep-validated' }, { validationFailsOnDevices: ['f-03'] });
    const report = await closed(handle, 'DeploymentHalted');
    const failedRow = rows(report)['f-03'];
    assert.equal(failedRow.outcome, 'failed');
    const failureType = (failedRow.error ?? '').split(':')[0];
    assert.ok(failureType.length > 0, `the failed row carries its error: ${JSON.stringify(failedRow)}`);
    const closedAs = async (workflowId: string): Promise<{ status: string; type?: string; message?: string }> => {
      const handleOf = env.client.workflow.getHandle(workflowId);
      const { status } = await handleOf.describe();
      if (status.name !== 'FAILED') return { status: status.name };
      try {
        await handleOf.result();
      } catch (err) {
        if (err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure) return { status: status.name, type: err.cause.type ?? undefined, message: err.cause.message };
      }
      return { status: status.name };
    };
    const device = await closedAs(`${id}.f-03`);
    assert.equal(device.status, 'FAILED');
    assert.equal(device.type, failureType);
    assert.match(device.message ?? '', /^f-03: failed at validate: /);
    const wave = await closedAs(`${id}.wave-1`);
    assert.deepEqual([wave.status, wave.type], ['FAILED', 'WaveHalted']);
    // The validated devices and the canary wave stay green.
    assert.equal((await closedAs(`${id}.f-02`)).status, 'COMPLETED');
    assert.equal((await closedAs(`${id}.canary`)).status, 'COMPLETED');
    // The parent still read every device from the failed children: the tally and rows are whole.
    assert.equal(report.rollout?.waves.find((w) => w.name === 'wave-1')?.counts.failed, 1);
    assert.equal(rows(report)['f-02'].outcome, 'validated');
    const failedDevice = report.devices.find((d) => d.deviceId === 'f-03');
    assert.equal(failedDevice?.error?.type, failureType);
    const { currentDetails } = await handle.query<{ currentDetails: string }>('__temporal_workflow_metadata');
    assert.match(currentDetails, new RegExp(`- f\\\\-03: restored \\(serves \x60[0-9a-f]+\x60\\) — failed at validate: ${failureType}: validation failed on f\\\\-03`));
    assert.match(currentDetails, /\n\n- canary/, 'a blank line before the wave list, so it renders as a list');
    // The wave tells each device child what it does (DEVICE_ROLLOUT_CODE): no child records a patch marker.
    for (const d of ['f-02', 'f-03']) {
      const events = (await env.client.workflow.getHandle(`${id}.${d}`).fetchHistory()).events ?? [];
      assert.equal(events.filter((e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_MARKER_RECORDED).length, 0, `${d} records no patch marker`);
    }
    // (culprit-red--*.json were recorded with patch markers in the children, before DEVICE_ROLLOUT_CODE.)
    await record('culprit-red-coded', id, ['canary', 'wave-1', 'f-03', 'f-02']);
  });

  it('keep-validated: the halt leaves validated devices on the new model; failed ones restored; the run closes halted', async () => {
    const devices = ONLINE.slice(0, 8);
    const { handle, id } = await start('halt-keep', devices, { canary: { count: 1 }, waves: [3, 4], maxParallel: 1, halt: { maxFailedPercent: 20, minDoneForPercent: 5 }, onHalt: 'keep-validated' }, { validationFailsOnDevices: ['f-05', 'f-06'] });
    const report = await closed(handle, 'DeploymentHalted');
    assert.equal(report.status, 'halted');
    const sha256 = artifactOf(report);
    // 1 failed of 5 done = 20 % (not above); 2 of 6 = 33 % → halt.
    assert.deepEqual(swapped(id), ['f-01', 'f-02', 'f-03', 'f-04', 'f-05', 'f-06']);
    for (const d of ['f-01', 'f-02', 'f-03', 'f-04']) assert.equal(fleet.served.get(d), sha256, `${d} keeps the new model`);
    for (const d of ['f-05', 'f-06', 'f-07', 'f-08']) assert.equal(fleet.served.get(d), initialSha(d), `${d} on its old model`);
    assert.equal(report.rollout?.waves.some((w) => w.name === 'revert'), false);
    const owner = await releasedRecord('f-03', id);
    assert.equal(owner?.serves?.sha256, sha256);
    // The owner's record lists what the swap left in backups/, as after a plain deployment.
    assert.deepEqual(owner?.backups, [initialSha('f-03')]);
    const restoredOwner = await releasedRecord('f-05', id);
    assert.equal(restoredOwner?.serves?.sha256, initialSha('f-05'));
    assert.deepEqual(restoredOwner?.backups, [initialSha('f-05')]);
    assert.equal(rows(report)['f-03'].backupsOnDevice, undefined, 'backups stay out of the report rows');
    await record('halt-keep-validated', id, ['wave-2']);
  });

  it('a device offline at its turn is skipped (offline: skip), counted apart from failures', async () => {
    const { handle, id } = await start('offline-skip', ['f-01', OFFLINE, 'f-02'], { canary: ['f-01'], offlineAfter: '1500ms' });
    const report = await closed(handle);
    assert.equal(report.status, 'completed');
    const r = rows(report);
    assert.equal(r[OFFLINE].outcome, 'skipped-offline');
    assert.equal(r['f-02'].outcome, 'validated');
    assert.deepEqual(report.rollout?.tally, { done: 2, failed: 0, offline: 1 });
    const owner = await releasedRecord(OFFLINE, id);
    assert.equal(owner?.history.at(-1)?.outcome, 'skipped-offline');
    assert.equal(fleet.served.get(OFFLINE), initialSha(OFFLINE));
    await record('offline-skip', id, [OFFLINE]);
  });

  it('catch-up: the offline device keeps the desired model in its record and gets it when its edge worker returns', async () => {
    const { handle, id } = await start('offline-catch-up', ['f-01', OFFLINE, 'f-02'], { canary: ['f-01'], offline: 'catch-up', offlineAfter: '1500ms', deadline: '3m' });
    await waitFor(handle, 'the catch-up wave', (s) => s.stage === 'catch-up' && s.rollout?.catchUp !== undefined);
    // The owner applies the signal in its next workflow task.
    let waiting = await readDeviceRecord(env.client, OFFLINE);
    for (const deadline = Date.now() + 30_000; !waiting?.desired && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 100));
      waiting = await readDeviceRecord(env.client, OFFLINE);
    }
    assert.equal(waiting?.desired?.deploymentId, id);
    // `edgeship devices` shows it.
    assert.match(renderDevices([{ deviceId: OFFLINE, record: waiting, owner: 'RUNNING' }]), new RegExp(`${waiting?.desired?.sha256.slice(0, 12)} until `));
    // The device comes back: its worker starts polling edge.f-off.
    const late = await Worker.create({ connection: env.nativeConnection, taskQueue: edgeTaskQueue(OFFLINE), activities: fleet.edgeActivities(OFFLINE), identity: testEdgeIdentity(OFFLINE) });
    const lateRun = late.run();
    try {
      const report = await closed(handle);
      assert.equal(report.status, 'completed');
      const r = rows(report);
      assert.equal(r[OFFLINE].outcome, 'validated');
      assert.ok(r[OFFLINE].cameBackAt, 'the report says when the device came back');
      assert.equal(fleet.served.get(OFFLINE), artifactOf(report));
      const after = await releasedRecord(OFFLINE, id);
      assert.equal(after?.desired, undefined, 'the desired model is cleared once delivered');
      assert.equal(after?.serves?.sha256, artifactOf(report));
      await record('offline-catch-up', id, ['catch-up', `${OFFLINE}.catch-up`]);
    } finally {
      late.shutdown();
      await lateRun;
    }
  });

  it('catch-up gives back the leases of devices whose part is done: another deployment to one of them proceeds while the catch-up still waits', async () => {
    const { handle, id } = await start('catch-up-releases', ['f-01', OFFLINE, 'f-02'], { canary: ['f-01'], offline: 'catch-up', offlineAfter: '1500ms', deadline: '3m' });
    await waitFor(handle, 'the catch-up wave', (s) => s.stage === 'catch-up' && s.rollout?.catchUp !== undefined);
    const released = await releasedRecord('f-02', id);
    assert.equal(released?.serves?.deploymentId, id, 'f-02 is recorded as deployed by the rollout');
    // A plain deployment to f-02 takes its lease and completes while the rollout still waits for f-off.
    const other = await start('after-catch-up-release', ['f-02'], undefined);
    const otherReport = await closed(other.handle);
    assert.equal(otherReport.status, 'completed');
    assert.equal(fleet.served.get('f-02'), artifactOf(otherReport));
    assert.equal((await handle.describe()).status.name, 'RUNNING', 'the rollout still waits for the offline device');
    const waiting = await readDeviceRecord(env.client, OFFLINE);
    assert.equal(waiting?.holder?.deploymentId, id, 'the waiting device stays leased to the rollout');
    // Cancelled during the catch-up, the rollout leaves f-01 and f-02 alone: their part was done
    // and handed back (f-02 is another run's now). Nothing to revert: the run closes Cancelled.
    const rolloutSha = (await handle.query(statusQuery)).artifact?.sha256;
    await handle.cancel();
    await assert.rejects(handle.result(), (err: unknown) => err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure);
    assert.equal(fleet.served.get('f-01'), rolloutSha, 'f-01 keeps the rollout\'s model');
    assert.equal(fleet.served.get('f-02'), artifactOf(otherReport), 'f-02 keeps the later deployment');
    assert.ok(!swapped(id).includes(OFFLINE), 'the offline device was never swapped');
    await record('catch-up-releases', id, ['catch-up']);
  });

  it('pause holds new starts (the device in flight finishes) and resume continues where it stopped', async () => {
    let releaseF02 = (): void => undefined;
    const f02Validating = new Promise<void>((resolve) => (releaseF02 = resolve));
    const devices = ONLINE.slice(0, 4);
    const { handle, id } = await start('pause-resume', devices, { canary: ['f-01'], waves: [3], maxParallel: 1 }, { validationWaitsFor: { 'f-02': f02Validating } });
    await waitFor(handle, 'f-02 validating', () => fleet.trace(id, ['validateDeployment']).some((t) => t.includes('f-02')));
    await handle.signal(pauseSignal, { by: 'ops', reason: 'latency alarm on the dashboard' });
    const paused = await waitFor(handle, 'the pause recorded', (s) => s.rollout?.pauses?.at(-1)?.by === 'ops');
    assert.equal(paused.rollout?.pauses?.[0].reason, 'latency alarm on the dashboard');
    // The wave was told: its live status says paused, and the parent's details show how to resume.
    const wave = env.client.workflow.getHandle(`${id}.wave-1`);
    for (const deadline = Date.now() + 10_000; !(await wave.query(waveStatusQuery)).paused; ) {
      if (Date.now() > deadline) assert.fail('the wave never learned of the pause');
      await new Promise((r) => setTimeout(r, 100));
    }
    const { currentDetails } = await handle.query<{ currentDetails: string }>('__temporal_workflow_metadata');
    assert.match(currentDetails, /\*\*paused\*\* by ops since .*: latency alarm on the dashboard — no new device starts; resume with `edgeship resume /);
    // The device in flight finishes; no other device starts while paused.
    releaseF02();
    await waitFor(handle, 'f-02 validated', () => fleet.served.get('f-02') !== initialSha('f-02'));
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(swapped(id), ['f-01', 'f-02'], 'nothing new started while paused');
    assert.equal((await wave.query(waveStatusQuery)).counts.pending, 2);
    // A second pause is ignored with its reason; a resume continues the wave.
    await handle.signal(pauseSignal, { by: 'someone-else' });
    await waitFor(handle, 'the second pause ignored', (s) => s.ignoredMessages.some((m) => m.name === 'pause' && m.by === 'someone-else' && /already paused by ops/.test(m.reason)));
    await handle.signal(resumeSignal, { by: 'ops' });
    const report = await closed(handle);
    assert.equal(report.status, 'completed');
    assert.deepEqual(swapped(id), devices);
    const [pause] = report.rollout?.pauses ?? [];
    assert.equal(pause?.resumedBy, 'ops');
    assert.ok(pause?.resumedAt && pause.resumedAt >= pause.at);
    await record('pause-resume', id, ['wave-1']);
  });

  it(`a wave with more free slots than its start window asks for at most ${WAVE_START_WINDOW} child starts at a time, and every device still rolls out`, async () => {
    const edgeWorkers = await Promise.all(WIDE.map((deviceId) => Worker.create({ connection: env.nativeConnection, taskQueue: edgeTaskQueue(deviceId), activities: fleet.edgeActivities(deviceId), identity: testEdgeIdentity(deviceId) })));
    const runs = edgeWorkers.map((w) => w.run());
    try {
      const wave = WIDE.slice(1);
      const { handle, id } = await start('start-window', WIDE, { canary: [WIDE[0]], waves: [wave.length], maxParallel: wave.length });
      const report = await closed(handle);
      assert.equal(report.status, 'completed');
      assert.deepEqual([...swapped(id)].sort(), WIDE);
      const figures = historyFigures(await env.client.workflow.getHandle(`${id}.wave-1`).fetchHistory());
      assert.equal(figures.children, wave.length);
      assert.equal(figures.maxStartingChildren, WAVE_START_WINDOW, 'the first workflow task fills the window, and no task goes past it');
      await record('start-window', id, ['wave-1']);
    } finally {
      for (const w of edgeWorkers) w.shutdown();
      await Promise.all(runs);
    }
  });

  it('pause is refused on a deployment without a rollout plan', async () => {
    const { handle } = await start('pause-plain', ['f-07'], undefined, {}, { approval: { required: true, timeout: '2m' } });
    await waitFor(handle, 'awaiting approval', (s) => s.status === 'awaiting-approval');
    await handle.signal(pauseSignal, { by: 'ops' });
    const s = await waitFor(handle, 'the pause ignored', (st) => st.ignoredMessages.some((m) => m.name === 'pause'));
    assert.match(s.ignoredMessages[0].reason, /apply to fleet rollouts; this deployment has no rollout plan/);
    await handle.signal(rejectSignal, { by: 'ops', reason: 'done testing' });
    await closed(handle, 'DeploymentRejected');
  });

  it('approval after the canary (with canary vs old-model figures) and before every wave; a rejection reverts the canary', async () => {
    const devices = ONLINE.slice(0, 5);
    const plan = { canary: ['f-01'], waves: [2], approval: 'every-wave' as const, baselineDevices: 2 };
    const approved = await start('approve-each-wave', devices, plan, {}, { approval: { required: true, timeout: '2m' } });
    const first = await waitFor(approved.handle, 'approval after the canary', (s) => s.status === 'awaiting-approval');
    assert.equal(first.awaiting?.gate, 'wave-1');
    const cmp = first.decisionFigures?.canaryComparison;
    assert.equal(cmp?.canary[0]?.deviceId, 'f-01');
    assert.deepEqual(cmp?.baseline.map((b) => b.deviceId), ['f-02', 'f-03']);
    assert.equal(cmp?.ratios?.p95Ms, Number((9 / 11).toFixed(3)));
    assert.deepEqual(swapped(approved.id), ['f-01']);
    await approved.handle.signal(approveSignal, { by: 'alice' });
    const second = await waitFor(approved.handle, 'approval before wave-2', (s) => s.status === 'awaiting-approval' && s.awaiting?.gate === 'wave-2');
    assert.deepEqual(second.rollout?.waves.map((w) => w.state), ['done', 'done', 'awaiting-approval']);
    await approved.handle.signal(approveSignal, { by: 'bob' });
    const report = await closed(approved.handle);
    assert.deepEqual(report.rollout?.waves.map((w) => w.approval?.by ?? null), [null, 'alice', 'bob']);
    for (const d of devices) assert.equal(fleet.served.get(d), artifactOf(report));

    resetFleet();
    const rejected = await start('reject-after-canary', devices, plan, {}, { approval: { required: true, timeout: '2m' } });
    await waitFor(rejected.handle, 'approval after the canary', (s) => s.status === 'awaiting-approval');
    await rejected.handle.signal(rejectSignal, { by: 'carol', reason: 'canary p99 too high' });
    const rejectedReport = await closed(rejected.handle, 'DeploymentRejected');
    assert.equal(rows(rejectedReport)['f-01'].revert, 'reverted');
    assert.deepEqual(swapped(rejected.id), ['f-01']);
    for (const d of devices) assert.equal(fleet.served.get(d), initialSha(d));
    await record('approve-each-wave', approved.id, []);
    await record('reject-after-canary', rejected.id, ['revert']);
  });

  it('a soak that sees a device degrade counts it as failed and restores it', async () => {
    const { handle, id } = await start('soak-degrades', ONLINE.slice(0, 3), { canary: ['f-01'], soak: '2s', halt: { maxFailed: 1 } }, { soakDegradesOn: ['f-03'] });
    const report = await closed(handle);
    const r = rows(report);
    assert.equal(r['f-03'].outcome, 'failed');
    assert.equal(r['f-03'].failedStep, 'soak');
    assert.equal(fleet.served.get('f-03'), initialSha('f-03'));
    assert.equal(fleet.served.get('f-02'), artifactOf(report));
    await record('soak-degrades', id, ['f-03']);
  });

  it('two rollouts over overlapping devices at once: the second waits for the shared devices, nothing interleaves; a re-run reuses the id', async () => {
    const a = await start('overlap-a', ['f-01', 'f-02', 'f-03', 'f-04'], { canary: { count: 1 }, maxParallel: 2 });
    const b = await start('overlap-b', ['f-03', 'f-04', 'f-05', 'f-06'], { canary: { count: 1 }, maxParallel: 2 });
    const [ra, rb] = await Promise.all([closed(a.handle), closed(b.handle)]);
    assert.equal(ra.status, 'completed');
    assert.equal(rb.status, 'completed');
    for (const d of ['f-01', 'f-02']) assert.equal(fleet.served.get(d), artifactOf(ra));
    for (const d of ['f-05', 'f-06']) assert.equal(fleet.served.get(d), artifactOf(rb));
    // On each shared device, one run's device work all comes before the other's, and the device
    // serves what the later one deployed (whichever got the leases first).
    for (const d of ['f-03', 'f-04']) {
      const owners = fleet.calls.filter((c) => c.deviceId === d && (c.workflowId === a.id || c.workflowId === b.id)).map((c) => (c.workflowId === a.id ? 'a' : 'b'));
      const switches = owners.filter((o, i) => i > 0 && o !== owners[i - 1]).length;
      assert.equal(switches, 1, `${d}: ${owners.join('')}`);
      assert.equal(fleet.served.get(d), artifactOf(owners.at(-1) === 'a' ? ra : rb), d);
    }
    // A re-run of a closed rollout is a new run with the same child ids, on its own journals.
    resetFleet();
    const rerun = await start('overlap-a', ['f-01', 'f-02', 'f-03', 'f-04'], { canary: { count: 1 }, maxParallel: 2 }, { validationFailsOnDevices: ['f-04'] });
    const again = await closed(rerun.handle, 'DeploymentRolledBack');
    assert.notEqual(again.runId, ra.runId);
    for (const d of ['f-01', 'f-02', 'f-03', 'f-04']) assert.equal(fleet.served.get(d), initialSha(d), `${d} back on what it served before the re-run`);
  });

  it('devices whose edge workers are too old count as failed with DeviceVersionUnsupported, nothing staged: API 1 refused by the push, a worker without probeServing at the probe', async () => {
    // Test edge workers with replaced activities: old-01 says it implements edge API 1; old-02 has no
    // versioned identity and no probeServing, like an edge worker from before both.
    const { probeServing: _absent, ...withoutProbe } = fleet.edgeActivities('old-02');
    const olds = [
      await Worker.create({ connection: env.nativeConnection, taskQueue: edgeTaskQueue('old-01'), activities: fleet.edgeActivities('old-01'), identity: testEdgeIdentity('old-01', 1, '0.0.9') }),
      await Worker.create({ connection: env.nativeConnection, taskQueue: edgeTaskQueue('old-02'), activities: withoutProbe }),
    ];
    const runs = olds.map((w) => w.run());
    try {
      for (const id of OLD) {
        for (const deadline = Date.now() + 30_000; ; await new Promise((r) => setTimeout(r, 200))) {
          const res = await env.client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: edgeTaskQueue(id) }, taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY });
          if ((res.pollers ?? []).length > 0) break;
          assert.ok(Date.now() < deadline, `a poller on ${edgeTaskQueue(id)}`);
        }
      }
      const { handle, id } = await start('old-edge-workers', ['f-01', ...OLD], { canary: ['f-01'], maxParallel: 2, halt: { maxFailed: 2 } });
      const report = await closed(handle);
      const r = rows(report);
      assert.equal(r['f-01'].outcome, 'validated');
      assert.equal(r['old-01'].outcome, 'failed');
      assert.equal(r['old-01'].failedStep, 'stage');
      assert.match(r['old-01'].error ?? '', /^DeviceVersionUnsupported: .*0\.0\.9 implements edge API 1; this GPU side needs ≥ 2: upgrade the device package/);
      assert.equal(r['old-02'].outcome, 'failed');
      assert.equal(r['old-02'].failedStep, 'probe');
      assert.match(r['old-02'].error ?? '', /^DeviceVersionUnsupported: .*does not implement probeServing/);
      assert.deepEqual(report.rollout?.tally, { done: 3, failed: 2, offline: 0 });
      // Nothing reached either old device: no push, no swap, no discard, the model they served is theirs.
      assert.deepEqual(fleet.trace(id, ['pushArtifact', 'swapModel', 'discardStaged', 'restoreBackup']).filter((t) => /old-0/.test(t)), []);
      for (const d of OLD) assert.equal(fleet.served.get(d), initialSha(d));
    } finally {
      for (const w of olds) w.shutdown();
      await Promise.all(runs);
    }
  });

  it('cancellation mid-wave: the device being validated and every device swapped before are restored', async () => {
    const devices = ONLINE.slice(0, 6);
    const { handle, id } = await start('cancel-mid-wave', devices, { canary: ['f-01'], waves: [5], maxParallel: 2 }, { validationHangsOn: 'f-03' });
    await waitFor(handle, 'f-03 validating', () => fleet.trace(id, ['validateDeployment']).includes('validateDeployment f-03'));
    // Let the other lane finish a device or two while f-03 hangs.
    await new Promise((r) => setTimeout(r, 1500));
    // What `edgeship watch` reads: the running wave's live counts from its own query.
    const live = await readLiveWaves(env.client, (await handle.query(statusQuery)).rollout);
    assert.ok((live['wave-1']?.running ?? []).includes('f-03'), JSON.stringify(live));
    await handle.cancel();
    await assert.rejects(handle.result(), (err: unknown) => err instanceof WorkflowFailedError);
    const description = await handle.describe();
    assert.equal(description.status.name, 'CANCELLED');
    for (const d of devices) assert.equal(fleet.served.get(d), initialSha(d), `${d} serves its old model again`);
    const report = (description.memo?.edgeshipReport ?? undefined) as DeploymentReport | undefined;
    assert.equal(report?.status, 'rolled-back');
    assert.ok(fleet.trace(id, ['restoreBackup']).includes('restoreBackup f-01'));
    await record('cancel-mid-wave', id, ['wave-1', 'f-03']);
  });
});
