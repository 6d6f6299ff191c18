// The control plane has its own task queue: with every `gpu` slot held by compiles that do not
// end (replaced compileModel activities that block until released, as a real Hailo compile holds a
// slot for an hour), deployments still take and release their device leases and a device owner
// still notices a holder that was terminated. Before `control` existed, the lease, release and
// owner-check activities queued behind those compiles on `gpu`.
import assert from 'node:assert/strict';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { readDeviceRecord } from '../../clients/deviceRecords';
import { startDeployment } from '../../clients/startDeployment';
import { deploymentWorkflowId, parseDeployRequest } from '../../common/request';
import type { deployModel } from '../../workflows';
import { approveSignal, statusQuery } from '../../workflows/messages';
import type { DeploymentStatus } from '../../workflows/report';
import { quietSdkLogs, startTestTemporal } from '../helpers/temporalEnv';
import { StandInFleet, sha, type Scenario } from '../../sim/standIns';
import { createStandInFleetWorkers } from '../helpers/standInFleetWorkers';

type Handle = WorkflowHandle<typeof deployModel>;
/** `gpu` activity slots of the GPU server in this test: few, like a real one's. */
const GPU_SLOTS = 2;
const DEVICES = ['cp-01', 'cp-02', 'busy-01', 'busy-02'];

describe('control plane on its own task queue (real dev server, replaced activities)', function () {
  this.timeout(120_000);
  let env: TestWorkflowEnvironment;
  let workers: Worker[] = [];
  let running: Promise<unknown>;
  const fleet = new StandInFleet(DEVICES);

  before(async function () {
    this.timeout(90_000);
    quietSdkLogs();
    env = await startTestTemporal();
    workers = await createStandInFleetWorkers(env, fleet, DEVICES, { gpu: { maxConcurrentActivityTaskExecutions: GPU_SLOTS } });
    running = Promise.all(workers.map((w) => w.run()));
  });

  after(async function () {
    this.timeout(60_000);
    fleet.releaseCompiles();
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await running;
    await env?.teardown();
  });

  async function start(name: string, devices: string[], scenario: Scenario = {}): Promise<{ handle: Handle; id: string }> {
    const checkpointPath = `/checkpoints/${name}.pt`;
    const request = parseDeployRequest({ modelName: name, source: { kind: 'checkpoint', checkpointPath }, sourceSha256: sha(checkpointPath), target: 'cpu-int8', devices, approval: { timeout: '2m' } });
    const id = deploymentWorkflowId(name, request.target, sha(checkpointPath));
    fleet.scenario(id, scenario);
    await startDeployment(env.client, request);
    return { handle: env.client.workflow.getHandle<typeof deployModel>(id), id };
  }

  async function until<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const value = await read();
      if (ok(value)) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const status = (h: Handle) => (): Promise<DeploymentStatus> => h.query(statusQuery);
  const holderOf = (deviceId: string) => async (): Promise<string | null | undefined> => (await readDeviceRecord(env.client, deviceId))?.holder?.deploymentId;

  it('every gpu slot held by a compile: a deployment still takes and releases its leases, and an owner still notices a terminated holder', async () => {
    // Before the GPU fills: one holder per device, each with a run queued behind it.
    const finishing = await start('cp-finishing', ['cp-01']);
    const abandoned = await start('cp-abandoned', ['cp-02']);
    await until('holders awaiting approval', async () => [await status(finishing.handle)(), await status(abandoned.handle)()], (s) => s.every((x) => x.status === 'awaiting-approval'));
    const nextOnFinishing = await start('cp-next-1', ['cp-01']);
    const nextOnAbandoned = await start('cp-next-2', ['cp-02']);
    await until('runs queued behind the holders', async () => [await status(nextOnFinishing.handle)(), await status(nextOnAbandoned.handle)()], (s) => s.every((x) => x.status === 'queued'));

    // One more compile that does not end than there are gpu slots: every slot is held, one waits.
    const compiles = [
      await start('cp-compile-1', ['busy-01'], { compileBlocks: true }),
      await start('cp-compile-2', ['busy-02'], { compileBlocks: true }),
      await start('cp-compile-3', ['busy-01'], { compileBlocks: true }),
    ];
    await until('every gpu slot held by a compile', async () => fleet.blockedCompiles, (n) => n === GPU_SLOTS);
    const compiling = () => compiles.filter((c) => fleet.trace(c.id, ['compileModel']).length > 0).length;

    // A deployment finishes on its devices and releases its lease; the run queued behind it gets it.
    await finishing.handle.signal(approveSignal, { by: 'alice' });
    assert.equal((await finishing.handle.result()).status, 'completed');
    assert.equal(await until('the next run holds cp-01', holderOf('cp-01'), (h) => h === nextOnFinishing.id), nextOnFinishing.id);

    // A holder that is terminated: the owner checks it (describeDeploymentRun) and grants the next.
    await abandoned.handle.terminate('operator pulled the plug');
    assert.equal(await until('the next run holds cp-02', holderOf('cp-02'), (h) => h === nextOnAbandoned.id), nextOnAbandoned.id);
    const record = await readDeviceRecord(env.client, 'cp-02');
    assert.equal(record?.history.at(-1)?.deploymentId, abandoned.id);
    assert.equal(record?.history.at(-1)?.outcome, 'abandoned');

    // All of that happened while the gpu slots stayed full and the third compile still waited for one.
    assert.equal(fleet.blockedCompiles, GPU_SLOTS);
    assert.equal(compiling(), GPU_SLOTS);

    // Stopped before their compiles end: a run that went on to ask for a lease while the workers
    // drain would wait for an owner that no worker runs any more.
    for (const h of [nextOnFinishing, nextOnAbandoned, ...compiles]) await h.handle.terminate('end of test');
    fleet.releaseCompiles();
  });
});
