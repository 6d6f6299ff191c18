// Simulated edge devices on this machine.
//   npx tsx sim/cli.ts up --devices 2 --dir .state/sim [--ssh openssh|embedded|auto] …   (--count is the same)
//   npx tsx sim/cli.ts up --devices 50 --edge-workers [--devices-per-worker 10] …
//   npx tsx sim/cli.ts down --dir .state/sim
// `up` prints the inventory path, how long the start took and the fleet's memory, and stays in
// the foreground until Ctrl-C (or `down`); then it prints the fleet's peak memory (per kind: the
// sum of VmHWM of the sshd, runtime and edge-worker processes it started) and tears every device down.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { COMPILE_TARGETS, type CompileTarget } from '../common/contracts';
import { deviceLayout } from './layout';
import { FLEET_MARKER, startSimulatedFleet, stopDeviceProcesses } from './fleet';
import { isSimDeviceDir } from './leftovers';
import { commandLineContains, terminate } from './pidfile';
import { Client, Connection } from '@temporalio/client';
import { formatFleetMemory, mib, readProcMemory, type FleetMemory, type ProcMemory } from './memory';
import { waitForEdgePollers, waitForRuntimesServing } from './readiness';

function positiveInt(max: number) {
  return (value: string) => {
    if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) throw new InvalidArgumentError(`expected an integer 1..${max}`);
    return Number(value);
  };
}

