// `npm run bench:fleet -- [--devices 50] [--devices-per-worker 10] [--ssh auto] [--hold-s 20] [--baseline-model f.onnx]`
// A simulated fleet at size, the way the rollout tests and the demo run it: a headless Temporal
// dev server of its own (free ports, scratch SQLite), N devices (sshd, model dir with the demo's
// FP32 baseline, runtime each) and their edge workers K to a process. Prints the wall time to
// start, until every runtime serves its model and every edge.<id> queue is polled; the memory of
// every process the fleet started (ΣVmHWM per kind = its peak, ΣVmRSS, ΣPss) after --hold-s; the
// load average; how long a killed worker process's group takes to poll again after a restart;
// and the teardown time. Everything lives under <state>/bench-fleet and is removed by the stop.
import { mkdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ArtifactStore } from '../../activities/gpu/artifactStore';
import { ensureDemoCheckpoint } from '../../activities/gpu/demoCheckpoint';
import { exportModel } from '../../activities/gpu/exportModel';
import { stateDir } from '../../common/paths';
import { startDevServer } from '../lib/devServer';
import { ensureToolchain } from '../lib/toolchain';
import type { Baseline } from './baseline';
import { startSimulatedFleet } from './fleet';
import { formatFleetMemory, mib, readProcMemory } from './memory';
import { freePort } from './net';
import { waitForEdgePollers, waitForRuntimesServing } from './readiness';

function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a positive integer');
  return Number(value);
}

const log = (line: string) => process.stdout.write(`${line}\n`);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function demoBaseline(dir: string): Promise<Baseline> {
  await ensureToolchain(log);
  const checkpoint = await ensureDemoCheckpoint(path.join(stateDir(), 'demo', 'tcn-vae-demo.pt'), { onProgress: (l) => log(`  ${l}`) });
  const exported = await exportModel({ modelName: 'tcn-vae-baseline', source: { kind: 'checkpoint', checkpointPath: checkpoint.path } }, new ArtifactStore(path.join(dir, 'artifacts')));
  return { modelPath: exported.onnx.path, metadataPath: exported.metadataPath };
}

async function main(): Promise<void> {
  const o = new Command('bench:fleet')
    .option('--devices <n>', 'simulated devices', positiveInt, 50)
    .option('--devices-per-worker <k>', 'edge workers per process (default: 10 above 10 devices, else 1)', positiveInt)
    .addOption(new Option('--ssh <kind>', 'SSH server of the devices').choices(['auto', 'openssh', 'embedded']).default('auto'))
    .option('--hold-s <s>', 'seconds to keep the fleet up (idle) before the memory figures', positiveInt, 20)
    .option('--baseline-model <file>', 'model every device serves (its .meta.json beside it); default: the demo model\'s FP32 export')
    .option('--no-lean-runtimes', 'runtimes as on a real device (inference worker thread, default young generation)')
    .parse()
    .opts<{ devices: number; devicesPerWorker?: number; ssh: 'auto' | 'openssh' | 'embedded'; holdS: number; baselineModel?: string; leanRuntimes: boolean }>();

  const dir = path.join(stateDir(), 'bench-fleet');
  mkdirSync(dir, { recursive: true });
  const baseline = o.baselineModel ? { modelPath: path.resolve(o.baselineModel), metadataPath: `${path.resolve(o.baselineModel)}.meta.json` } : await demoBaseline(dir);
  const server = await startDevServer({ dbFile: path.join(dir, 'temporal.sqlite'), port: await freePort(), uiPort: await freePort(), headless: true });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: 'default' });
  const loadBefore = loadavg()[0];
  let loadMax = loadBefore;
  const loadSampler = setInterval(() => (loadMax = Math.max(loadMax, loadavg()[0])), 1000);
  const startedAt = Date.now();
  const fleet = await startSimulatedFleet({
    count: o.devices, baseDir: path.join(dir, 'fleet'), sshServer: o.ssh, baseline, devicesPerWorker: o.devicesPerWorker,
    leanRuntimes: o.leanRuntimes === false ? false : undefined, startEdgeWorkers: { temporalAddress: server.address },
  });
  try {
    log(`${fleet.devices.length} devices (${fleet.sshServerKind}), edge workers in ${fleet.workerGroups.length} process(es); startSimulatedFleet took ${secs(fleet.startedInMs)}`);
    const [serving, polled] = await Promise.all([
      waitForRuntimesServing(fleet, 300_000).then((n) => (log(`${n}/${fleet.devices.length} runtimes serve the baseline after ${secs(Date.now() - startedAt)}`), n)),
      waitForEdgePollers(client, 'default', fleet, 300_000).then((n) => (log(`${n}/${fleet.devices.length} edge.<id> queues polled after ${secs(Date.now() - startedAt)}`), n)),
    ]);
    log(`fleet ready (all serving, all polled) in ${secs(Date.now() - startedAt)}`);
    await new Promise((r) => setTimeout(r, o.holdS * 1000));
    const m = fleet.memory();
    log(`memory after ${o.holdS} s idle (ΣVmHWM is each process's own peak, added up; ΣPss counts shared pages once):`);
    for (const line of formatFleetMemory(m)) log(line);
    log(`  this bench process (fleet host${fleet.sshServerKind === 'embedded' ? ', embedded SSH servers' : ''}): VmHWM ${mib(readProcMemory(process.pid)?.hwmKiB ?? 0)}`);
    log(`load average (1 min): ${loadBefore.toFixed(2)} before the start, max ${loadMax.toFixed(2)} while up, ${loadavg()[0].toFixed(2)} now (2 cores; other work on the machine counts too)`);

    const victim = fleet.devices[0].id;
    const group = fleet.workerGroupOf(victim);
    const killed = fleet.killEdgeWorker(victim);
    const restartAt = Date.now();
    fleet.restartEdgeWorker(victim);
    const back = await waitForEdgePollers(client, 'default', fleet, 120_000, group);
    log(`kill -9 of ${victim}'s worker process (pid ${killed}, ${group.length} device(s)) and restart: ${back}/${group.length} queues polled again after ${secs(Date.now() - restartAt)}`);
    process.exitCode = serving === fleet.devices.length && polled === fleet.devices.length && back === group.length ? 0 : 1;
  } finally {
    clearInterval(loadSampler);
    const stopAt = Date.now();
    await fleet.stop();
    log(`teardown ${secs(Date.now() - stopAt)}`);
    await connection.close();
    await server.stop();
    rmSync(path.join(dir, 'fleet'), { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:fleet: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
