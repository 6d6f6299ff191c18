// The device package for real: the amd64 .deb built by `npm run package:device` (cached, see
// packaging/build/cachedDeb.ts), extracted with dpkg-deb, its runtime and edge worker started as
// real processes with their units' ExecStart (plain node, no tsx, only the packaged
// node_modules), configured by a device.json alone, against a test Temporal dev server: check's
// lines, a swap through the packaged worker with the runtime's self-reload, the version it
// reports, and the bad inputs (malformed config, Temporal unreachable, a TLS mismatch).
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { waitForServedSha } from '../../activities/edge/health';
import { ensureDevicePackage, extractPackage, unitCommand } from '../../packaging/build/cachedDeb';
import { freePort } from '../../sim/net';
import { version as projectVersion } from '../../package.json';
import { buildTestModels, makeModelDir, type TestModels } from '../helpers/edgeModels';
import { quietSdkLogs, startTestTemporal } from '../helpers/temporalEnv';
import type { EdgeProbeResult } from '../fixtures/workflows/probes';

const run = promisify(execFile);

function waitForOutput(child: ChildProcessWithoutNullStreams, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${seen.slice(-3000)}`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve(seen);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`process exited (${code}) before ${pattern}; output:\n${seen.slice(-3000)}`));
    });
  });
}

async function stop(child: ChildProcessWithoutNullStreams | undefined): Promise<number | null> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

describe('device package (amd64 .deb, extracted, real processes)', function () {
  this.timeout(600_000);
  let env: TestWorkflowEnvironment;
  let models: TestModels;
  let root: string;
  let work: string;
  let modelDir: string;
  let configFile: string;
  let port: number;
  const children: ChildProcessWithoutNullStreams[] = [];

  const cli = (): string => path.join(root, 'usr/bin/edgeship-device');
  const start = (unit: string, config: string): ChildProcessWithoutNullStreams => {
    const { argv: [cmd, ...args], env: unitEnv } = unitCommand(root, unit);
    const child = spawn(cmd, args, { env: { PATH: '/usr/bin:/bin', ...unitEnv, EDGESHIP_DEVICE_CONFIG: config }, cwd: '/' });
    children.push(child);
    return child;
  };
  const check = async (config: string): Promise<{ code: number; out: string }> => {
    try {
      const { stdout } = await run(cli(), ['check', '--timeout-ms', '5000'], { env: { PATH: '/usr/bin:/bin', EDGESHIP_DEVICE_CONFIG: config } });
      return { code: 0, out: stdout };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  };
  const writeConfig = async (name: string, temporal: Record<string, unknown>): Promise<string> => {
    const file = path.join(work, name);
    await writeFile(file, JSON.stringify({ id: 'pkg-dev', target: 'cpu-fp32', modelDir, runtime: { host: '127.0.0.1', port }, restart: { method: 'self-reload' }, temporal }, null, 2));
    return file;
  };

  before(async function () {
    quietSdkLogs();
    const deb = ensureDevicePackage('amd64', (l) => console.log(`      ${l}`));
    models = (await buildTestModels('tiny')) as TestModels;
    work = await mkdtemp(path.join(tmpdir(), 'edgeship-pkg-test-'));
    root = extractPackage(deb, work);
    env = await startTestTemporal();
    modelDir = await makeModelDir(models.good);
    for (const d of ['staging', 'backups']) await mkdir(path.join(modelDir, d));
    // As the package's postinst leaves it: staging/ setgid and group-writable for the deploy user.
    await chmod(path.join(modelDir, 'staging'), 0o2775);
    port = await freePort();
    configFile = await writeConfig('device.json', { address: env.address, namespace: 'default' });
  });

  after(async () => {
    await Promise.all(children.map((c) => stop(c)));
    await env?.teardown();
    if (work) await rm(work, { recursive: true, force: true });
    if (modelDir) await rm(modelDir, { recursive: true, force: true });
  });

  it('ships only the device: compiled JS on plain node, no GPU-side code, no tsx, no dev dependencies, no other platforms', async () => {
    const app = path.join(root, 'usr/lib/edgeship-device');
    assert.deepEqual((await readdir(app)).sort(), ['activities', 'common', 'device', 'edge', 'lib', 'node_modules', 'package.json', 'workers']);
    assert.deepEqual(await readdir(path.join(app, 'activities')), ['edge']);
    const modules = await readdir(path.join(app, 'node_modules'));
    for (const absent of ['tsx', 'typescript', 'mocha', 'eslint', 'node-ssh', 'ssh2', '@swc', 'webpack', 'memfs', 'unionfs', 'zod']) assert.ok(!modules.includes(absent), `${absent} must not be packaged`);
    assert.deepEqual(await readdir(path.join(app, 'node_modules/onnxruntime-node/bin/napi-v6')), ['linux']);
    assert.deepEqual(await readdir(path.join(app, 'node_modules/onnxruntime-node/bin/napi-v6/linux')), ['x64']);
    assert.deepEqual(await readdir(path.join(app, 'node_modules/@temporalio/core-bridge/releases')), ['x86_64-unknown-linux-gnu']);
    // The edge worker runs with --jitless (its unit's EDGESHIP_NODE_FLAGS), where node 20's fetch dies on
    // undici's WebAssembly parser with an uncatchable ReferenceError: no device code may call fetch.
    const callers = (await run('grep', ['-rl', '--include=*.js', '-e', 'fetch(', 'activities', 'common', 'device', 'edge', 'workers'], { cwd: app }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }))).stdout.trim();
    assert.equal(callers, '', `device code calls fetch: ${callers}`);
    // The SDK's workflow bundler is a stub in the package: bundling says why it cannot, clearly.
    const sdk = path.join(app, 'node_modules/@temporalio/worker');
    const bundling = await run('/usr/bin/node', ['-e', `require(${JSON.stringify(sdk)}).bundleWorkflowCode({ workflowsPath: '/nonexistent' }).catch((e) => { console.log(e.name + ': ' + e.message); })`]);
    assert.match(bundling.stdout, /^WorkflowBundlingNotInPackage: workflow bundling is not part of the edgeship device package: the edge worker runs activities only/, bundling.stderr);
    const { stdout } = await run(cli(), ['--version']);
    assert.match(stdout, new RegExp(`^edgeship-device ${projectVersion.replace(/\./g, '\\.')} \\(edge API \\d+, node 2\\d\\.`));
  });

  it('refuses a malformed config with one line per problem, exit 2, nothing written', async () => {
    const bad = path.join(work, 'bad.json');
    await writeFile(bad, JSON.stringify({ id: 'PKG dev', target: 'cpu-int8', modelDir: 'relative/dir', restart: { method: 'sudo' }, temporal: {} }));
    const before = (await readdir(modelDir)).sort();
    for (const unit of ['edgeship-runtime.service', 'edgeship-edge-worker.service']) {
      const child = start(unit, bad);
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      assert.equal(code, 2, stderr);
      const lines = stderr.trim().split('\n');
      assert.ok(lines.length >= 4, stderr);
      for (const l of lines) assert.match(l, /^edgeship-device: .*bad\.json: /);
      assert.match(stderr, /id: 1-63 lowercase/);
      assert.match(stderr, /modelDir must be an absolute path/);
      assert.match(stderr, /restart\.method must be "self-reload"/);
      assert.match(stderr, /temporal\.address is required/);
    }
    const { code, out } = await check(bad);
    assert.equal(code, 2);
    assert.match(out, /^FAIL {2}config {4}.*id: 1-63/m);
    assert.deepEqual((await readdir(modelDir)).sort(), before);
  });

  it('check names what is missing before the services run: runtime down, nobody polling', async () => {
    const { code, out } = await check(configFile);
    assert.equal(code, 1, out);
    assert.match(out, /^ok {4}config {4}/m);
    assert.match(out, /^ok {4}model dir /m);
    assert.match(out, /^ok {4}temporal {2}.*reachable, credentials accepted/m);
    assert.match(out, /^FAIL {2}worker {4}nobody polls edge\.pkg-dev.* — fix: systemctl status edgeship-edge-worker/m);
    assert.match(out, /^FAIL {2}runtime {3}.*unreachable.* — fix: systemctl status edgeship-runtime/m);
  });

  it('runs the runtime and worker from the package: check passes, the version is reported, a swap goes through self-reload', async () => {
    const runtime = start('edgeship-runtime.service', configFile);
    await waitForOutput(runtime, /edgeship-runtime listening on/, 60_000);
    const healthUrl = `http://127.0.0.1:${port}/healthz`;
    await waitForServedSha({ healthUrl, sha256: models.good.sha256, timeoutMs: 60_000 });
    const health = (await (await fetch(healthUrl)).json()) as Record<string, unknown>;
    assert.equal(health.version, projectVersion);
    assert.equal(health.device, 'pkg-dev');

    const worker = start('edgeship-edge-worker.service', configFile);
    await waitForOutput(worker, /edge worker polling/, 90_000);
    const { code, out } = await check(configFile);
    assert.equal(code, 0, out);
    assert.match(out, new RegExp(`^ok {4}worker {4}edge\\.pkg-dev is polled by edgeship-edge/${projectVersion.replace(/\./g, '\\.')} api=\\d+ pkg-dev@`, 'm'));
    assert.match(out, new RegExp(`^ok {4}runtime {3}.*serves ${models.good.sha256.slice(0, 16)}`, 'm'));

    const staged = path.join(modelDir, 'staging', `${models.constant.sha256}.onnx`);
    await copyFile(models.constant.path, staged);
    await copyFile(models.constant.metadataPath, `${staged}.meta.json`);
    const probe = await Worker.create({ connection: env.nativeConnection, taskQueue: 'device-package-test', workflowsPath: require.resolve('../fixtures/workflows/probes') });
    const swapped = await probe.runUntil(
      env.client.workflow.execute('edgeSwapProbe', { taskQueue: 'device-package-test', workflowId: 'deploy-pkg-test', args: ['pkg-dev', { deploymentId: 'deploy-pkg-test', runId: 'run-1', sha256: models.constant.sha256, ext: 'onnx', healthTimeoutMs: 60_000 }] }) as Promise<EdgeProbeResult>,
    );
    assert.ok(swapped.ok, JSON.stringify(swapped));
    assert.equal(swapped.swap.servedSha256Prefix, models.constant.sha256.slice(0, 16));
    assert.equal(swapped.swap.restartMs, 0, 'self-reload: no restart command');
    assert.equal(swapped.swap.backup?.sha256, models.good.sha256);
    await waitForOutput(runtime, /model reloaded/, 10_000).catch(() => undefined);

    assert.equal(await stop(worker), 0);
    assert.equal(await stop(runtime), 0);
  });

  it('Temporal unreachable: check says so with the fix; the worker keeps retrying with one line per attempt and stops cleanly', async () => {
    const down = await writeConfig('down.json', { address: `127.0.0.1:${await freePort()}`, namespace: 'default' });
    const { code, out } = await check(down);
    assert.equal(code, 1);
    assert.match(out, /^FAIL {2}temporal {2}cannot reach Temporal at 127\.0\.0\.1:\d+ .* — fix: check temporal\.address/m);
    const worker = start('edgeship-edge-worker.service', down);
    const log = await waitForOutput(worker, /cannot reach Temporal[\s\S]*cannot reach Temporal/, 60_000);
    assert.match(log, /"retryInMs":\d+/);
    assert.equal(await stop(worker), 0);
  });

  it('a TLS mismatch (TLS asked of a plaintext server) is one line naming the TLS settings', async () => {
    const ca = path.join(work, 'ca.pem');
    const key = path.join(work, 'ca.key');
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=edgeship-test-ca', '-days', '1', '-keyout', key, '-out', ca]);
    const tls = await writeConfig('tls.json', { address: env.address, namespace: 'default', tls: { serverCaFile: ca } });
    const { code, out } = await check(tls);
    assert.equal(code, 1, out);
    const line = out.split('\n').find((l) => l.includes(' temporal '));
    assert.ok(line, out);
    console.log(`      ${line}`);
    assert.match(line, /^FAIL {2}temporal {2}TLS with 127\.0\.0\.1:\d+ failed: the server does not answer TLS there .* — fix: remove temporal\.tls/);
  });
});