async function up(o: {
  count?: number; devices?: number; devicesPerWorker?: number; leanRuntimes?: boolean; dir: string; ssh: 'openssh' | 'embedded' | 'auto'; ids?: string; target: CompileTarget; runtimePortBase?: number;
  baselineModel?: string; baselineMeta?: string; baselineManifest?: string; runtimes: boolean; edgeWorkers: boolean; temporalAddress: string; namespace: string;
  trustedKey?: string[]; requireSignatures?: boolean;
}): Promise<void> {
  if (!!o.baselineModel !== !!o.baselineMeta) throw new InvalidArgumentError('--baseline-model and --baseline-meta go together');
  if (o.baselineManifest && !o.baselineModel) throw new InvalidArgumentError('--baseline-manifest goes with --baseline-model');
  if (o.requireSignatures && !o.trustedKey?.length) throw new InvalidArgumentError('--require-signatures needs --trusted-key');
  if (o.count !== undefined && o.devices !== undefined && o.count !== o.devices) throw new InvalidArgumentError('--devices and --count are the same option; give one');
  const count = o.devices ?? o.count;
  if (count === undefined) throw new InvalidArgumentError('--devices <n> is required');
  const startedAt = Date.now();
  const fleet = await startSimulatedFleet({
    count,
    devicesPerWorker: o.devicesPerWorker,
    leanRuntimes: o.leanRuntimes,
    baseDir: o.dir,
    ids: o.ids?.split(',').map((s) => s.trim()),
    target: o.target,
    sshServer: o.ssh,
    runtimePortBase: o.runtimePortBase,
    baseline: o.baselineModel && o.baselineMeta ? { modelPath: path.resolve(o.baselineModel), metadataPath: path.resolve(o.baselineMeta), ...(o.baselineManifest ? { manifestPath: path.resolve(o.baselineManifest) } : {}) } : undefined,
    trust: o.trustedKey?.length ? { publicKeyFiles: o.trustedKey.map((k) => path.resolve(k)), requireSignatures: o.requireSignatures === true } : undefined,
    startRuntimes: o.runtimes,
    startEdgeWorkers: o.edgeWorkers ? { temporalAddress: o.temporalAddress, namespace: o.namespace } : undefined,
  });
  const sshLabel = fleet.sshServerKind === 'openssh' ? 'OpenSSH sshd'
    : `embedded ssh2 SSH/SFTP server (${o.ssh === 'embedded' ? 'as requested' : 'no usable sshd on this machine'})`;
  process.stdout.write(`${fleet.devices.length} simulated device(s) up, SSH server: ${sshLabel}\n`);
  for (const d of fleet.devices) {
    const runtime = o.runtimes ? `runtime ${d.spec.healthUrl}` : 'no runtime';
    process.stdout.write(`  ${d.id}  ssh 127.0.0.1:${d.sshPort}  ${runtime}  dir ${d.dir}\n`);
  }
  if (fleet.workerGroups.length > 0) {
    process.stdout.write(`edge workers: ${fleet.workerGroups.length} process(es): ${fleet.workerGroups.map((g) => (g.length > 1 ? `[${g[0]}…${g[g.length - 1]}]` : g[0])).join(' ')}\n`);
  }
  process.stdout.write(`started in ${((Date.now() - startedAt) / 1000).toFixed(1)} s (runtimes accept connections; models load in the background)\n`);
  process.stdout.write(`inventory: ${fleet.inventoryPath}\n(Ctrl-C to stop)\n`);
  if (o.edgeWorkers) {
    const connection = await Connection.connect({ address: o.temporalAddress });
    try {
      const polled = await waitForEdgePollers(new Client({ connection, namespace: o.namespace }), o.namespace, fleet, 180_000);
      process.stdout.write(`${polled}/${fleet.devices.length} edge.<id> queues polled by their worker process ${((Date.now() - startedAt) / 1000).toFixed(1)} s after the start\n`);
    } finally {
      await connection.close();
    }
  }
  // Sampled every 5 s: on Ctrl-C the fleet's own signal handler stops its processes before this
  // one can read them, so the peak report uses the last sample (VmHWM only grows).
  let peakRssKiB = 0;
  let peakPssKiB = 0;
  let last: { m: FleetMemory; self: ProcMemory | undefined } | undefined;
  const sample = () => {
    const m = fleet.memory();
    const self = readProcMemory(process.pid);
    peakRssKiB = Math.max(peakRssKiB, m.total.rssKiB);
    peakPssKiB = Math.max(peakPssKiB, m.total.pssKiB);
    last = { m, self };
    return last;
  };
  const report = (title: string, useLast = false) => {
    const { m, self } = useLast && last ? last : sample();
    process.stdout.write(`${title}\n${formatFleetMemory(m).join('\n')}\n`);
    process.stdout.write(`  sampled concurrent peak: ΣVmRSS ${mib(peakRssKiB)}, ΣPss ${mib(peakPssKiB)}; this simulator process${fleet.sshServerKind === 'embedded' ? ' (hosts the embedded SSH servers)' : ''}: VmHWM ${self ? mib(self.hwmKiB) : '?'}\n`);
  };
  if (o.runtimes && o.baselineModel) {
    // With a baseline every runtime loads a model: wait (bounded) until each /healthz says so.
    const n = await waitForRuntimesServing(fleet, 180_000);
    process.stdout.write(`${n}/${fleet.devices.length} runtimes serve the baseline ${((Date.now() - startedAt) / 1000).toFixed(1)} s after the start\n`);
  } else {
    // Let the runtimes settle before the first figures.
    await new Promise((r) => setTimeout(r, 5000));
  }
  report('memory of the processes the fleet started:');
  const sampler = setInterval(sample, 5000);
  // Signal listeners do not keep Node running, and with OpenSSH nothing else in this process does.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  await new Promise<void>((resolve) => {
    const onSignal = () => {
      clearInterval(sampler);
      report('peak memory of the processes the fleet started (last sample, ≤ 5 s before the stop):', true);
      process.stdout.write('stopping simulated devices…\n');
      fleet.stop().then(resolve, resolve);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  clearInterval(keepAlive);
  process.stdout.write('stopped\n');
}

async function down(o: { dir: string }): Promise<void> {
  const dir = path.resolve(o.dir);
  const marker = path.join(dir, FLEET_MARKER);
  if (existsSync(marker)) {
    const { pid } = JSON.parse(readFileSync(marker, 'utf8')) as { pid?: number };
    // The `up` process owns embedded servers; asking it to stop runs its orderly teardown.
    if (pid && commandLineContains(pid, 'sim/cli.ts')) await terminate(pid, 'sim/cli.ts', 15_000);
  }
  let stopped = 0;
  for (const entry of existsSync(dir) ? readdirSync(dir) : []) {
    const layout = deviceLayout(path.join(dir, entry));
    if (!isSimDeviceDir(layout.dir)) continue; // half-made ones too: a killed `up` leaves their sshd running
    await stopDeviceProcesses(layout);
    stopped++;
  }
  process.stdout.write(`stopped ${stopped} simulated device(s) in ${dir}\n`);
}

const program = new Command('sim').description('Simulated edgeship edge devices: each with its own sshd, model directory, runtime and (optionally) edge worker');
program.command('up')
  .description('start N simulated devices and write their inventory; stays in the foreground')
  .option('--devices <n>', 'number of devices', positiveInt(200))
  .option('--count <n>', 'number of devices (same as --devices)', positiveInt(200))
  .option('--devices-per-worker <k>', 'edge workers per worker process (default 10 when --devices > 10, else 1); a kill takes the whole process', positiveInt(200))
  .option('--lean-runtimes', 'runtimes with --inference-workers 0 and node --max-semi-space-size=1 (default when --devices > 10)')
  .option('--no-lean-runtimes', 'runtimes as on a real device, also in large fleets')
  .option('--dir <dir>', 'fleet directory (device dirs + inventory.json)', '.state/sim')
  .addOption(new Option('--ssh <kind>', 'SSH server: real OpenSSH sshd, the embedded ssh2 server, or auto (sshd when installed)').choices(['openssh', 'embedded', 'auto']).default('auto'))
  .option('--ids <a,b,…>', 'device ids (default sim-1..sim-N)')
  .addOption(new Option('--target <target>', 'compile target the devices accept').choices([...COMPILE_TARGETS]).default('cpu-fp32'))
  .option('--runtime-port-base <port>', 'runtime ports base+i (default: free ports)', positiveInt(65000))
  .option('--baseline-model <file>', 'model installed as every device\'s initial release')
  .option('--baseline-meta <file>', 'its metadata (.meta.json)')
  .option('--baseline-manifest <file>', 'its signed release manifest (.manifest.json), for devices that require signatures')
  .option('--trusted-key <file>', 'release public key the devices\' runtimes and edge workers trust (repeatable; docs/security.md)', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
  .option('--require-signatures', 'devices refuse (and do not serve) releases without a manifest signed by a trusted key')
  .option('--no-runtimes', 'do not start inference runtimes')
  .option('--edge-workers', 'also start each device\'s edge worker (workers/edge.ts; --devices-per-worker per process)', false)
  .option('--temporal-address <addr>', 'Temporal frontend for the edge workers', 'localhost:7233')
  .option('--namespace <ns>', 'Temporal namespace for the edge workers', 'default')
  .action(up);
program.command('down')
  .description('stop the simulated devices of a fleet directory (also after a crash of `up`)')
  .option('--dir <dir>', 'fleet directory', '.state/sim')
  .action(down);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`sim: ${(err as Error).message}\n`);
  process.exit(1);
});
