// The GPU worker process (next to the training code and the artifact store):
//   tsx workers/gpu.ts [--inventory <file>] [--release-key <file>] [--address host:port] [--namespace ns] [--profile name] [--tls-* …]
// --release-key (EDGESHIP_RELEASE_KEY): the Ed25519 private key (`edgeship keys create`, mode 0600)
// compileModel signs release manifests with; read here, used by activities only, never sent to
// Temporal. Without it artifacts ship unsigned (the report says so).
// Env: EDGESHIP_INVENTORY, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE,
// EDGESHIP_ARTIFACT_STORE; else the temporal.toml profile (lib/connectionConfig.ts).
// SIGINT/SIGTERM drain and exit 0.
// --workflow-bundle <file> (EDGESHIP_WORKFLOW_BUNDLE): the workflows prebuilt by `npm run build`
// (dist/workflow-bundle.js) instead of bundling them at start (workers/workflowBundle.ts).
// Metrics: --metrics-port <port> (EDGESHIP_METRICS_PORT) [--metrics-host 0.0.0.0] serves the Temporal
// SDK's metrics for Prometheus on GET /metrics (workers/metrics.ts, docs/observability.md).
import { Command, Option } from 'commander';
import { loadReleaseSigner, type ReleaseSigner } from '../activities/gpu/releaseKey';
import { positiveInt } from '../lib/cliNumbers';
import { loadInventory, type Inventory } from '../lib/inventory';
import { addConnectionFlags, connectTemporal, type ConnectionFlags } from './connectionFlags';
import { CONTROL_MAX_CACHED_WORKFLOWS, createGpuWorker } from './gpuWorker';
import { prebuiltWorkflowBundle } from './workflowBundle';
import { createProcessLogger, installWorkerRuntime } from './logging';
import { addMetricsFlags, metricsBindAddress, type MetricsFlags } from './metrics';

async function main(): Promise<void> {
  const program = addMetricsFlags(addConnectionFlags(new Command('gpu-worker')))
    .description('edgeship GPU worker: on queue "control" the workflows, device leases and resolveDevices; on queue "gpu" export, calibrate, compile, pre-flight, compare and pushArtifact')
    .addOption(new Option('--release-key <file>', 'Ed25519 release signing key (PEM, mode 0600) from `edgeship keys create`; without it artifacts are unsigned').env('EDGESHIP_RELEASE_KEY'))
    .addOption(new Option('--workflow-bundle <file>', 'the workflows prebuilt by `npm run build` (dist/workflow-bundle.js): starts faster and keeps ~150 MiB less than bundling at start').env('EDGESHIP_WORKFLOW_BUNDLE'))
    .addOption(new Option('--max-cached-workflows <n>', `workflow executions the control Worker keeps cached (default ${CONTROL_MAX_CACHED_WORKFLOWS}; each keeps ~300 KiB)`).env('EDGESHIP_MAX_CACHED_WORKFLOWS').argParser(positiveInt))
    .showHelpAfterError();
  program.parse();
  const flags = program.opts<ConnectionFlags & MetricsFlags & { releaseKey?: string; workflowBundle?: string; maxCachedWorkflows?: number }>();
  const log = createProcessLogger('edgeship-gpu-worker');
  let inventory: Inventory;
  let releaseSigner: ReleaseSigner | undefined;
  try {
    inventory = loadInventory(flags.inventory);
  } catch (err) {
    log.fatal({ inventory: flags.inventory }, (err as Error).message);
    process.exit(2);
  }
  try {
    if (flags.releaseKey) releaseSigner = loadReleaseSigner(flags.releaseKey);
    if (flags.workflowBundle) prebuiltWorkflowBundle(flags.workflowBundle); // refused before connecting
  } catch (err) {
    log.fatal((err as Error).message);
    process.exit(2);
  }
  installWorkerRuntime(log, { metricsBindAddress: metricsBindAddress(flags) });
  const { resolved, connection } = await connectTemporal(flags, log);
  const handle = await createGpuWorker({ inventory, connection, namespace: resolved.namespace, modelActivityOptions: { releaseSigner }, ...(flags.workflowBundle ? { workflowBundlePath: flags.workflowBundle } : {}), ...(flags.maxCachedWorkflows ? { maxCachedWorkflows: flags.maxCachedWorkflows } : {}) });
  log.info({ releaseKeyId: releaseSigner?.keyId ?? 'none: artifacts are unsigned', taskQueue: handle.taskQueue, controlTaskQueue: handle.controlTaskQueue, address: resolved.address, namespace: resolved.namespace, profile: resolved.profile, devices: inventory.devices.map((d) => d.id) }, 'gpu worker polling');
  await handle.run();
  await connection.close();
  log.info('gpu worker stopped');
}

main().catch((err: unknown) => {
  process.stderr.write(`gpu-worker: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
