// The edge worker process, for one device (on the device itself) or for several (a simulated fleet):
//   tsx workers/edge.ts --device <id> [--inventory <file>] [--address host:port] [--namespace ns] [--profile name] [--tls-* …]
//   tsx workers/edge.ts --device a --device b …   or   --devices a,b,c
// With several devices the process runs one Temporal Worker per device, each polling that
// device's `edge.<id>` queue with that device's activities, over one shared connection. The
// devices share the process's fate: a crash or a kill takes all of them off their queues.
// Release trust: --trusted-key <public key PEM> (repeatable) and --require-signatures make swapModel
// verify every release's signed manifest before it touches anything live (edge/trust.ts); the
// device's runtime needs the same flags (edge/cli.ts) to refuse unverified models at load.
// Env: EDGESHIP_DEVICE (one id), EDGESHIP_INVENTORY, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE;
// else the temporal.toml profile (lib/connectionConfig.ts). SIGINT/SIGTERM drain every worker and exit 0.
// Metrics: --metrics-port <port> (EDGESHIP_METRICS_PORT) [--metrics-host 0.0.0.0] serves the Temporal
// SDK's metrics for Prometheus on GET /metrics (workers/metrics.ts, docs/observability.md).
import { Command, Option } from 'commander';
import { findDevice, loadInventory, type DeviceSpec } from '../lib/inventory';
import { edgeTaskQueue } from '../common/queues';
import { loadDeviceTrust, type DeviceTrust } from '../edge/trust';
import { addConnectionFlags, connectTemporal, type ConnectionFlags } from './connectionFlags';
import { createEdgeWorker, type WorkerHandle } from './edgeWorker';
import { createProcessLogger, installWorkerRuntime } from './logging';
import { addMetricsFlags, metricsBindAddress, type MetricsFlags } from './metrics';

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function splitList(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').map((s) => s.trim()).filter((s) => s.length > 0)];
}

async function main(): Promise<void> {
  const program = addMetricsFlags(addConnectionFlags(new Command('edge-worker')))
    .description('edgeship edge worker: runs swapModel, validateDeployment, restoreBackup and discardStaged for one device (or, one worker each, for several)')
    .addOption(new Option('--device <id>', 'device id from the inventory; repeat it to serve several devices from this process').env('EDGESHIP_DEVICE').argParser(collect))
    .addOption(new Option('--devices <a,b,…>', 'several device ids, comma-separated (with or instead of --device)').argParser(splitList))
    .addOption(new Option('--trusted-key <file>', 'a trusted release public key (PEM, `edgeship keys create`); repeat for several (key rotation)').argParser(collect))
    .option('--require-signatures', 'refuse every release without a manifest signed by a trusted key (needs --trusted-key)')
    .showHelpAfterError();
  program.parse();
  const flags = program.opts<ConnectionFlags & MetricsFlags & { device?: string[]; devices?: string[]; trustedKey?: string[]; requireSignatures?: boolean }>();
  const ids = [...(flags.device ?? []), ...(flags.devices ?? [])];
  if (ids.length === 0) program.error("error: required option '--device <id>' not specified");
  if (new Set(ids).size !== ids.length) program.error(`error: a device is named twice: ${ids.join(', ')}`);
  const log = createProcessLogger('edgeship-edge-worker', ids.length === 1 ? { device: ids[0] } : { devices: ids });
  const devices: DeviceSpec[] = [];
  let trust: DeviceTrust | undefined;
  try {
    if (flags.trustedKey?.length || flags.requireSignatures) trust = loadDeviceTrust({ publicKeyFiles: flags.trustedKey ?? [], requireSignatures: flags.requireSignatures === true });
  } catch (err) {
    log.fatal({ trustedKeys: flags.trustedKey ?? [] }, (err as Error).message);
    process.exit(2);
  }
  try {
    const inventory = loadInventory(flags.inventory);
    for (const id of ids) {
      const device = findDevice(inventory, id);
      if (!device) throw new Error(`device ${JSON.stringify(id)} is not in ${flags.inventory}`);
      edgeTaskQueue(device.id);
      devices.push(device);
    }
  } catch (err) {
    log.fatal({ inventory: flags.inventory }, (err as Error).message);
    process.exit(2);
  }
  if (trust) log.info({ trustedKeys: [...trust.keys.keys()], requireSignatures: trust.requireSignatures }, 'release signatures checked before every swap');
  installWorkerRuntime(log, { metricsBindAddress: metricsBindAddress(flags) });
  const { resolved, connection } = await connectTemporal(flags, log);
  const handles: WorkerHandle[] = [];
  try {
    for (const device of devices) handles.push(await createEdgeWorker({ device, connection, namespace: resolved.namespace, ...(trust ? { activityOptions: { trust } } : {}) }));
  } catch (err) {
    await connection.close();
    throw err;
  }
  for (const [i, handle] of handles.entries()) {
    const device = devices[i];
    log.info({ ...(devices.length > 1 ? { device: device.id } : {}), taskQueue: handle.taskQueue, address: resolved.address, namespace: resolved.namespace, profile: resolved.profile, modelDir: device.modelDir }, 'edge worker polling');
  }
  // One worker failing ends the process (as it would with one device): the others drain first,
  // so whoever supervises the process sees it exit and restarts all of its devices together.
  const results = await Promise.allSettled(
    handles.map((h) =>
      h.run().catch((err: unknown) => {
        for (const other of handles) if (other !== h && other.worker.getState() === 'RUNNING') other.worker.shutdown();
        throw err;
      }),
    ),
  );
  await connection.close();
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  log.info('edge worker stopped');
}

main().catch((err: unknown) => {
  process.stderr.write(`edge-worker: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
