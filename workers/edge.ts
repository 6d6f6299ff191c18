// The edge worker process, one per device:
//   tsx workers/edge.ts --device <id> [--inventory <file>] [--address host:port] [--namespace ns] [--profile name] [--tls-* …]
// Env: EDGESHIP_INVENTORY, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE;
// else the temporal.toml profile (common/connectionConfig.ts). SIGINT/SIGTERM drain and exit 0.
// Metrics: --metrics-port <port> (EDGESHIP_METRICS_PORT) [--metrics-host 0.0.0.0] serves the Temporal
// SDK's metrics for Prometheus on GET /metrics (workers/metrics.ts, docs/observability.md).
import { Command, Option } from 'commander';
import { findDevice, loadInventory } from '../common/inventory';
import { edgeTaskQueue } from '../common/queues';
import { addConnectionFlags, connectTemporal, type ConnectionFlags } from './connectionFlags';
import { createEdgeWorker } from './edgeWorker';
import { createProcessLogger, installWorkerRuntime } from './logging';
import { addMetricsFlags, metricsBindAddress, type MetricsFlags } from './metrics';

async function main(): Promise<void> {
  const program = addMetricsFlags(addConnectionFlags(new Command('edge-worker')))
    .description('edgeship edge worker: runs swapModel, validateDeployment, restoreBackup and discardStaged for one device')
    .addOption(new Option('--device <id>', 'device id from the inventory').env('EDGESHIP_DEVICE').makeOptionMandatory())
    .showHelpAfterError();
  program.parse();
  const flags = program.opts<ConnectionFlags & MetricsFlags & { device: string }>();
  const log = createProcessLogger('edgeship-edge-worker', { device: flags.device });
  let device;
  try {
    device = findDevice(loadInventory(flags.inventory), flags.device);
    if (!device) throw new Error(`device ${JSON.stringify(flags.device)} is not in ${flags.inventory}`);
    edgeTaskQueue(device.id);
  } catch (err) {
    log.fatal({ inventory: flags.inventory }, (err as Error).message);
    process.exit(2);
  }
  installWorkerRuntime(log, { metricsBindAddress: metricsBindAddress(flags) });
  const { resolved, connection } = await connectTemporal(flags, log);
  const handle = await createEdgeWorker({ device, connection, namespace: resolved.namespace });
  log.info({ taskQueue: handle.taskQueue, address: resolved.address, namespace: resolved.namespace, profile: resolved.profile, modelDir: device.modelDir }, 'edge worker polling');
  await handle.run();
  await connection.close();
  log.info('edge worker stopped');
}

main().catch((err: unknown) => {
  process.stderr.write(`edge-worker: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
