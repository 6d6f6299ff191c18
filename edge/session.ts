// The onnxruntime session options every runtime session uses (on the event loop or in an
// inference worker), and the benchmark's in-process ceiling too, so they compare like for like.
import type { InferenceSession } from 'onnxruntime-node';

export function runtimeSessionOptions(intraOpNumThreads = 1): InferenceSession.SessionOptions {
  // One intra-op thread by default: a device runtime shares few cores with the edge worker and
  // the HTTP thread; more throughput comes from more inference workers, not wider runs.
  return { intraOpNumThreads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' };
}
