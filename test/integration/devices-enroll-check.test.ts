// `edgeship devices add` and `edgeship devices check` through the real CLI (bin/edgeship) against a
// simulated device with a real OpenSSH sshd, runtime and edge worker process, and a real Temporal
// dev server. The server's long poll is shortened to 5 s (dynamic config) so that a stopped edge
// worker ages out of the task queue's pollers within seconds, checked with --poller-window 15.
import { strict as assert } from 'node:assert';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { checkDevice, type DeviceCheckReport } from '../../clients/deviceCheck';
import { addEdgeVersions } from '../../clients/deviceRecords';
import type { EnrollResult } from '../../clients/enrollment';
import { parseEdgeWorkerIdentity } from '../../common/edgeVersion';
import { loadInventory, parseKnownHostsLine } from '../../lib/inventory';
import { PROJECT_ROOT } from '../../lib/paths';
import { edgeTaskQueue } from '../../common/queues';
import { SA_DEVICES, SA_MODEL, SA_SHA, SA_STAGE, SA_STATUS } from '../../common/searchAttributes';
import { sshFingerprint } from '../../lib/sshFingerprint';
import { findTemporalCli } from '../../lib/temporalCli';
import { shellQuote } from '../../activities/gpu/ssh';
import { startSimulatedFleet, type SimulatedFleet } from '../../sim/fleet';
import { buildTestModels } from '../helpers/edgeModels';
import { generateEd25519KeyPair } from '../../sim/keys';

const run = promisify(execFile);
const EDGESHIP = path.join(PROJECT_ROOT, 'bin', 'edgeship');

interface CliResult { code: number; stdout: string; stderr: string }

