// `edgeship-device worker`: the edge worker of this one device, polling `edge.<id>` with the
// device's activities, configured by device.json alone (no inventory, no SSH key).
// Temporal being unreachable is not a reason to exit: at boot the network may come up after the
// service, and systemd's start limit would otherwise give up on a device whose server is down for
// a while. The worker retries the connection with a growing pause, one log line per attempt
// naming the fix; `edgeship-device check` reports the same problem at once.
import { NativeConnection } from '@temporalio/worker';
import { ConnectionConfigError, type ResolvedConnection } from '../lib/connectionConfig';
import { createProcessLogger, installWorkerRuntime, type ProcessLogger } from '../workers/logging';
import { createEdgeWorker } from '../workers/edgeWorker';
import { DeviceConfigError, edgeDeviceOf, unreadableFiles, type DeviceConfig } from './config';
import { resolveDeviceConnection } from './connection';
import { describeTemporalFailure } from './temporalProblem';
import { deviceTrustOf } from './trust';

/** Everything that must hold before connecting; a DeviceConfigError lists what does not. */
export function prepareWorker(c: DeviceConfig, configFile: string): ResolvedConnection {
  const unreadable = unreadableFiles(c);
  if (unreadable.length > 0) throw new DeviceConfigError(configFile, unreadable);
  try {
    return resolveDeviceConnection(c);
  } catch (err) {
    if (err instanceof ConnectionConfigError) throw new DeviceConfigError(configFile, [err.message]);
    throw err;
  }
}

/** A stop request that also cuts short the pause between connection attempts. */
export class StopSignal {
  stopping = false;
  private wake: (() => void) | undefined;
  stop(): void {
    this.stopping = true;
    this.wake?.();
  }
  pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

export async function connectWithRetry(c: DeviceConfig, resolved: ResolvedConnection, log: ProcessLogger, stop: StopSignal): Promise<NativeConnection | null> {
  let pauseMs = 1000;
  for (;;) {
    try {
      return await NativeConnection.connect(resolved.options);
    } catch (err) {
      if (stop.stopping) return null;
      log.error({ address: resolved.address, retryInMs: pauseMs }, describeTemporalFailure(err, c, resolved.address));
      await stop.pause(pauseMs);
      if (stop.stopping) return null;
      pauseMs = Math.min(pauseMs * 2, 30_000);
    }
  }
}

export async function runWorker(c: DeviceConfig, resolved: ResolvedConnection, metricsBindAddress?: string): Promise<void> {
  const device = edgeDeviceOf(c);
  const log: ProcessLogger = createProcessLogger('edgeship-edge-worker', { device: device.id });
  // Before the worker exists, a signal only has to stop the connection attempts.
  const stop = new StopSignal();
  const early = (): void => stop.stop();
  process.once('SIGTERM', early);
  process.once('SIGINT', early);
  installWorkerRuntime(log, { metricsBindAddress });
  const connection = await connectWithRetry(c, resolved, log, stop);
  process.off('SIGTERM', early);
  process.off('SIGINT', early);
  if (!connection) return;
  try {
    const trust = deviceTrustOf(c);
    const handle = await createEdgeWorker({ device, connection, namespace: resolved.namespace, ...(trust ? { activityOptions: { trust } } : {}) });
    log.info({ taskQueue: handle.taskQueue, address: resolved.address, namespace: resolved.namespace, modelDir: device.modelDir, restart: c.restart.method }, 'edge worker polling');
    await handle.run();
  } finally {
    await connection.close();
  }
  log.info('edge worker stopped');
}
