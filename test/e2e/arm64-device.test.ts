// The device package proven on the Raspberry Pi 5's architecture: an arm64 Debian root (cached,
// sim/arm64/build-root.sh) run through qemu-aarch64 with QEMU_CPU=cortex-a76, the arm64
// .deb installed in it with apt, its runtime and edge worker started from the installed units'
// own ExecStart/User/Group/Environment/WorkingDirectory (no systemd as PID 1 in a chroot:
// sim/arm64/unitProcess.ts mirrors them), an sshd inside on a loopback port making it a
// device. Then the ordinary pipeline from this machine's GPU worker: an INT8 model staged over
// SFTP, swapped, validated on the device — its INT8 agreement measured by the ARM kernels — and a
// failing candidate rolled back, /healthz proving each state. Bad input: the amd64 package in
// the arm64 root is refused by dpkg/apt with nothing installed; an unknown device id fails before
// anything is touched. Every latency printed here is EMULATED (qemu on this x86-64 host, ~80×
// slower than native), never a Pi figure; the validation gates are loosened for it explicitly.
// Needs root and qemu-user-static; in npm test's second lane.
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { ArtifactStore } from '../../activities/gpu/artifactStore';
import { ensureDemoCheckpoint } from '../../activities/gpu/demoCheckpoint';
import { awaitFinalReport } from '../../clients/deploymentState';
import { startDeployment } from '../../clients/startDeployment';
import { stateDir } from '../../lib/paths';
import { edgeTaskQueue } from '../../common/queues';
import { parseDeployRequest, type DeployRequest } from '../../common/request';
import { ensureDevicePackage } from '../../packaging/build/cachedDeb';
import { ROLLBACK_DEMO_P95_MS } from '../../sim/demoRequest';
import { EmulatedArm64Root } from '../../sim/arm64/emulatedRoot';
import { aptInstallDeb, dpkgStatus, MODEL_DIR, startPackagedDevice, UNITS, type PackagedDevice } from '../../sim/arm64/packagedDevice';
import { checkInstalledUnit, findSystemdAnalyze } from '../../sim/arm64/unitChecks';
import { emulationHostMismatch, ensureAarch64Binfmt, ensureRootTarball } from '../../sim/arm64/rootCache';
import { ensureKeyPair } from '../../sim/keys';
import { freePort } from '../../sim/net';
import { createGpuWorker } from '../../workers/gpuWorker';
import type { WorkerHandle } from '../../workers/workerHandle';
import { approveSignal, statusQuery } from '../../workflows/messages';
import { quietSdkLogs, startTestTemporal } from '../helpers/temporalEnv';

const WORK = path.join(stateDir(), 'test', 'arm64-device');
const DEVICE_ID = 'pi5-arm64-emulated';
const ACTIVITY_QUEUE = temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY;

const say = (line: string) => console.log(`    ${line}`);

/**
 * The .deb of `npm run package:device -- --arch <arch>`, through the package's own cache
 * (test-artifacts/device-package, rebuilt when a source changed; EDGESHIP_DEVICE_DEB names one).
 */
function devicePackage(arch: 'arm64' | 'amd64'): string {
  const started = Date.now();
  const deb = ensureDevicePackage(arch, say);
  assert.ok(deb.endsWith(`_${arch}.deb`), `${deb} is the ${arch} package`);
  say(`${path.basename(deb)}: ${(statSync(deb).size / 2 ** 20).toFixed(1)} MiB (${((Date.now() - started) / 1000).toFixed(0)} s to build or find)`);
  return deb;
}

async function healthz(url: string): Promise<{ status: number; sha?: string; body: Record<string, unknown> }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  const body = (await res.json()) as Record<string, unknown>;
  return { status: res.status, sha: body.ok === true ? String(body.hef_sha256) : undefined, body };
}

