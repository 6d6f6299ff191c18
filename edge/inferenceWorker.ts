// An inference thread of the runtime (see workerPool.ts): it owns one onnxruntime session, built
// from the bytes the loader hashed, and runs the windows the HTTP thread sends it one at a time,
// with the same output checks as on the event loop. It never answers without a checked result.
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { Encoder, InferenceError } from './encoder';
import { runtimeSessionOptions } from './session';
import type { FromWorker, ToWorker, WorkerInit } from './workerPool';

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('edge/inferenceWorker.ts runs only as a worker thread');
  const init = workerData as WorkerInit;
  const post = (msg: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(msg, transfer);
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(init.model, runtimeSessionOptions(init.intraOpNumThreads));
  } catch (err) {
    post({ type: 'load-failed', message: (err as Error).message });
    return;
  }
  const encoder = new Encoder(session, init.inputName, init.outputName, init.latentSize);
  let last: Promise<unknown> = Promise.resolve();
  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'release') {
      // After the runs already queued (never release a session under a run), then close the port
      // so the thread ends. The pool never terminate()s a busy worker: a thread torn down inside
      // a native run aborts the whole process.
      void last.finally(() => session.release()).finally(() => port.close());
      return;
    }
    last = encoder.runTimed(msg.input, msg.count).then(
      ({ latents, runSeconds }) => {
        // One contiguous buffer, transferred (not copied) back to the HTTP thread.
        const flat = new Float32Array(latents.length * init.latentSize);
        latents.forEach((l, i) => flat.set(l, i * init.latentSize));
        post({ type: 'result', id: msg.id, latents: flat, runSeconds }, [flat.buffer]);
      },
      (err: unknown) => {
        const kind = err instanceof InferenceError ? err.kind : 'run_failed';
        post({ type: 'failed', id: msg.id, kind, message: (err as Error).message });
      },
    );
  });
  post({
    type: 'loaded',
    signature: { inputNames: [...session.inputNames], outputNames: [...session.outputNames], inputMetadata: [...session.inputMetadata] },
  });
}

main().catch((err: unknown) => {
  // Unexpected: let the thread die with the reason; the pool turns its exit into an unhealthy runtime.
  throw err;
});
