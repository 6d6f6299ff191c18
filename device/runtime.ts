// `edgeship-device runtime`: the inference runtime of this device, configured by device.json.
// With restart.method "self-reload" it follows `current` by itself, which is how the packaged
// device swaps models without any privilege (see edge/currentWatcher.ts).
import { serveUntilSignalled } from '../edge/cli';
import type { RuntimeOptions } from '../edge/server';
import type { DeviceConfig } from './config';

export function runtimeOptionsOf(c: DeviceConfig): RuntimeOptions {
  return {
    modelDir: c.modelDir,
    host: c.runtime.host,
    port: c.runtime.port,
    deviceId: c.id,
    // On the event loop unless the config asks for worker threads: one inference lane either way,
    // and a worker thread costs its own V8 isolate (bench:device-memory: about 15 MiB of peak RSS,
    // and no throughput gained at concurrency 8 on this project's test machine).
    inferenceWorkers: c.runtime.inferenceWorkers ?? 0,
    intraOpNumThreads: c.runtime.intraOpThreads,
    reloadOnChange: c.restart.method === 'self-reload',
  };
}

export async function runRuntime(c: DeviceConfig): Promise<void> {
  await serveUntilSignalled(runtimeOptionsOf(c));
}
