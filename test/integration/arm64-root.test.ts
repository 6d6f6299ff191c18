// The emulated arm64 root the arm64 proof (test/e2e/arm64-device.test.ts) runs the device package
// in, before any package: it runs arm64 binaries as a Pi 5 (aarch64, Cortex-A76 cpuinfo, QEMU_CPU
// in every process), in its own mount and PID namespace; onnxruntime-node's own linux-arm64 build
// loads and runs a model there and agrees with the x86-64 build; and stopping it — or killing
// the process that started it — leaves no process, no mount and no directory on the host.
// Needs root and qemu-user-static (sim/arm64/binfmt.sh); builds the cached root when
// missing (sim/arm64/build-root.sh, about 4 min once per machine).
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { PROJECT_ROOT, stateDir } from '../../lib/paths';
import { EmulatedArm64Root, mountedUnder, QEMU_CPU, removeLeftoverRoots } from '../../sim/arm64/emulatedRoot';
import { emulationHostMismatch, ensureAarch64Binfmt, ensureRootTarball } from '../../sim/arm64/rootCache';
import { buildTestModels } from '../helpers/edgeModels';

const PARENT = path.join(stateDir(), 'test', 'arm64-root');

// Runs in the root with its own linux-arm64 onnxruntime-node; prints the outputs and the timing.
const ORT_PROBE = `
const ort = require('/opt/ort-probe/node_modules/onnxruntime-node');
(async () => {
  const session = await ort.InferenceSession.create(process.argv[1]);
  const x = new Float32Array(900).map((_, i) => Math.sin(i * 0.37) * 2);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x, [1, 100, 9]) };
  await session.run(feeds);
  const runs = 20;
  const t0 = process.hrtime.bigint();
  let out;
  for (let i = 0; i < runs; i++) out = await session.run(feeds);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6 / runs;
  console.log(JSON.stringify({ arch: process.arch, msPerInference: ms, output: Array.from(out[session.outputNames[0]].data) }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

function cosine(a: number[], b: number[]): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

describe('integration: the emulated arm64 root (qemu-aarch64, cortex-a76)', function () {
  this.timeout(900_000);
  let root: EmulatedArm64Root;
  let tarball: string;

  before(async function () {
    const mismatch = emulationHostMismatch();
    if (mismatch) {
      console.log(`    skipped: ${mismatch}`);
      this.skip();
    }
    await ensureAarch64Binfmt((l) => console.log(`    ${l}`));
    const built = await ensureRootTarball((l) => console.log(`    ${l}`));
    tarball = built.path;
    if (built.builtMs !== undefined) console.log(`    built the arm64 root in ${(built.builtMs / 1000).toFixed(0)} s`);
    root = await EmulatedArm64Root.start({ tarball, parent: PARENT });
    console.log(`    restored ${tarball} in ${(root.restoreMs / 1000).toFixed(1)} s`);
  });

  after(async () => {
    await root?.stop();
  });

  it('runs arm64 binaries as a Pi 5: aarch64, Cortex-A76 cpuinfo, QEMU_CPU, its own PID space, Node >= 20.19', async () => {
    assert.equal((await root.run(['/usr/bin/uname', '-m'])).trim(), 'aarch64');
    const cpuinfo = await root.run(['/usr/bin/cat', '/proc/cpuinfo']);
    assert.match(cpuinfo, /CPU part\s+: 0xd0b/, 'the Pi 5 cpuinfo (Cortex-A76) is what the root reads');
    assert.match(cpuinfo, /Raspberry Pi 5/);
    const node = JSON.parse(await root.run(['/usr/bin/node', '-p', 'JSON.stringify({ arch: process.arch, version: process.versions.node, cpu: process.env.QEMU_CPU, pid: process.pid })'])) as { arch: string; version: string; cpu: string; pid: number };
    assert.equal(node.arch, 'arm64');
    assert.equal(node.cpu, QEMU_CPU);
    const [major, minor] = node.version.split('.').map(Number);
    assert.ok(major > 20 || (major === 20 && minor >= 19), `node ${node.version} >= 20.19 (the package's dependency)`);
    assert.ok(node.pid < 100, `pid ${node.pid} is one of the namespace's few, not the host's`);
    assert.equal(mountedUnder(root.dir), false, 'the root\'s mounts are not visible on the host');
  });

  it("runs a model with onnxruntime-node's linux-arm64 build and agrees with the x86-64 build (FP32)", async () => {
    const models = await buildTestModels('tiny', ['good']);
    const model = models.good;
    assert.ok(model);
    const probeDir = root.hostPath('/opt/ort-probe/node_modules');
    mkdirSync(probeDir, { recursive: true });
    const ortDir = path.join(PROJECT_ROOT, 'node_modules', 'onnxruntime-node');
    // Only the package's JS and its linux-arm64 binaries: the x64 .node could not load there anyway.
    for (const part of ['package.json', 'dist', 'lib', 'bin/napi-v6/linux/arm64']) cpSync(path.join(ortDir, part), path.join(probeDir, 'onnxruntime-node', part), { recursive: true });
    cpSync(path.join(PROJECT_ROOT, 'node_modules', 'onnxruntime-common'), path.join(probeDir, 'onnxruntime-common'), { recursive: true });
    cpSync(model.path, root.hostPath('/opt/ort-probe/model.onnx'));

    const inside = JSON.parse((await root.run(['/usr/bin/node', '-e', ORT_PROBE, '/opt/ort-probe/model.onnx'], { timeoutMs: 600_000 })).trim().split('\n').pop() ?? '') as { arch: string; msPerInference: number; output: number[] };
    assert.equal(inside.arch, 'arm64');

    const session = await ort.InferenceSession.create(model.path);
    const x = new Float32Array(900).map((_, i) => Math.sin(i * 0.37) * 2);
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x, [1, 100, 9]) };
    let out = await session.run(feeds);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 20; i++) out = await session.run(feeds);
    const hostMs = Number(process.hrtime.bigint() - t0) / 1e6 / 20;
    const host = Array.from(out[session.outputNames[0]].data as Float32Array);
    assert.equal(inside.output.length, host.length);
    const c = cosine(inside.output, host);
    console.log(`    arm64 (emulated cortex-a76) vs x86-64 output: 1 − cosine ${(1 - c).toExponential(1)}; emulated ${inside.msPerInference.toFixed(2)} ms per inference of the tiny model (not a Pi figure), natively on this x86-64 host ${hostMs.toFixed(2)} ms (mean of 20 after a warm-up, same as inside)`);
    assert.ok(c > 0.9999, `the arm64 kernels agree with the x86-64 ones: cosine ${c}`);
  });

  it('leaves no process, mount or directory when stopped — nor when the process that started it is killed', async () => {
    // A separate Node process starts a root and is SIGKILLed: pdeathsig takes the namespace down.
    const code = `
      const { EmulatedArm64Root } = require(${JSON.stringify(path.join(PROJECT_ROOT, 'sim/arm64/emulatedRoot.ts'))});
      EmulatedArm64Root.start({ tarball: ${JSON.stringify(tarball)}, parent: ${JSON.stringify(PARENT)} }).then(async (r) => {
        const p = r.spawn(['/usr/bin/sleep', '600'], { logFile: r.hostPath('/var/tmp/sleep.log') });
        console.log(JSON.stringify({ dir: r.dir, nsPid: r.nsPid, nsenterPid: p.pid }));
      });`;
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', '-e', code], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    const started = await new Promise<{ dir: string; nsPid: number; nsenterPid: number }>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]) as { dir: string; nsPid: number; nsenterPid: number });
      });
      child.once('exit', (c) => reject(new Error(`the starter exited ${c} before starting a root`)));
    });
    await new Promise((r) => setTimeout(r, 1000));
    child.kill('SIGKILL');
    const gone = (pid: number) => !existsSync(`/proc/${pid}`) || /\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    const deadline = Date.now() + 10_000;
    while (!gone(started.nsPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(gone(started.nsPid), 'the namespace died with the process that started it');
    assert.equal(mountedUnder(started.dir), false, 'no mount of the killed root on the host');
    assert.deepEqual(removeLeftoverRoots(PARENT), [started.dir], 'the next run removes the killed run\'s directory');

    const { dir, nsPid } = root;
    await root.stop();
    assert.ok(gone(nsPid), 'the namespace is gone');
    assert.equal(mountedUnder(dir), false);
    assert.equal(existsSync(dir), false, 'the scratch root is removed');
  });
});
