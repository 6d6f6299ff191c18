// A simulated fleet whose edge workers share processes: 6 devices, 3 per workers/edge.ts process.
// Every queue gets a poller from its group's process; killEdgeWorker(id) SIGKILLs that process,
// so its whole group stops (the other group keeps running); restartEdgeWorker(id) brings the
// whole group back once (a second restart for the same group is a no-op), and stop() leaves no
// worker process behind.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import * as path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { edgeTaskQueue } from '../../common/queues';
import { startSimulatedFleet, type SimulatedFleet } from '../../sim/fleet';
import { isAlive, readPid } from '../../sim/pidfile';
import { startTestTemporal } from '../helpers/temporalEnv';
import { parseEdgeWorkerIdentity } from '../../common/edgeVersion';

const ACTIVITY_QUEUE = temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY;

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('simulated fleet: edge workers shared by several devices', function () {
  this.timeout(180_000);
  let env: TestWorkflowEnvironment;
  let fleet: SimulatedFleet | undefined;
  let work: string;

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'edgeship-fleet-workers-'));
    env = await startTestTemporal();
  });

  after(async () => {
    await fleet?.stop();
    await env?.teardown();
    await rm(work, { recursive: true, force: true });
  });

  /** The queue is polled by the edge worker of `pid` (identity edge-<id>@host:<pid>). */
  async function polledBy(deviceId: string, pid: number): Promise<boolean> {
    const res = await env.client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: edgeTaskQueue(deviceId) }, taskQueueType: ACTIVITY_QUEUE });
    return (res.pollers ?? []).some((p) => parseEdgeWorkerIdentity(p.identity ?? '')?.deviceId === deviceId && parseEdgeWorkerIdentity(p.identity ?? '')?.pid === pid && parseEdgeWorkerIdentity(p.identity ?? '')?.host === hostname());
  }

  it('6 devices in 2 worker processes; killing one device\'s worker stops its group, restart brings the group back', async () => {
    fleet = await startSimulatedFleet({
      count: 6, baseDir: path.join(work, 'fleet'), sshServer: 'embedded', startRuntimes: false, devicesPerWorker: 3,
      startEdgeWorkers: { temporalAddress: env.address },
    });
    const f = fleet;
    assert.deepEqual(f.workerGroups, [['sim-1', 'sim-2', 'sim-3'], ['sim-4', 'sim-5', 'sim-6']]);
    assert.deepEqual(f.workerGroupOf('sim-2'), ['sim-1', 'sim-2', 'sim-3']);
    const pidOf = (id: string) => readPid(f.devices.find((d) => d.id === id)!.layout.workerPid);
    const [p1, p2] = [pidOf('sim-1')!, pidOf('sim-4')!];
    assert.ok(p1 && p2 && p1 !== p2);
    for (const id of ['sim-2', 'sim-3']) assert.equal(pidOf(id), p1, `${id} shares sim-1's process`);
    for (const id of ['sim-5', 'sim-6']) assert.equal(pidOf(id), p2, `${id} shares sim-4's process`);
    for (const d of f.devices) await waitFor(`poller on ${edgeTaskQueue(d.id)}`, () => polledBy(d.id, pidOf(d.id)!), 90_000);
    const mem = f.memory();
    assert.equal(mem.kinds.find((k) => k.kind === 'edge-worker')?.processes, 2);
    assert.ok(mem.total.hwmKiB > 0);

    // A crash of sim-2's worker is a crash of its process: sim-1..3 go, sim-4..6 stay.
    assert.equal(f.killEdgeWorker('sim-2'), p1);
    await waitFor(`process ${p1} gone`, () => !isAlive(p1), 10_000);
    assert.ok(isAlive(p2), 'the other group\'s process keeps running');
    assert.equal(f.killEdgeWorker('sim-3'), undefined, 'sim-3\'s worker died with sim-2\'s');

    const restarted = f.restartEdgeWorker('sim-2');
    assert.ok(restarted && restarted !== p1);
    assert.equal(f.restartEdgeWorker('sim-1'), undefined, 'the group runs again: a second restart starts nothing');
    assert.equal(f.restartEdgeWorker('sim-5'), undefined, 'a running group is not restarted');
    for (const id of ['sim-1', 'sim-2', 'sim-3']) {
      assert.equal(pidOf(id), restarted);
      await waitFor(`poller on ${edgeTaskQueue(id)} from the restarted process`, () => polledBy(id, restarted), 90_000);
    }
    for (const id of ['sim-4', 'sim-5', 'sim-6']) assert.ok(await polledBy(id, p2), `${id} is still polled by its process`);

    await f.stop();
    fleet = undefined;
    assert.ok(!isAlive(restarted) && !isAlive(p2), 'stop() ends every worker process');
  });
});
