// The deviceOwner workflow on a real dev server, driven directly through its messages (no
// deployments): leases by update-with-start, a grant to a run that no longer exists, and
// continue-as-new carrying the record.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { WithStartWorkflowOperation, WorkflowIdConflictPolicy, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createOwnershipActivities } from '../../activities/gpu/ownership';
import { DEVICE_OWNER_CODE, DEVICE_OWNER_WORKFLOW_TYPE, deviceOwnerWorkflowId, type DeviceOwnerInput, type DeviceRecord, type LeaseRequest } from '../../common/ownership';
import { CONTROL_TASK_QUEUE } from '../../common/queues';
import { SA_DEVICES, SA_SHA } from '../../common/searchAttributes';
import { deviceQuery, releaseLeaseSignal, requestLeaseUpdate } from '../../workflows/deviceMessages';
import { historyToJSON } from '../helpers/historyJson';
import { quietSdkLogs, startTestTemporal } from '../helpers/temporalEnv';

const EventType = temporal.api.enums.v1.EventType;
type EventType = temporal.api.enums.v1.EventType;

describe('deviceOwner workflow (real dev server)', function () {
  this.timeout(120_000);
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;

  before(async function () {
    this.timeout(90_000);
    quietSdkLogs();
    env = await startTestTemporal();
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: CONTROL_TASK_QUEUE,
      workflowsPath: require.resolve('../../workflows'),
      activities: createOwnershipActivities(env.client, { holderCheckIntervalMs: 300 }),
    });
    running = worker.run();
  });

  after(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  async function ask(client: Client, deviceId: string, input: Partial<DeviceOwnerInput>, req: LeaseRequest) {
    return client.workflow.executeUpdateWithStart(requestLeaseUpdate, {
      args: [req],
      startWorkflowOperation: new WithStartWorkflowOperation(DEVICE_OWNER_WORKFLOW_TYPE, {
        workflowId: deviceOwnerWorkflowId(deviceId),
        taskQueue: CONTROL_TASK_QUEUE,
        // Today's owner, as the lease activity starts it.
        args: [{ deviceId, code: DEVICE_OWNER_CODE, ...input }],
        typedSearchAttributes: [{ key: SA_DEVICES, value: [deviceId] }],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      }),
    });
  }

  /** A run id shaped like Temporal's (a UUID), derived from the name so releases can name it. */
  const runOf = (deploymentId: string): string => {
    const h = createHash('sha256').update(deploymentId).digest('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
  };
  const lease = (deploymentId: string, onBusy: LeaseRequest['onBusy'] = 'queue'): LeaseRequest => ({ deploymentId, runId: runOf(deploymentId), modelName: 'm', onBusy });

  /** RECORD_HISTORIES=1 stores the owner's history for the replay test (test/histories/owner/). */
  async function recordHistory(name: string, owner: ReturnType<Client['workflow']['getHandle']>): Promise<void> {
    if (process.env.RECORD_HISTORIES !== '1') return;
    const dir = path.resolve(__dirname, '..', 'histories', 'owner');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `${name}.json`), historyToJSON(await owner.fetchHistory()));
  }

  async function until(deviceId: string, what: string, predicate: (r: DeviceRecord) => boolean): Promise<DeviceRecord> {
    const handle = env.client.workflow.getHandle(deviceOwnerWorkflowId(deviceId));
    const deadline = Date.now() + 20_000;
    for (;;) {
      const record = await handle.query(deviceQuery);
      if (predicate(record)) return record;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(record)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** A lease request from a real, running workflow (another device's owner stands in for a deployment run). */
  async function liveRun(name: string): Promise<LeaseRequest> {
    const handle = await env.client.workflow.start('deviceOwner', { workflowId: `live-run-${name}`, taskQueue: CONTROL_TASK_QUEUE, args: [{ deviceId: `live-${name}`, code: DEVICE_OWNER_CODE }] });
    return { deploymentId: handle.workflowId, runId: handle.firstExecutionRunId, modelName: 'm', onBusy: 'queue' };
  }

  it('refuses a malformed request in the validator, and a busy device with onBusy "fail"', async () => {
    const a = await liveRun('a');
    const first = await ask(env.client, 'own-01', {}, a);
    assert.equal(first.granted, true);
    await assert.rejects(ask(env.client, 'own-01', {}, { ...lease('b'), onBusy: 'maybe' as LeaseRequest['onBusy'] }), (err: unknown) => {
      assert.ok(err instanceof WorkflowUpdateFailedError);
      assert.match(String((err.cause as Error).message), /onBusy must be one of queue, fail/);
      return true;
    });
    await assert.rejects(ask(env.client, 'own-01', {}, { ...lease('b'), runId: 'not-a-run' }), (err: unknown) => {
      assert.ok(err instanceof WorkflowUpdateFailedError);
      assert.match(String((err.cause as Error).message), /runId must be a Temporal run id/);
      return true;
    });
    await assert.rejects(ask(env.client, 'own-01', {}, lease('b', 'fail')), (err: unknown) => {
      assert.ok(err instanceof WorkflowUpdateFailedError);
      assert.equal((err.cause as { type?: string }).type, 'DeviceBusy');
      return true;
    });
    const record = await until('own-01', 'a holds, nobody waits', (r) => r.holder?.deploymentId === a.deploymentId);
    assert.deepEqual(record.queue, []);
  });

  it('an idle, held owner runs no timer and no activity; an onBusy "fail" request finds a holder that ended and takes the lease', async () => {
    const holder = await liveRun('idle-holder');
    assert.equal((await ask(env.client, 'own-04', {}, holder)).granted, true);
    const owner = env.client.workflow.getHandle(deviceOwnerWorkflowId('own-04'));
    // Many check intervals (300 ms here) pass with the lease held and nobody waiting.
    await new Promise((r) => setTimeout(r, 2000));
    const kinds = async (): Promise<EventType[]> => ((await owner.fetchHistory()).events ?? []).map((e) => e.eventType ?? EventType.EVENT_TYPE_UNSPECIFIED);
    const quiet = await kinds();
    assert.ok(!quiet.includes(EventType.EVENT_TYPE_TIMER_STARTED), 'no timer while idle');
    assert.ok(!quiet.includes(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED), 'no activity while idle');
    const tasks = (events: EventType[]): number => events.filter((e) => e === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED).length;
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(tasks(await kinds()), tasks(quiet), 'no workflow task while idle');
    // The holder ends without releasing; a request that would be refused checks it first.
    await env.client.workflow.getHandle(holder.deploymentId).terminate('gone without releasing');
    const b = await liveRun('b-fail');
    assert.equal((await ask(env.client, 'own-04', {}, { ...b, onBusy: 'fail' })).granted, true);
    const record = await until('own-04', 'b holds', (r) => r.holder?.deploymentId === b.deploymentId);
    assert.equal(record.history.at(-1)?.outcome, 'abandoned');
  });

  it('a queued run that no longer exists when its turn comes is skipped for the next', async () => {
    await ask(env.client, 'own-02', {}, lease('holder'));
    // Neither of these runs exists as a workflow: the grant signal cannot reach them.
    assert.equal((await ask(env.client, 'own-02', {}, lease('ghost-1'))).position, 1);
    assert.equal((await ask(env.client, 'own-02', {}, lease('ghost-2'))).position, 2);
    await env.client.workflow.getHandle(deviceOwnerWorkflowId('own-02')).signal(releaseLeaseSignal, { deploymentId: 'holder', runId: runOf('holder'), outcome: { kind: 'untouched', deploymentStatus: 'rejected' } });
    const record = await until('own-02', 'both ghosts skipped', (r) => r.holder === null && r.queue.length === 0);
    assert.deepEqual(record.history.map((h) => `${h.deploymentId}:${h.outcome}`), ['holder:untouched', 'ghost-1:abandoned', 'ghost-2:abandoned']);
  });

  it('publishes what operators read and nothing else: the memo when the record changes, EdgeshipSha when the served model changes, no patch marker', async () => {
    const owner = env.client.workflow.getHandle(deviceOwnerWorkflowId('own-05'));
    const events = async () => (await owner.fetchHistory()).events ?? [];
    const count = (all: Awaited<ReturnType<typeof events>>, type: EventType): number => all.filter((e) => e.eventType === type).length;
    assert.equal((await ask(env.client, 'own-05', {}, lease('p1'))).granted, true);
    const leased = await events();
    assert.equal(count(leased, EventType.EVENT_TYPE_MARKER_RECORDED), 0, 'no patch marker: the input says what the owner does');
    assert.equal(count(leased, EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES), 0, 'EdgeshipDevices came with the start; nothing else changed');
    assert.equal(count(leased, EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED), 1, 'one memo: the holder (the empty first record is not published)');
    let described = await owner.describe();
    assert.equal((described.memo?.edgeshipDevice as DeviceRecord).holder?.deploymentId, 'p1');

    const sha = 'ab'.repeat(32);
    await owner.signal(releaseLeaseSignal, { deploymentId: 'p1', runId: runOf('p1'), outcome: { kind: 'deployed', servesSha256: sha, deploymentStatus: 'completed' } });
    await until('own-05', 'p1 released', (r) => r.holder === null);
    const released = await events();
    assert.equal(count(released, EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED), 2);
    const upserts = released.filter((e) => e.eventType === EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES);
    assert.deepEqual(upserts.map((e) => Object.keys(e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {})), [['EdgeshipSha']]);
    described = await owner.describe();
    assert.equal(described.typedSearchAttributes.get(SA_SHA), sha);
    assert.deepEqual(described.typedSearchAttributes.get(SA_DEVICES), ['own-05']);
    assert.equal((described.memo?.edgeshipDevice as DeviceRecord).serves?.sha256, sha);

    // The same model again: the record changes (history, backups), the sha does not.
    assert.equal((await ask(env.client, 'own-05', {}, lease('p2'))).granted, true);
    await owner.signal(releaseLeaseSignal, { deploymentId: 'p2', runId: runOf('p2'), outcome: { kind: 'deployed', servesSha256: sha, deploymentStatus: 'completed' } });
    await until('own-05', 'p2 released', (r) => r.holder === null && r.history.length === 2);
    assert.equal(count(await events(), EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES), 1, 'no upsert for a sha already published');
    await recordHistory('coded', owner);
  });

  it('an owner started before owner codes existed keeps its recorded commands: the patch marker, and the held/idle status with every memo', async () => {
    const owner = env.client.workflow.getHandle(deviceOwnerWorkflowId('own-06'));
    await ask(env.client, 'own-06', { code: undefined }, lease('u1'));
    await owner.signal(releaseLeaseSignal, { deploymentId: 'u1', runId: runOf('u1'), outcome: { kind: 'deployed', servesSha256: 'cd'.repeat(32), deploymentStatus: 'completed' } });
    await until('own-06', 'u1 released', (r) => r.holder === null);
    const events = (await owner.fetchHistory()).events ?? [];
    assert.equal(events.filter((e) => e.eventType === EventType.EVENT_TYPE_MARKER_RECORDED).length, 1);
    const statuses = events.flatMap((e) => {
      const field = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.EdgeshipStatus;
      return field?.data ? [JSON.parse(Buffer.from(field.data).toString('utf8')) as string] : [];
    });
    assert.deepEqual(statuses.slice(-2), ['held', 'idle']);
    await recordHistory('uncoded', owner);
  });

  it('continues as new with its record once its history grows past the bound', async () => {
    const handle = env.client.workflow.getHandle(deviceOwnerWorkflowId('own-03'));
    let firstRunId: string | undefined;
    const sha = (i: number): string => i.toString(16).padStart(64, '0');
    for (let i = 1; i <= 12; i++) {
      await ask(env.client, 'own-03', { continueAfterEvents: 40 }, lease(`d${i}`));
      await handle.signal(releaseLeaseSignal, { deploymentId: `d${i}`, runId: runOf(`d${i}`), outcome: { kind: 'deployed', servesSha256: sha(i), deploymentStatus: 'completed' } });
      await until('own-03', `d${i} released`, (r) => r.holder === null);
      firstRunId ??= (await handle.describe()).runId;
    }
    const described = await handle.describe();
    assert.notEqual(described.runId, firstRunId, 'the owner continued as new at least once');
    const record = await handle.query(deviceQuery);
    assert.equal(record.serves?.sha256, sha(12));
    assert.equal(record.serves?.deploymentId, 'd12');
    assert.equal(record.history.length, 12, 'the history survived continue-as-new');
    // Each continued run starts with the memo and attributes: `edgeship devices` never sees a gap.
    const started = ((await env.client.workflowService.getWorkflowExecutionHistory({ namespace: env.client.options.namespace, execution: { workflowId: handle.workflowId, runId: described.runId } })).history?.events ?? [])[0]?.workflowExecutionStartedEventAttributes;
    assert.ok(started?.memo?.fields?.edgeshipDevice, 'the continued run starts with its memo');
    assert.ok(started?.searchAttributes?.indexedFields?.EdgeshipSha, 'and with EdgeshipSha');
    assert.ok(started?.searchAttributes?.indexedFields?.EdgeshipDevices, 'and with EdgeshipDevices');
  });
});
