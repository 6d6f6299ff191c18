// The embedded default stack: Temporal dev server, the demo model, simulated devices with their
// runtimes and edge workers, and a GPU worker — everything `npm run demo` and the end-to-end
// tests need, started in one call and stopped in one call.
import { existsSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { exportModel } from '../activities/gpu/exportModel';
import { ArtifactStore } from '../activities/gpu/artifactStore';
import { ensureDemoCheckpoint } from '../activities/gpu/demoCheckpoint';
import type { CompileTarget } from '../common/contracts';
import { CONTROL_TASK_QUEUE, edgeTaskQueue, GPU_TASK_QUEUE } from '../common/queues';
import { createGpuWorker } from '../workers/gpuWorker';
import type { WorkerHandle } from '../workers/workerHandle';
import { startSimulatedFleet, type SimulatedFleet } from './fleet';
import { startDevServer } from '../lib/devServer';
import { ensureToolchain } from '../lib/toolchain';

export interface DemoStackOptions {
  /** Folder for the demo's checkpoints, store, fleet and reports. */
  workDir: string;
  deviceCount: number;
  target: CompileTarget;
  ssh: 'auto' | 'openssh' | 'embedded';
  /** Use a running Temporal server (tests) instead of starting the dev server. */
  temporalAddress?: string;
  devServer?: { dbFile: string; port: number; uiPort: number };
  namespace?: string;
  /** Where the demo checkpoints are made (default: workDir); tests share theirs. */
  checkpointDir?: string;
  /** Scratch root whose leftovers of a killed run may be removed (tests: the test state root). */
  disposableRoot?: string;
  log: (line: string) => void;
}

export interface DemoStack {
  address: string;
  namespace: string;
  uiUrl?: string;
  client: Client;
  fleet: SimulatedFleet;
  checkpoints: { good: string; degenerate: string };
  baselineSha256: string;
  gpuWorker: WorkerHandle;
  stop(): Promise<void>;
}

const ACTIVITY_QUEUE = temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY;

/** Edge workers start as separate processes: wait until each device's queue has a poller. */
async function waitForPollers(client: Client, namespace: string, queues: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const name of queues) {
    for (;;) {
      const res = await client.workflowService.describeTaskQueue({ namespace, taskQueue: { name }, taskQueueType: ACTIVITY_QUEUE });
      if ((res.pollers ?? []).length > 0) break;
      if (Date.now() > deadline) throw new Error(`no worker polls ${name} after ${timeoutMs} ms (see the device's logs/edge-worker.log)`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

export async function startDemoStack(opts: DemoStackOptions): Promise<DemoStack> {
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch (err) {
        opts.log(`teardown: ${(err as Error).message}`);
      }
    }
  };
  try {
    await ensureToolchain(opts.log);
    mkdirSync(opts.workDir, { recursive: true });
    const namespace = opts.namespace ?? 'default';

    let address: string;
    let uiUrl: string | undefined;
    if (opts.temporalAddress) {
      address = opts.temporalAddress;
    } else {
      const dev = opts.devServer ?? { dbFile: path.join(opts.workDir, 'temporal.sqlite'), port: 7233, uiPort: 8233 };
      const server = await startDevServer({ dbFile: dev.dbFile, port: dev.port, uiPort: dev.uiPort, namespace });
      stops.push(() => server.stop());
      address = server.address;
      uiUrl = server.uiUrl ?? undefined;
      opts.log(`Temporal dev server ${address} (${server.reused ? 'already running, reused' : 'started'}), Web UI ${uiUrl ?? 'not known'}`);
    }

    opts.log('demo checkpoints: the candidate (trained briefly on synthetic IMU windows) and a degenerate one');
    const checkpointDir = opts.checkpointDir ?? opts.workDir;
    const good = await ensureDemoCheckpoint(path.join(checkpointDir, 'tcn-vae-demo.pt'), { onProgress: (l) => opts.log(`  ${l}`) });
    const degenerate = await ensureDemoCheckpoint(path.join(checkpointDir, 'tcn-vae-degenerate.pt'), { degenerate: true });

    // What the devices serve before the deployment: the FP32 export of the demo model. The
    // deployment then replaces it with the compiled candidate, so there is a real model to back up.
    const store = new ArtifactStore(path.join(opts.workDir, 'artifacts'));
    const baseline = await exportModel({ modelName: 'tcn-vae-baseline', source: { kind: 'checkpoint', checkpointPath: good.path } }, store);
    opts.log(`baseline model ${baseline.onnx.sha256.slice(0, 16)} (FP32 ONNX, ${baseline.onnx.sizeBytes} bytes)`);

    const fleet = await startSimulatedFleet({
      count: opts.deviceCount,
      baseDir: path.join(opts.workDir, 'fleet'),
      target: opts.target,
      sshServer: opts.ssh,
      baseline: { modelPath: baseline.onnx.path, metadataPath: baseline.metadataPath },
      startEdgeWorkers: { temporalAddress: address, namespace },
      disposableRoot: opts.disposableRoot,
    });
    stops.push(() => fleet.stop());
    opts.log(`${fleet.devices.length} simulated devices on ${fleet.sshServerKind === 'openssh' ? 'OpenSSH sshd' : `the embedded ssh2 SSH/SFTP server (${opts.ssh === 'embedded' ? 'as asked' : 'no usable sshd on this machine'})`}; inventory ${fleet.inventoryPath}`);

    const connection = await Connection.connect({ address });
    stops.push(() => connection.close());
    const client = new Client({ connection, namespace });

    const nativeConnection = await NativeConnection.connect({ address });
    stops.push(() => nativeConnection.close());
    const gpuWorker = await createGpuWorker({
      inventory: fleet.inventory,
      connection: nativeConnection,
      namespace,
      modelActivityOptions: { storeDir: store.root },
    });
    const running = gpuWorker.run();
    stops.push(async () => {
      gpuWorker.shutdown();
      await running;
    });
    await waitForPollers(client, namespace, [CONTROL_TASK_QUEUE, GPU_TASK_QUEUE, ...fleet.devices.map((d) => edgeTaskQueue(d.id))], 60_000);
    opts.log(`workers polling: ${CONTROL_TASK_QUEUE}, ${GPU_TASK_QUEUE}, ${fleet.devices.map((d) => edgeTaskQueue(d.id)).join(', ')}`);

    return {
      address,
      namespace,
      uiUrl,
      client,
      fleet,
      checkpoints: { good: good.path, degenerate: degenerate.path },
      baselineSha256: baseline.onnx.sha256,
      gpuWorker,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

export function demoWorkDir(stateDirectory: string): string {
  const dir = path.join(stateDirectory, 'demo');
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
  return dir;
}
