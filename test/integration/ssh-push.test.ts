// pushArtifact against real OpenSSH sshd processes (simulated devices), and the simulated
// device's restart command against the real edge runtime.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { isAlive } from '../../sim/pidfile';
import { startSimulatedFleet, type SimulatedFleet } from '../../sim/fleet';
import { buildTestModels } from '../helpers/edgeModels';
import { describeSshPush } from '../helpers/sshPushCases';

describeSshPush('openssh');

interface Health {
  ok: boolean;
  uptime_s: number;
  hef_sha256: string;
  device: string;
}

async function waitHealthy(url: string, timeoutMs = 60_000): Promise<Health> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      const body = (await res.json()) as Health;
      if (res.status === 200 && body.ok) return body;
      last = JSON.stringify(body);
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} not healthy within ${timeoutMs} ms: ${last}`);
}

describe('simulated device runtime (OpenSSH fleet)', function () {
  let fleet: SimulatedFleet | undefined;
  let work: string;
  after(async function () {
    await fleet?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('serves the baseline, and its restart command really restarts the runtime; stop() ends it', async function () {
    const { good } = await buildTestModels('tiny');
    assert.ok(good);
    work = mkdtempSync(path.join(tmpdir(), 'edgeship-sim-runtime-'));
    fleet = await startSimulatedFleet({ count: 1, baseDir: work, sshServer: 'openssh', baseline: { modelPath: good.path, metadataPath: good.metadataPath } });
    const [device] = fleet.devices;
    assert.equal(device.baselineSha256, good.sha256);
    const before = await waitHealthy(device.spec.healthUrl);
    assert.equal(before.hef_sha256, good.sha256.slice(0, 16));
    assert.equal(before.device, device.id);
    const oldPid = device.runtimePid();
    assert.ok(oldPid && isAlive(oldPid));
    await new Promise((r) => setTimeout(r, 1500)); // so that a reset uptime is tell-tale

    // Exactly what swapModel does: argv from the inventory, no shell, from another directory.
    const [cmd, ...args] = device.spec.restartCommand;
    const { stdout } = await promisify(execFile)(cmd, args, { cwd: tmpdir(), timeout: 60_000 });
    assert.match(stdout, /"restarted":true/);
    const newPid = device.runtimePid();
    assert.ok(newPid && newPid !== oldPid, `new runtime pid (${newPid} vs ${oldPid})`);
    assert.ok(!isAlive(oldPid), 'the old runtime is gone');
    const afterRestart = await waitHealthy(device.spec.healthUrl);
    assert.ok(afterRestart.uptime_s < before.uptime_s + 1.5, `uptime reset (${afterRestart.uptime_s} s after, ${before.uptime_s} s before + 1.5 s wait)`);
    assert.equal(afterRestart.hef_sha256, good.sha256.slice(0, 16));

    await fleet.stop();
    assert.ok(!isAlive(newPid), 'stop() ends the runtime');
    await assert.rejects(fetch(device.spec.healthUrl));
  });
});
