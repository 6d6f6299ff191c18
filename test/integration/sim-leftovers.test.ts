// A test run recovers from whatever a killed earlier run left in the test state: half-made
// device directories (no device.json yet), their orphaned processes, stale pidfiles, devices of
// an earlier larger fleet. It stops only processes that the pidfile and the process's own
// command line prove are that device's, and it still refuses a directory it cannot prove is
// scratch.
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startSimulatedFleet, type SimulatedFleet } from '../../sim/fleet';
import { deviceLayout, writeDeviceRecord } from '../../sim/layout';
import { DEVICE_MARKER, FLEET_MARKER, FleetDirInUseError, ForeignDirectoryError } from '../../sim/leftovers';
import { isAlive } from '../../sim/pidfile';

/**
 * A detached process standing in for the orphan of a killed run: what identifies it is its
 * command line, which names `argWithPath` the way an orphaned sshd names its sshd_config or a
 * runtime its model directory. It outlives nothing of this test (after() kills what remains).
 */
function orphan(argWithPath: string): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)', argWithPath], { detached: true, stdio: 'ignore' });
  child.unref();
  return child;
}

async function waitUntilGone(pid: number, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !isAlive(pid);
}

describe('simulated fleet: leftovers of a killed run', function () {
  this.timeout(60_000);
  let work: string;
  let testRoot: string;
  let fleet: SimulatedFleet | undefined;
  const children: ChildProcess[] = [];

  beforeEach(() => {
    work = mkdtempSync(path.join(tmpdir(), 'edgeship-leftovers-'));
    testRoot = path.join(work, '.state', 'test');
  });
  afterEach(async () => {
    await fleet?.stop();
    fleet = undefined;
    for (const c of children.splice(0)) if (c.pid && isAlive(c.pid)) process.kill(c.pid, 'SIGKILL');
    rmSync(work, { recursive: true, force: true });
  });

  it('the next start stops the earlier run\'s orphans, removes its half-made devices and succeeds', async () => {
    const baseDir = path.join(testRoot, 'e2e', 'fleet');

    // sim-1: killed after its sshd started and before device.json was written, by a version that
    // wrote no marker: exactly the directory the old refusal ("is not a simulated device
    // directory") stopped every later run on. Its sshd is still running.
    const sim1 = deviceLayout(path.join(baseDir, 'sim-1'));
    for (const d of [sim1.modelDir, sim1.sshDir, sim1.runDir, sim1.logDir]) mkdirSync(d, { recursive: true });
    writeFileSync(sim1.sshdConfig, '# sshd for the simulated device\n');
    writeFileSync(sim1.hostKey, 'half-written key');
    const sshdOrphan = orphan(sim1.sshdConfig);
    children.push(sshdOrphan);
    writeFileSync(sim1.sshdPid, `${sshdOrphan.pid}\n`);
    // Its runtime pidfile names a pid that now belongs to an unrelated process (pid reuse):
    // that process must survive.
    const bystander = orphan('an-unrelated-process');
    children.push(bystander);
    writeFileSync(sim1.runtimePid, `${bystander.pid}\n`);

    // sim-2: a complete device of the earlier run, its worker long dead (stale pidfile).
    const sim2 = deviceLayout(path.join(baseDir, 'sim-2'));
    for (const d of [sim2.modelDir, sim2.runDir]) mkdirSync(d, { recursive: true });
    writeDeviceRecord(sim2, { schema: 'edgeship.simdevice/1', id: 'sim-2', runtimePort: 1, sshPort: 2, projectRoot: work });
    writeFileSync(sim2.workerPid, '999999999\n');

    // sim-3: the earlier run had 3 devices; this one starts 2. Its runtime is still serving.
    const sim3 = deviceLayout(path.join(baseDir, 'sim-3'));
    for (const d of [sim3.modelDir, sim3.runDir]) mkdirSync(d, { recursive: true });
    writeFileSync(path.join(sim3.dir, DEVICE_MARKER), '{}\n');
    const runtimeOrphan = orphan(sim3.modelDir);
    children.push(runtimeOrphan);
    writeFileSync(sim3.runtimePid, `${runtimeOrphan.pid}\n`);

    // The killed run's own fleet file, naming its (dead) process.
    writeFileSync(path.join(baseDir, FLEET_MARKER), JSON.stringify({ pid: 999999999, devices: ['sim-1', 'sim-2', 'sim-3'] }));

    fleet = await startSimulatedFleet({ count: 2, baseDir, sshServer: 'embedded', startRuntimes: false, disposableRoot: testRoot });

    assert.deepEqual(fleet.devices.map((d) => d.id), ['sim-1', 'sim-2']);
    assert.ok(await waitUntilGone(sshdOrphan.pid!), 'the orphaned sshd of sim-1 is stopped');
    assert.ok(await waitUntilGone(runtimeOrphan.pid!), 'the orphaned runtime of sim-3 is stopped');
    assert.ok(isAlive(bystander.pid!), 'a process the pidfile names but whose command line is not the device\'s is left alone');
    assert.ok(!existsSync(sim3.dir), 'the stale sim-3 is removed');
    assert.notEqual(readFileSync(sim1.hostKey, 'utf8'), 'half-written key', 'sim-1 is made afresh');
    for (const d of fleet.devices) assert.ok(existsSync(path.join(d.dir, DEVICE_MARKER)), `${d.id} is marked from the start`);
  });

  it('refuses while another live process runs a fleet in the same directory; takes over once it is gone', async () => {
    const baseDir = path.join(testRoot, 'e2e', 'fleet');
    mkdirSync(baseDir, { recursive: true });
    const otherRun = orphan(baseDir); // a Node process, as every fleet's is
    children.push(otherRun);
    writeFileSync(path.join(baseDir, FLEET_MARKER), JSON.stringify({ pid: otherRun.pid, devices: ['sim-1'] }));
    await assert.rejects(startSimulatedFleet({ count: 1, baseDir, sshServer: 'embedded', startRuntimes: false, disposableRoot: testRoot }), FleetDirInUseError);
    process.kill(otherRun.pid!, 'SIGKILL');
    assert.ok(await waitUntilGone(otherRun.pid!));
    fleet = await startSimulatedFleet({ count: 1, baseDir, sshServer: 'embedded', startRuntimes: false, disposableRoot: testRoot });
    assert.equal(JSON.parse(readFileSync(path.join(baseDir, FLEET_MARKER), 'utf8')).pid, process.pid);
    await fleet.stop();
    fleet = undefined;
    assert.ok(!existsSync(path.join(baseDir, FLEET_MARKER)), 'a stopped fleet leaves the directory free for the next one');
  });

  it('a half-made device this project marked is reclaimed anywhere, also outside the test state root', async () => {
    const baseDir = path.join(work, 'elsewhere', 'fleet');
    const sim1 = deviceLayout(path.join(baseDir, 'sim-1'));
    mkdirSync(sim1.runDir, { recursive: true });
    writeFileSync(path.join(sim1.dir, DEVICE_MARKER), '{}\n');
    writeFileSync(path.join(sim1.dir, 'leftover'), 'x');
    fleet = await startSimulatedFleet({ count: 1, baseDir, sshServer: 'embedded', startRuntimes: false });
    assert.ok(!existsSync(path.join(sim1.dir, 'leftover')));
  });

  it('still refuses a directory outside the test state root that it did not make, and leaves it untouched', async () => {
    const baseDir = path.join(work, 'home', 'fleet');
    const users = path.join(baseDir, 'sim-1');
    mkdirSync(path.join(users, 'run'), { recursive: true });
    writeFileSync(path.join(users, 'notes.txt'), 'my data');
    writeFileSync(path.join(users, 'run', 'sshd.pid'), `${process.pid}\n`);
    await assert.rejects(
      startSimulatedFleet({ count: 1, baseDir, sshServer: 'embedded', startRuntimes: false, disposableRoot: testRoot }),
      (err: unknown) => err instanceof ForeignDirectoryError && /sim-1 exists and is not a simulated device directory; refusing to reuse it/.test(err.message),
    );
    assert.equal(readFileSync(path.join(users, 'notes.txt'), 'utf8'), 'my data');
    assert.ok(existsSync(path.join(users, 'run', 'sshd.pid')), 'not even its pidfile is removed');
  });

  it('does not follow a symlink out of the test state root', async () => {
    const outside = path.join(work, 'users-data');
    mkdirSync(outside, { recursive: true });
    writeFileSync(path.join(outside, 'notes.txt'), 'my data');
    const baseDir = path.join(testRoot, 'e2e', 'fleet');
    mkdirSync(baseDir, { recursive: true });
    symlinkSync(outside, path.join(baseDir, 'sim-1'));
    await assert.rejects(startSimulatedFleet({ count: 1, baseDir, sshServer: 'embedded', startRuntimes: false, disposableRoot: testRoot }), ForeignDirectoryError);
    assert.equal(readFileSync(path.join(outside, 'notes.txt'), 'utf8'), 'my data');
  });
});