async function waitForPoller(client: Client, queue: string, timeoutMs: number, logFile: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: queue }, taskQueueType: ACTIVITY_QUEUE });
    if ((res.pollers ?? []).length > 0) return;
    if (Date.now() > deadline) assert.fail(`no edge worker polls ${queue} after ${timeoutMs / 1000} s; its log ${logFile}:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function waitForApproval(handle: Awaited<ReturnType<typeof startDeployment>>['handle']): Promise<void> {
  const deadline = Date.now() + 600_000;
  for (;;) {
    const status = await handle.query(statusQuery);
    if (status.awaiting) return;
    if (status.finished) assert.fail(`deployment ended before approval: ${status.status} ${JSON.stringify(status.failure)}`);
    if (Date.now() > deadline) assert.fail(`no approval stage after 600 s (stage ${status.stage})`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * The request for the emulated device. Loosened on purpose, because inference here runs ~80×
 * slower than natively: the latency and throughput gates (the emulator's, not a Pi's), fewer
 * sequential requests, a longer health wait for a model load under qemu. The device INT8
 * agreement gate (deviceMinCosine 0.99) is NOT loosened: it is the figure this proves.
 */
function emulatedRequest(checkpointPath: string, opts: { mode: 'deploy' | 'rollback'; devices?: string[] }): DeployRequest {
  return parseDeployRequest({
    modelName: 'tcn-vae-arm64',
    source: { kind: 'checkpoint', checkpointPath },
    target: opts.mode === 'deploy' ? 'cpu-int8' : 'cpu-fp32',
    ...(opts.mode === 'rollback' ? { conv2d: true } : {}),
    devices: opts.devices ?? [DEVICE_ID],
    calibration: { samples: 512 },
    gates: { p95LatencyMs: opts.mode === 'rollback' ? ROLLBACK_DEMO_P95_MS : 20_000, minThroughputRps: 0.2 },
    validation: { latencyRequests: 100, concurrency: 2, throughputDurationMs: 5000 },
    approval: { required: true, timeout: '1h' },
    edge: { healthTimeoutMs: 600_000, deviceDeadline: '30m' },
  });
}

describe("e2e: the device package on the Pi 5's architecture (arm64 under qemu, cortex-a76: figures are EMULATED)", function () {
  this.timeout(1_800_000);
  const wallStart = Date.now();
  let env: TestWorkflowEnvironment;
  let root: EmulatedArm64Root;
  let debs: { arm64: string; amd64: string };
  let device: PackagedDevice | undefined;
  let client: Client;
  let connection: Connection;
  let nativeConnection: NativeConnection;
  let gpuWorker: WorkerHandle | undefined;
  let gpuRunning: Promise<void> | undefined;
  let checkpoint: string;
  let int8Sha: string | undefined;

  before(async function () {
    quietSdkLogs();
    const mismatch = emulationHostMismatch();
    if (mismatch) {
      console.log(`    skipped: ${mismatch}`);
      this.skip();
    }
    await ensureAarch64Binfmt(say);
    const tarball = await ensureRootTarball(say);
    if (tarball.builtMs !== undefined) say(`built the arm64 root in ${(tarball.builtMs / 1000).toFixed(0)} s (once per machine)`);
    mkdirSync(WORK, { recursive: true });
    // arm64 first: in npm test the package's own integration test builds the amd64 one meanwhile.
    debs = { arm64: devicePackage('arm64'), amd64: devicePackage('amd64') };
    root = await EmulatedArm64Root.start({ tarball: tarball.path, parent: path.join(WORK, 'roots'), log: say });
    say(`restored the arm64 root in ${(root.restoreMs / 1000).toFixed(1)} s`);
    env = await startTestTemporal();
    connection = await Connection.connect({ address: env.address });
    client = new Client({ connection, namespace: 'default' });
    nativeConnection = await NativeConnection.connect({ address: env.address });
    checkpoint = (await ensureDemoCheckpoint(path.join(WORK, 'tcn-vae-demo.pt'))).path;
  });

  after(async () => {
    if (gpuWorker) {
      gpuWorker.worker.shutdown();
      await gpuRunning;
    }
    await device?.stop();
    await root?.stop();
    await nativeConnection?.close();
    await connection?.close();
    await env?.teardown();
    say(`test wall time ${((Date.now() - wallStart) / 1000).toFixed(0)} s`);
  });

  it("refuses the amd64 package in the arm64 root with dpkg's architecture error, nothing installed", async () => {
    const r = await aptInstallDeb(root, debs.amd64);
    assert.notEqual(r.code, 0, `apt-get must refuse the amd64 package:\n${r.output}`);
    // apt names the foreign package (edgeship-device:amd64), whose nodejs:amd64 no arm64 system has.
    assert.match(r.output, /edgeship-device:amd64 : Depends: nodejs:amd64/);
    assert.match(r.output, /^E: /m);
    say(`apt-get install ./${path.basename(debs.amd64)} refused: ${r.output.split('\n').filter((l) => /edgeship-device:amd64 :|^E:/.test(l)).map((l) => l.trim()).join(' | ')}`);
    const dpkg = await root.exec(['/usr/bin/dpkg', '-i', `/var/cache/edgeship-proof/${path.basename(debs.amd64)}`]);
    assert.notEqual(dpkg.code, 0);
    assert.match(dpkg.stderr, /package architecture \(amd64\) does not match system \(arm64\)/);
    say(`dpkg -i refused: ${dpkg.stderr.split('\n').find((l) => l.includes('does not match'))?.trim()}`);
    assert.equal(await dpkgStatus(root, 'edgeship-device'), undefined, 'dpkg does not know the package: nothing half-installed');
    assert.equal(existsSync(root.hostPath('/usr/lib/edgeship-device')), false, 'no file of it on disk');
    assert.equal(existsSync(root.hostPath('/usr/bin/edgeship-device')), false);
    assert.doesNotMatch(readFileSync(root.hostPath('/etc/passwd'), 'utf8'), /^edgeship:/m, 'its postinst never ran');
  });

  it('installs the arm64 package with apt and runs its units as the edgeship user; the GPU worker sees the device', async () => {
    const r = await aptInstallDeb(root, debs.arm64);
    assert.equal(r.code, 0, `apt-get install failed:\n${r.output}`);
    say(`apt-get install ./${path.basename(debs.arm64)} (emulated arm64 dpkg and postinst): ${(r.ms / 1000).toFixed(1)} s`);
    assert.match((await dpkgStatus(root, 'edgeship-device')) ?? '', /^install ok installed arm64 /);
    const version = (await root.run(['/usr/bin/edgeship-device', '--version'], { timeoutMs: 300_000 })).trim();
    assert.match(version, /linux\/arm64/, `the installed CLI runs on the arm64 node: ${version}`);
    say(version);
    // postinst: the model directory, staging/ group-writable with setgid for the deploy user.
    const staging = statSync(root.hostPath(`${MODEL_DIR}/staging`));
    assert.equal(staging.mode & 0o2070, 0o2070, `staging/ is group-writable with setgid (mode ${(staging.mode & 0o7777).toString(8)})`);

    // What the chroot cannot mirror, checked on the installed unit files by systemd-analyze.
    const analyze = findSystemdAnalyze();
    assert.ok(analyze, 'systemd-analyze (Debian package systemd) checks the units\' sandboxing, which a chroot cannot apply');
    for (const unit of UNITS) {
      const check = checkInstalledUnit(root.dir, unit, analyze);
      assert.deepEqual(check.verifyProblems, [], `systemd-analyze verify ${unit}`);
      say(`${unit}: systemd-analyze verify clean; security --offline exposure ${check.exposure} ${check.rating} (${check.systemdVersion} of this host)`);
    }

    const gpuKey = ensureKeyPair(path.join(WORK, 'gpu_ed25519'), 'edgeship-gpu-server');
    device = await startPackagedDevice(root, {
      id: DEVICE_ID,
      temporalAddress: env.address,
      namespace: 'default',
      sshPort: await freePort(),
      runtimePort: await freePort(),
      gpuKey,
      logDir: path.join(WORK, 'logs'),
    });
    for (const [unit, directives] of Object.entries(device.notMirrored)) {
      const names = [...new Set(directives.map((d) => d.replace(/^\[\w+\] /, '').split('=')[0]))];
      say(`${unit}: mirrored ExecStart, User, Group, WorkingDirectory, Environment(File), UMask, NoNewPrivileges, Restart*, TimeoutStopSec, ConditionPathExists; not in a chroot (the unit file's own checks cover them): ${names.join(', ') || 'none'}`);
    }

    // Each unit's process runs as User=/Group= of its unit file.
    const passwd = readFileSync(root.hostPath('/etc/passwd'), 'utf8').split('\n').map((l) => l.split(':'));
    for (const unit of device.units) {
      const pid = unit.current()?.innerPid();
      assert.ok(pid, `${unit.name} runs`);
      const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      const want = passwd.find((f) => f[0] === unit.unit.user)?.[2];
      assert.ok(unit.unit.user && want, `${unit.name} names a user that exists`);
      assert.equal(uid, want, `${unit.name} runs as ${unit.unit.user} (uid ${want})`);
    }

    const health = await healthz(device.spec.healthUrl);
    assert.equal(health.status, 503, 'a fresh device serves no model yet');
    await waitForPoller(client, edgeTaskQueue(DEVICE_ID), 600_000, device.logFiles.worker);

    gpuWorker = await createGpuWorker({
      inventory: { devices: [device.spec] },
      connection: nativeConnection,
      namespace: 'default',
      modelActivityOptions: { storeDir: new ArtifactStore(path.join(WORK, 'artifacts')).root },
    });
    gpuRunning = gpuWorker.run();
  });

  it('deploys an INT8 model over SFTP to it: staged, swapped, validated on the ARM kernels (device INT8 cosine), /healthz names it', async () => {
    assert.ok(device, 'the device runs');
    const { handle, workflowId } = await startDeployment(client, emulatedRequest(checkpoint, { mode: 'deploy' }));
    await waitForApproval(handle);
    await handle.signal(approveSignal, { by: 'arm64-proof' });
    const { report, executionStatus } = await awaitFinalReport(client, workflowId);
    assert.equal(executionStatus, 'COMPLETED', JSON.stringify(report.failure));
    assert.equal(report.status, 'completed');
    assert.ok(report.artifact);
    const state = report.devices.find((d) => d.deviceId === DEVICE_ID);
    assert.ok(state?.staged && !state.staged.reused, 'the artifact was staged over SFTP to the device');
    assert.equal(state?.backup, null, 'a first install: nothing to back up');
    const v = state?.validation;
    assert.ok(v?.passed, `validation passed: ${JSON.stringify(v?.failures)}`);
    const binding = v.outputs.binding;
    assert.ok(binding, 'the INT8 artifact carried its binding windows and the device ran them');
    assert.equal(binding.answered, binding.windows);
    assert.ok(binding.minCosine >= v.gates.deviceMinCosine, `device INT8 agreement ${binding.minCosine} ≥ ${v.gates.deviceMinCosine}`);
    say(`device-side INT8 agreement on emulated cortex-a76 (onnxruntime linux-arm64 kernels), ${binding.windows} windows vs FP32: min cosine ${binding.minCosine.toFixed(5)}, mean ${binding.meanCosine.toFixed(5)}, max relative error ${binding.maxRelativeError.toFixed(4)} (gate ≥ ${v.gates.deviceMinCosine})`);
    say(`EMULATED latency (qemu cortex-a76 on this x86-64 host; not a Pi figure): p50 ${v.latencyMs.p50.toFixed(1)} ms, p95 ${v.latencyMs.p95.toFixed(1)} ms, p99 ${v.latencyMs.p99.toFixed(1)} ms over ${v.latencyMs.count} sequential requests; EMULATED throughput ${v.throughput.rps.toFixed(1)} req/s at concurrency ${v.throughput.concurrency}`);
    const stages = report.stages.map((s) => `${s.stage} ${((s.durationMs ?? 0) / 1000).toFixed(1)} s`).join(', ');
    say(`stages: ${stages}`);
    const health = await healthz(device.spec.healthUrl);
    assert.equal(health.sha, report.artifact.sha256.slice(0, 16), '/healthz names the new model');
    int8Sha = report.artifact.sha256;
  });

  it('rolls back a candidate that fails its validation on the device: /healthz names the INT8 model again', async () => {
    assert.ok(device && int8Sha, 'the INT8 model is deployed');
    const { handle, workflowId } = await startDeployment(client, emulatedRequest(checkpoint, { mode: 'rollback' }));
    await waitForApproval(handle);
    await handle.signal(approveSignal, { by: 'arm64-proof' });
    const { report, executionStatus } = await awaitFinalReport(client, workflowId);
    assert.equal(executionStatus, 'FAILED');
    assert.equal(report.status, 'rolled-back', JSON.stringify(report.failure));
    assert.equal(report.failure?.type, 'ValidationGateFailed');
    const state = report.devices.find((d) => d.deviceId === DEVICE_ID);
    assert.equal(state?.backup?.sha256, int8Sha, 'the swap backed up the INT8 model');
    const restore = report.compensations.find((c) => c.action === 'restore');
    assert.ok(restore?.ok, `the restore ran and succeeded: ${JSON.stringify(restore?.error)}`);
    say(`rollback: EMULATED p95 ${state?.validation?.latencyMs.p95.toFixed(1)} ms against the ${ROLLBACK_DEMO_P95_MS} ms gate → restored in ${((restore.durationMs ?? 0) / 1000).toFixed(1)} s`);
    const health = await healthz(device.spec.healthUrl);
    assert.equal(health.sha, int8Sha.slice(0, 16), '/healthz names the INT8 model again');
    // Informative only: a qemu-user process's peak RSS holds the emulator and its translation
    // cache besides node; the native (amd64) figure is the package's own measurement.
    for (const unit of device.units) {
      const inner = unit.current()?.innerPid();
      const hwm = inner ? /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${inner}/status`, 'utf8'))?.[1] : undefined;
      say(`${unit.name}: peak RSS ${hwm ? (Number(hwm) / 1024).toFixed(0) : '?'} MiB under qemu-user (EMULATED, informative only; started ${unit.starts()} time(s))`);
    }
  });

  it('fails a deployment to an unknown device id before touching the arm64 device', async () => {
    assert.ok(device && int8Sha);
    const { workflowId } = await startDeployment(client, emulatedRequest(checkpoint, { mode: 'deploy', devices: [DEVICE_ID, 'pi5-not-enrolled'] }));
    const { report, executionStatus } = await awaitFinalReport(client, workflowId);
    assert.equal(executionStatus, 'FAILED');
    assert.equal(report.status, 'failed');
    assert.equal(report.failure?.type, 'DeviceNotFound');
    assert.match(report.failure?.message ?? '', /pi5-not-enrolled/);
    assert.deepEqual(report.compensations, []);
    assert.equal((await healthz(device.spec.healthUrl)).sha, int8Sha.slice(0, 16), 'the device still serves the INT8 model');
    assert.deepEqual(readdirSync(root.hostPath(`${MODEL_DIR}/staging`)).filter((f) => !f.startsWith(int8Sha as string)), [], 'nothing new staged');
  });
});
