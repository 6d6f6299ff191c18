// What createEdgeWorker / createGpuWorker hand back, and the connection they may own.
import { NativeConnection, type Worker } from '@temporalio/worker';

export interface WorkerHandle {
  worker: Worker;
  taskQueue: string;
  /** Polls until shutdown (a signal, or `worker.shutdown()`), then closes an owned connection. */
  run(): Promise<void>;
}

/** Uses the caller's connection (in-process demo and tests) or opens one the handle owns. */
export async function connectIfNeeded(connection: NativeConnection | undefined, address: string | undefined): Promise<{ connection: NativeConnection; owned: boolean }> {
  if (connection) return { connection, owned: false };
  return { connection: await NativeConnection.connect({ address: address ?? 'localhost:7233' }), owned: true };
}

/** Creates the worker; the owned connection is closed when creation fails or the worker stops. */
export async function makeHandle(taskQueue: string, conn: { connection: NativeConnection; owned: boolean }, create: () => Promise<Worker>): Promise<WorkerHandle> {
  let worker: Worker;
  try {
    worker = await create();
  } catch (err) {
    if (conn.owned) await conn.connection.close();
    throw err;
  }
  return {
    worker,
    taskQueue,
    async run() {
      try {
        await worker.run();
      } finally {
        if (conn.owned) await conn.connection.close();
      }
    },
  };
}
