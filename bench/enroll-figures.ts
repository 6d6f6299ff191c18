// Measures what enrollment and the version gate cost, against one OpenSSH simulated device with
// its runtime and edge worker and a local Temporal dev server: `edgeship devices add` and
// `devices check` through the CLI (wall time, including the CLI's own start), the in-process
// check alone, and DescribeTaskQueue (the version gate's one call per device). Prints the
// figures and one real transcript of each command; asserts nothing.
//   npx tsx bench/enroll-figures.ts [--runs 10]
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { checkDevice } from '../clients/deviceCheck';
import { describeEdgePollers } from '../lib/edgePollers';
import { parseKnownHostsLine } from '../lib/inventory';
import { PROJECT_ROOT } from '../lib/paths';
import { percentile } from '../common/percentiles';
import { SA_DEVICES, SA_MODEL, SA_SHA, SA_STAGE, SA_STATUS } from '../common/searchAttributes';
import { sshFingerprint } from '../lib/sshFingerprint';
import { findTemporalCli } from '../lib/temporalCli';
import { startSimulatedFleet } from '../sim/fleet';
import { buildTestModels } from '../test/helpers/edgeModels';

const run = promisify(execFile);
const EDGESHIP = path.join(PROJECT_ROOT, 'bin', 'edgeship');

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

const fmt = (xs: number[]): string => {
  const sorted = [...xs].sort((a, b) => a - b);
  return `median ${percentile(sorted, 0.5).toFixed(1)} ms, p95 ${percentile(sorted, 0.95).toFixed(1)} ms (n=${xs.length})`;
};

async function main(): Promise<void> {
  const runsFlag = process.argv.indexOf('--runs');
  const runs = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : 10;
  const work = mkdtempSync(path.join(tmpdir(), 'edgeship-enroll-figures-'));
  const env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: findTemporalCli() }, searchAttributes: [SA_MODEL, SA_SHA, SA_STAGE, SA_STATUS, SA_DEVICES], extraArgs: ['--log-level', 'error'] } });
  const { good } = await buildTestModels('tiny', ['good']);
  const fleet = await startSimulatedFleet({ count: 1, baseDir: path.join(work, 'fleet'), sshServer: 'openssh', baseline: { modelPath: good!.path, metadataPath: good!.metadataPath }, startEdgeWorkers: { temporalAddress: env.address } });
  try {
    const d = fleet.devices[0];
    const s = d.spec;
    for (const deadline = Date.now() + 120_000; (await describeEdgePollers(env.client, d.id)).length === 0; await new Promise((r) => setTimeout(r, 500))) {
      if (Date.now() > deadline) throw new Error('no edge worker polling');
    }
    const fp = sshFingerprint(parseKnownHostsLine(s.ssh.knownHosts).key);
    const addMs: number[] = [];
    const cliCheckMs: number[] = [];
    let addOut = '';
    let checkOut = '';
    for (let i = 0; i < runs; i++) {
      const inventory = path.join(work, `inv-${i}.json`);
      const add = await timed(() => run(EDGESHIP, ['devices', 'add', d.id, '--host', s.ssh.host, '--port', String(s.ssh.port), '--user', s.ssh.user, '--target', s.target, '--key', s.ssh.privateKeyPath, '--host-key-fingerprint', fp, '--model-dir', s.modelDir, '--health-url', s.healthUrl, '--inference-url', s.inferenceUrl, '--restart-command', JSON.stringify(s.restartCommand), '--inventory', inventory]));
      addMs.push(add.ms);
      addOut = `${add.value.stderr}${add.value.stdout}`;
      const check = await timed(() => run(EDGESHIP, ['devices', 'check', d.id, '--inventory', inventory, '--address', env.address]));
      cliCheckMs.push(check.ms);
      checkOut = check.value.stdout;
    }
    const inProcess: number[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await timed(() => checkDevice({ inventory: path.join(work, 'inv-0.json'), deviceId: d.id, temporal: async () => ({ client: env.client, close: async () => undefined }) }));
      if (!r.value.ok) throw new Error(`check failed: ${JSON.stringify(r.value.checks)}`);
      inProcess.push(r.ms);
    }
    const describe: number[] = [];
    for (let i = 0; i < runs * 5; i++) describe.push((await timed(() => describeEdgePollers(env.client, d.id))).ms);
    process.stdout.write([
      `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at the end`,
      `edgeship devices add (CLI, host key fetched over SSH, atomic write): ${fmt(addMs)}`,
      `edgeship devices check (CLI, all five checks): ${fmt(cliCheckMs)}`,
      `devices check in process (no CLI start, Temporal client reused): ${fmt(inProcess)}`,
      `DescribeTaskQueue edge.<id> (the version gate's one call per device): ${fmt(describe)}`,
      '', '--- devices add ---', addOut.trimEnd(), '--- devices check ---', checkOut.trimEnd(), '',
    ].join('\n'));
  } finally {
    await fleet.stop();
    await env.teardown();
    rmSync(work, { recursive: true, force: true });
  }
}

void main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