async function edgeship(args: string[]): Promise<CliResult> {
  try {
    // stdin is not a terminal: nobody can confirm a key interactively.
    const { stdout, stderr } = await run(EDGESHIP, args, { timeout: 90_000, env: { ...process.env, EDGESHIP_INVENTORY: '' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Runs the CLI on a pseudo-terminal (script(1)), typing `input`; the terminal's output, merged. */
function onTerminal(args: string[], input: string): Promise<{ code: number; output: string }> {
  const command = [EDGESHIP, ...args].map(shellQuote).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], { env: { ...process.env, EDGESHIP_INVENTORY: '' } });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
    child.stdin.end(input);
  });
}

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('edgeship devices add / check against an OpenSSH simulated device', function () {
  this.timeout(300_000);
  let env: TestWorkflowEnvironment;
  let fleet: SimulatedFleet | undefined;
  let work: string;
  let inventory: string;

  before(async function () {
    this.timeout(240_000);
    work = mkdtempSync(path.join(tmpdir(), 'edgeship-enroll-check-'));
    inventory = path.join(work, 'gpu-inventory.json');
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: findTemporalCli() },
        searchAttributes: [SA_MODEL, SA_SHA, SA_STAGE, SA_STATUS, SA_DEVICES],
        extraArgs: ['--log-level', 'error', '--dynamic-config-value', 'matching.longPollExpirationInterval="5s"'],
      },
    });
    const { good } = await buildTestModels('tiny', ['good']);
    fleet = await startSimulatedFleet({
      count: 1, baseDir: path.join(work, 'fleet'), sshServer: 'openssh',
      baseline: { modelPath: good!.path, metadataPath: good!.metadataPath },
      startEdgeWorkers: { temporalAddress: env.address },
    });
  });

  after(async function () {
    this.timeout(60_000);
    await fleet?.stop();
    await env?.teardown();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const sim = () => fleet!.devices[0];
  const pinned = () => parseKnownHostsLine(sim().spec.ssh.knownHosts);
  const addArgs = (id: string, fingerprint: string) => {
    const s = sim().spec;
    return ['devices', 'add', id, '--host', s.ssh.host, '--port', String(s.ssh.port), '--user', s.ssh.user, '--target', s.target, '--key', s.ssh.privateKeyPath,
      '--host-key-fingerprint', fingerprint, '--model-dir', s.modelDir, '--health-url', s.healthUrl, '--inference-url', s.inferenceUrl,
      '--restart-command', JSON.stringify(s.restartCommand), '--inventory', inventory];
  };
  const check = async (id: string, ...extra: string[]): Promise<{ r: CliResult; report: DeviceCheckReport }> => {
    const r = await edgeship(['devices', 'check', id, '--inventory', inventory, '--address', env.address, '--poller-window', '15', '--json', ...extra]);
    return { r, report: JSON.parse(r.stdout) as DeviceCheckReport };
  };
  const byCheck = (report: DeviceCheckReport) => Object.fromEntries(report.checks.map((c) => [c.check, c]));

  it('add: --host-key-fingerprint matching the key the device presents pins it; a mismatch or a duplicate id writes nothing', async () => {
    const fp = sshFingerprint(pinned().key);
    const added = await edgeship([...addArgs('sim-1', fp), '--json']);
    assert.equal(added.code, 0, added.stderr);
    const result = JSON.parse(added.stdout) as EnrollResult;
    assert.equal(result.fingerprint, fp);
    assert.match(added.stderr, new RegExp(`presents ssh-ed25519 ${fp.replace(/[+/]/g, '\\$&')}`));
    const entry = loadInventory(inventory).devices[0];
    assert.ok(parseKnownHostsLine(entry.ssh.knownHosts).key.equals(pinned().key), 'the pinned key is the device\'s host key');
    const written = readFileSync(inventory);

    const otherFp = sshFingerprint(Buffer.from(generateEd25519KeyPair().public.split(' ')[1], 'base64'));
    const mismatch = await edgeship(addArgs('sim-1b', otherFp));
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.stderr, /^edgeship: host key mismatch: 127\.0\.0\.1:\d+ presents ssh-ed25519 SHA256:\S+, not SHA256:\S+: nothing written; check the fingerprint on the device's console/m);
    assert.ok(readFileSync(inventory).equals(written), 'inventory unchanged after a mismatch');

    const duplicate = await edgeship(addArgs('sim-1', fp));
    assert.equal(duplicate.code, 2);
    assert.match(duplicate.stderr, /device sim-1 is already in .*pick another id, or remove its entry first/);
    assert.ok(readFileSync(inventory).equals(written), 'inventory unchanged after a duplicate');

    const noFlag = await edgeship(addArgs('sim-1c', fp).filter((a, i, all) => a !== '--host-key-fingerprint' && all[i - 1] !== '--host-key-fingerprint'));
    assert.equal(noFlag.code, 2);
    assert.match(noFlag.stderr, /no terminal.*pass --host-key-fingerprint/);
    assert.ok(readFileSync(inventory).equals(written), 'inventory unchanged without a confirmation');

    // On a terminal (script(1) gives the CLI a pty): the key is shown and y/N asked.
    const interactive = addArgs('sim-1t', fp).filter((a, i, all) => a !== '--host-key-fingerprint' && all[i - 1] !== '--host-key-fingerprint');
    const no = await onTerminal(interactive, 'n\n');
    assert.equal(no.code, 1, no.output);
    assert.match(no.output, new RegExp(`Pin ssh-ed25519 ${fp.replace(/[+/]/g, '\\$&')} for 127\\.0\\.0\\.1:\\d+\\? \\[y/N\\]`));
    assert.match(no.output, /not confirmed: nothing written/);
    assert.ok(readFileSync(inventory).equals(written), 'inventory unchanged after "n"');
    const yes = await onTerminal(interactive, 'y\n');
    assert.equal(yes.code, 0, yes.output);
    assert.deepEqual(loadInventory(inventory).devices.map((d) => d.id), ['sim-1', 'sim-1t']);
    // Back to the one device the check tests use.
    writeFileSync(inventory, written);
  });

  it('check: all five ✓ with the edge worker and runtime up; an unknown id is a one-line error', async () => {
    assert.ok(existsSync(inventory), 'the add test wrote the inventory');
    await waitFor('versioned poller on edge.sim-1', async () => {
      const res = await env.client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: edgeTaskQueue('sim-1') }, taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY });
      return (res.pollers ?? []).some((p) => parseEdgeWorkerIdentity(p.identity ?? '')?.deviceId === 'sim-1');
    }, 120_000);
    const { r, report } = await check('sim-1');
    assert.equal(r.code, 0, r.stdout);
    assert.equal(report.ok, true);
    const c = byCheck(report);
    assert.deepEqual(report.checks.map((x) => x.check), ['inventory', 'ssh', 'model-dir', 'edge-worker', 'healthz']);
    assert.match(c.ssh.detail, /host key ssh-ed25519 SHA256:\S+ matches the pin/);
    assert.match(c['model-dir'].detail, /staging is writable by root \(probe file created and removed over SFTP\)/);
    assert.equal((c['edge-worker'].data as { version: string }).version, JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')).version);
    assert.equal((c.healthz.data as { sha256: string }).sha256, sim().baselineSha256, '/healthz through the SSH channel names the served model');
    // `edgeship devices` reads the same pollers for its VERSION column.
    const [listed] = await addEdgeVersions(env.client, [{ deviceId: 'sim-1', record: null, owner: 'RUNNING' }]);
    assert.equal(listed.edgeVersion, (c['edge-worker'].data as { version: string }).version);
    const text = await edgeship(['devices', 'check', 'sim-1', '--inventory', inventory, '--address', env.address, '--poller-window', '15']);
    assert.equal(text.code, 0);
    assert.equal(text.stdout.split('\n').filter((l) => l.startsWith('✓ ')).length, 5);

    const unknown = await edgeship(['devices', 'check', 'nope-1', '--inventory', inventory, '--address', env.address]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^edgeship: device nope-1 is not in .* \(known: sim-1\): enroll it with edgeship devices add nope-1/);
    assert.equal(unknown.stderr.trim().split('\n').length, 1);
  });

  it('check through the embedded SSH server (no sshd): /healthz through its channel to the loopback; no edge worker is ✗', async () => {
    const { good } = (await buildTestModels('tiny', ['good'])) as Required<Awaited<ReturnType<typeof buildTestModels>>>;
    const embedded = await startSimulatedFleet({
      count: 1, ids: ['emb-1'], baseDir: path.join(work, 'embedded'), sshServer: 'embedded',
      baseline: { modelPath: good.path, metadataPath: good.metadataPath },
    });
    try {
      // The runtime loads its model after it listens: check once it serves.
      await waitFor('emb-1 serving', async () => (await fetch(embedded.devices[0].spec.healthUrl).catch(() => null))?.status === 200, 60_000);
      const report = await checkDevice({ inventory: embedded.inventoryPath, deviceId: 'emb-1', pollerWindowMs: 15_000, temporal: async () => ({ client: env.client, close: async () => undefined }) });
      const c = byCheck(report);
      assert.equal(c.ssh.ok, true, c.ssh.detail);
      assert.equal(c['model-dir'].ok, true, c['model-dir'].detail);
      assert.equal(c.healthz.ok, true, c.healthz.detail);
      assert.equal((c.healthz.data as { sha256: string }).sha256, embedded.devices[0].baselineSha256);
      assert.equal(c['edge-worker'].ok, false);
      assert.match(c['edge-worker'].detail, /no edge worker polls edge\.emb-1 \(none seen in the last 15 s\)/);
      assert.equal(report.ok, false);
    } finally {
      await embedded.stop();
    }
  });

  it('check: ✗ lines with what to do — worker stopped, runtime stopped, Temporal unreachable, host key not the pinned one', async () => {
    assert.ok(fleet!.killEdgeWorker('sim-1'), 'the edge worker was running');
    // The killed worker's last long poll ages out of the 15 s window (the server's long poll is 5 s here).
    await new Promise((r) => setTimeout(r, 22_000));
    const stopped = await check('sim-1');
    assert.equal(stopped.r.code, 1);
    const c = byCheck(stopped.report);
    assert.equal(c.ssh.ok, true);
    assert.equal(c['model-dir'].ok, true);
    assert.equal(c.healthz.ok, true);
    assert.equal(c['edge-worker'].ok, false);
    assert.match(c['edge-worker'].detail, /no edge worker polls edge\.sim-1 \(none seen in the last 15 s; last seen: edgeship-edge\/\S+ api=2 sim-1@/);
    assert.match(c['edge-worker'].fix ?? '', /start the device's edge worker/);
    const [listed] = await addEdgeVersions(env.client, [{ deviceId: 'sim-1', record: null, owner: 'RUNNING' }], { liveWindowMs: 15_000 });
    assert.equal(listed.edgeVersion, '-', 'no worker polls: VERSION "-"');

    const runtimePid = sim().runtimePid();
    assert.ok(runtimePid);
    process.kill(runtimePid, 'SIGKILL');
    await waitFor('runtime gone', async () => {
      try {
        process.kill(runtimePid, 0);
        return false;
      } catch {
        return true;
      }
    }, 10_000);
    const down = await check('sim-1', '--address', '127.0.0.1:1');
    assert.equal(down.r.code, 1);
    const d = byCheck(down.report);
    assert.equal(d.ssh.ok, true);
    assert.equal(d.healthz.ok, false);
    assert.match(d.healthz.detail, /ECONNREFUSED|refused|closed|open failed/i);
    assert.match(d.healthz.fix ?? '', /start the runtime|AllowTcpForwarding/);
    assert.equal(d['edge-worker'].ok, false);
    assert.match(d['edge-worker'].detail, /cannot reach Temporal at 127\.0\.0\.1:1/);
    assert.match(d['edge-worker'].fix ?? '', /start Temporal or point at it/);

    // The same device pinned with another key: SSH refuses, naming the key seen and the one pinned.
    const wrongPin = path.join(work, 'wrong-pin.json');
    const raw = JSON.parse(readFileSync(inventory, 'utf8')) as { devices: Array<{ ssh: { knownHosts: string } }> };
    const otherKey = generateEd25519KeyPair().public.split(' ').slice(0, 2).join(' ');
    raw.devices[0].ssh.knownHosts = `[127.0.0.1]:${sim().sshPort} ${otherKey}`;
    writeFileSync(wrongPin, JSON.stringify(raw));
    const r = await edgeship(['devices', 'check', 'sim-1', '--inventory', wrongPin, '--address', env.address, '--poller-window', '15', '--json']);
    assert.equal(r.code, 1);
    const w = byCheck(JSON.parse(r.stdout) as DeviceCheckReport);
    assert.equal(w.ssh.ok, false);
    assert.match(w.ssh.detail, new RegExp(`host key mismatch: 127\\.0\\.0\\.1:\\d+ presents ssh-ed25519 ${sshFingerprint(pinned().key).replace(/[+/]/g, '\\$&')}, pinned ssh-ed25519 SHA256:`));
    assert.equal(w['model-dir'].ok, false);
    assert.match(w['model-dir'].detail, /not checked: needs SSH/);
  });
});
