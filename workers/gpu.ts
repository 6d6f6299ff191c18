// The GPU worker process (next to the training code and the artifact store):
//   tsx workers/gpu.ts [--inventory <file>] [--address host:port] [--namespace ns] [--profile name] [--tls-* …]
// Env: EDGESHIP_INVENTORY, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE,
// EDGESHIP_ARTIFACT_STORE; else the temporal.toml profile (common/connectionConfig.ts).
// SIGINT/SIGTERM drain and exit 0.
// Metrics: --metrics-port <port> (EDGESHIP_METRICS_PORT) [--metrics-host 0.0.0.0] serves the Temporal
// SDK's metrics for Prometheus on GET /metrics (workers/metrics.ts, docs/observability.md).
import { Command } from 'commander';
import { loadInventory, type Inventory } from '../common/inventory';
import { addConnectionFlags, connectTemporal, type ConnectionFlags } from './connectionFlags';
import { createGpuWorker } from './gpuWorker';
import { createProcessLogger, installWorkerRuntime } from './logging';
import { addMetricsFlags, metricsBindAddress, type MetricsFlags } from './metrics';

async function main(): Promise<void> {
  const program = addMetricsFlags(addConnectionFlags(new Command('gpu-worker')))
    .description('edgeship GPU worker: on queue "control" the workflows, device leases and resolveDevices; on queue "gpu" export, calibrate, compile, pre-flight, compare and pushArtifact')
    .showHelpAfterError();
  program.parse();
  const flags = program.opts<ConnectionFlags & MetricsFlags>();
  const log = createProcessLogger('edgeship-gpu-worker');
  let inventory: Inventory;
  try {
    inventory = loadInventory(flags.inventory);
  } catch (err) {
    log.fatal({ inventory: flags.inventory }, (err as Error).message);
    process.exit(2);
  }
  installWorkerRuntime(log, { metricsBindAddress: metricsBindAddress(flags) });
  const { resolved, connection } = await connectTemporal(flags, log);
  const handle = await createGpuWorker({ inventory, connection, namespace: resolved.namespace });
  log.info({ taskQueue: handle.taskQueue, controlTaskQueue: handle.controlTaskQueue, address: resolved.address, namespace: resolved.namespace, profile: resolved.profile, devices: inventory.devices.map((d) => d.id) }, 'gpu worker polling');
  await handle.run();
  await connection.close();
  log.info('gpu worker stopped');
}

main().catch((err: unknown) => {
  process.stderr.write(`gpu-worker: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
