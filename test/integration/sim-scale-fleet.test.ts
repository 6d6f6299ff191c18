// The fleet-rollout scale test (bench/fleet-scale.ts) at a small size, both ways of
// routing device-side activities (one shared queue; a Worker per edge.<id> queue), plus its
// history arithmetic and the shared-queue stand-ins' device lookup.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { temporal } from '@temporalio/proto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { PROJECT_ROOT } from '../../lib/paths';
import { deviceIdOfCall, StandInFleet } from '../../sim/standIns';
import { historyFigures } from '../../bench/fleet-scale';
import { WAVE_START_WINDOW } from '../../workflows/fleet/startWindow';

const run = promisify(execFile);
const E = temporal.api.enums.v1.EventType;

describe('scale test (bench/fleet-scale.ts)', function () {
  this.timeout(300_000);
  let work: string;

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'edgeship-scale-'));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('counts the children pending at once, those starting at once, and the largest event of a history', () => {
    const ev = (eventType: temporal.api.enums.v1.EventType) => ({ eventType });
    const f = historyFigures({
      events: [
        ev(E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED),
        ev(E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED), // pending 1, starting 1
        ev(E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED), // starting 0
        ev(E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED),
        ev(E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED), // pending 3, starting 2
        ev(E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED),
        ev(E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED), // pending 2, starting 0
        ev(E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED),
        ev(E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED),
        { eventType: E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, workflowExecutionCompletedEventAttributes: { result: { payloads: [{ data: new Uint8Array(5000) }] } } },
      ],
    });
    assert.equal(f.events, 10);
    assert.equal(f.children, 3);
    assert.equal(f.maxPendingChildren, 3);
    assert.equal(f.maxStartingChildren, 2);
    assert.equal(f.largestEventType, 'WORKFLOW_EXECUTION_COMPLETED');
    assert.ok(f.largestEventBytes > 5000 && f.bytes > f.largestEventBytes);
  });

  it('stand-ins on a shared queue find the device in the calling deviceRollout\'s workflow id', async () => {
    const idOf = (workflowId: string) => new MockActivityEnvironment({ workflowExecution: { workflowId, runId: 'r' } }).run(async () => deviceIdOfCall());
    assert.equal(await idOf('deploy-m-cpu-fp32-abc.dev-0042'), 'dev-0042');
    assert.equal(await idOf('deploy-m-cpu-fp32-abc.dev-0042.revert'), 'dev-0042');
    assert.equal(await idOf('deploy-m-cpu-fp32-abc.dev-7.catch-up'), 'dev-7');
    const probe = (await new MockActivityEnvironment({ workflowExecution: { workflowId: "d.dev-3", runId: "r" } }).run(new StandInFleet([]).edgeActivities(deviceIdOfCall).probeServing, {})) as { deviceId: string };
    assert.equal(probe.deviceId, 'dev-3');
  });

  const bench = (args: string[]) => run(process.execPath, ['--require', 'tsx/cjs', 'bench/fleet-scale.ts', '--devices', '12', '--wave-size', '4', '--canary-percent', '10', '--timeout-min', '4', ...args], { cwd: PROJECT_ROOT, maxBuffer: 16 * 1024 * 1024 });
  const rolledOut = (stdout: string): void => {
    assert.match(stdout, /rollout closed COMPLETED after .*: status completed; devices 12 validated/);
    assert.match(stdout, /canary 2, then 3 wave\(s\) of 4\/4\/2/);
    assert.match(stdout, /pending children per workflow\s+\d+ of 2000/);
    assert.match(stdout, /deviceOwner workflows: 12 \(12 running\)/);
    assert.match(stdout, /no limit approached/);
  };

  it('rolls 12 devices out in waves of 4 (one shared edge queue), then runs the bare-engine program of the same shape and prints both side by side, twice in alternating order', async () => {
    const { stdout } = await bench(['--dir', path.join(work, 'shared'), '--rounds', '2']);
    rolledOut(stdout);
    assert.match(stdout, /THE BARE-ENGINE PROGRAM \(not edgeship\)/);
    assert.match(stdout, /bareDevice\s+12 × +29\.0 events \(\d+\.\d KiB\), 5\.0 workflow tasks, 4\.0 activities/);
    assert.match(stdout, /history per device\s+\d+\.\d KiB\s+\d+\.\d KiB\n/);
    // The dev server's own counters: both programs ask for the same persistence work per device.
    assert.match(stdout, /persistence_requests UpdateWorkflowExecution\s+\d+\.\d\d\s+\d+\.\d\d\n/);
    assert.match(stdout, /node \(main thread\)\s+\d+\.\d\d\s+\d+\.\d\d\n/);
    assert.match(stdout, /round 2 of 2: THE BARE-ENGINE PROGRAM[^\n]*\n[\s\S]*round 2 of 2: edgeship/, 'the second round runs the bare engine first');
    assert.match(stdout, /==== 2 rounds ====[\s\S]*ratio: median \d+\.\d\d×, range \d+\.\d\d–\d+\.\d\d×; pooled/);
    assert.match(stdout, /bareOwner\s+12 ×/);
    assert.match(stdout, /devices\s+12\s+12\n/);
    assert.match(stdout, /workflow executions\s+(\d+)\s+\1\n/, 'the same number of workflow executions in both programs');
    assert.match(stdout, /ratio edgeship \/ bare engine \(devices\/s\): \d+\.\d\d×/);
    assert.match(stdout, /goals \(issue 17, 2,000 devices on this machine\): .* — this run had 12 devices/);
  });

  it('rolls 12 devices out with a Worker per edge.<id> queue (edgeship alone: the bare engine has no devices to route)', async () => {
    const { stdout } = await bench(['--program', 'edgeship', '--edge-queues', 'per-device', '--dir', path.join(work, 'per-device')]);
    rolledOut(stdout);
    assert.doesNotMatch(stdout, /BARE-ENGINE/);
  });

  it(`a wave of 27 devices, all allowed to run at once, asks for at most ${WAVE_START_WINDOW} child starts at a time (the start window)`, async () => {
    const { stdout } = await bench(['--program', 'edgeship', '--devices', '30', '--wave-size', '30', '--max-parallel', '30', '--dir', path.join(work, 'window')]);
    assert.match(stdout, /rollout closed COMPLETED after .*: status completed; devices 30 validated/);
    // wave  devices  events  history  largest event  max pending  max starting  time
    const row = /^\s+wave-1\s+27\s+.*\s(\d+)\s+(\d+)\s+\d+\.\d s$/m.exec(stdout);
    assert.ok(row, `no wave-1 row in:\n${stdout}`);
    assert.equal(Number(row[2]), WAVE_START_WINDOW, 'the first workflow task fills the window, and no task goes past it');
  });

  it('runs the bare-engine program with a start window (--bare-start-window), every device done', async () => {
    const { stdout } = await bench(['--program', 'bare', '--bare-start-window', '2', '--dir', path.join(work, 'bare-window')]);
    assert.match(stdout, /bareDevice\s+12 × +29\.0 events/);
    assert.match(stdout, /bareWave\s+4 ×/);
  });

  it('refuses --bare-start-window with --program edgeship, which runs no bare program', async () => {
    const err = await bench(['--program', 'edgeship', '--bare-start-window', '10', '--dir', path.join(work, 'refused-window')]).then(() => undefined, (e: unknown) => e as { stderr: string; code: number });
    assert.ok(err, 'the bench should have refused');
    assert.match(err.stderr, /--bare-start-window shapes the bare-engine program/);
  });

  it('refuses --rounds for a single program instead of running it once', async () => {
    const err = await bench(['--program', 'edgeship', '--rounds', '3', '--dir', path.join(work, 'refused-rounds')]).then(() => undefined, (e: unknown) => e as { stderr: string; code: number });
    assert.ok(err, 'the bench should have refused');
    assert.match(err.stderr, /--rounds compares the two programs, and --program edgeship runs one/);
  });

  it('refuses edgeship-only options when both programs would run, with the fix', async () => {
    const err = await bench(['--edge-queues', 'per-device', '--dir', path.join(work, 'refused')]).then(() => undefined, (e: unknown) => e as { stderr: string; code: number });
    assert.ok(err, 'the bench should have refused');
    assert.match(err.stderr, /add --program edgeship/);
  });
});
