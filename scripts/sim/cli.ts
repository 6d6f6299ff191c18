// Simulated edge devices on this machine.
//   npx tsx scripts/sim/cli.ts up --count 2 --dir .state/sim [--ssh openssh|embedded|auto] …
//   npx tsx scripts/sim/cli.ts down --dir .state/sim
// `up` prints the inventory path and stays in the foreground until Ctrl-C (or `down`), then
// tears every device down.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { COMPILE_TARGETS, type CompileTarget } from '../../common/contracts';
import { deviceLayout } from './layout';
import { FLEET_MARKER, startSimulatedFleet, stopDeviceProcesses } from './fleet';
import { isSimDeviceDir } from './leftovers';
import { commandLineContains, terminate } from './pidfile';

function positiveInt(max: number) {
  return (value: string) => {
    if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) throw new InvalidArgumentError(`expected an integer 1..${max}`);
    return Number(value);
  };
}

async function up(o: {
  count: number; dir: string; ssh: 'openssh' | 'embedded' | 'auto'; ids?: string; target: CompileTarget; runtimePortBase?: number;
  baselineModel?: string; baselineMeta?: string; runtimes: boolean; edgeWorkers: boolean; temporalAddress: string; namespace: string;
}): Promise<void> {
  if (!!o.baselineModel !== !!o.baselineMeta) throw new InvalidArgumentError('--baseline-model and --baseline-meta go together');
  const fleet = await startSimulatedFleet({
    count: o.count,
    baseDir: o.dir,
    ids: o.ids?.split(',').map((s) => s.trim()),
    target: o.target,
    sshServer: o.ssh,
    runtimePortBase: o.runtimePortBase,
    baseline: o.baselineModel && o.baselineMeta ? { modelPath: path.resolve(o.baselineModel), metadataPath: path.resolve(o.baselineMeta) } : undefined,
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
  process.stdout.write(`inventory: ${fleet.inventoryPath}\n(Ctrl-C to stop)\n`);
  // Signal listeners do not keep Node running, and with OpenSSH nothing else in this process does.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  await new Promise<void>((resolve) => {
    const onSignal = () => {
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
    if (pid && commandLineContains(pid, 'scripts/sim/cli.ts')) await terminate(pid, 'scripts/sim/cli.ts', 15_000);
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
  .requiredOption('--count <n>', 'number of devices', positiveInt(64))
  .option('--dir <dir>', 'fleet directory (device dirs + inventory.json)', '.state/sim')
  .addOption(new Option('--ssh <kind>', 'SSH server: real OpenSSH sshd, the embedded ssh2 server, or auto (sshd when installed)').choices(['openssh', 'embedded', 'auto']).default('auto'))
  .option('--ids <a,b,…>', 'device ids (default sim-1..sim-N)')
  .addOption(new Option('--target <target>', 'compile target the devices accept').choices([...COMPILE_TARGETS]).default('cpu-fp32'))
  .option('--runtime-port-base <port>', 'runtime ports base+i (default: free ports)', positiveInt(65000))
  .option('--baseline-model <file>', 'model installed as every device\'s initial release')
  .option('--baseline-meta <file>', 'its metadata (.meta.json)')
  .option('--no-runtimes', 'do not start inference runtimes')
  .option('--edge-workers', 'also start one edge worker per device (workers/edge.ts)', false)
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
