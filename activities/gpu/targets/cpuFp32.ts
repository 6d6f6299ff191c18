// cpu-fp32: the export itself ships. The store copy is re-checked against the references (rather
// than trusting the export's record) and returned as it is: no new file, nothing to store.
import { performance } from 'node:perf_hooks';
import type { CompileResult } from '../../../common/contracts';
import { checkOnnxAgainstReferences, DEFAULT_PARITY_GATE } from '../parity';
import type { CompileContext, TargetCompiler } from './targetCompiler';

export const cpuFp32Compiler: TargetCompiler = {
  async compile({ input, meta, started }: CompileContext): Promise<CompileResult> {
    await checkOnnxAgainstReferences(input.onnx.path, meta.probes, meta.normalization, { gate: input.parityMinCosine ?? DEFAULT_PARITY_GATE });
    return {
      target: 'cpu-fp32',
      artifact: input.onnx,
      metadataPath: input.metadataPath,
      format: 'onnx',
      sizes: { fp32Bytes: input.onnx.sizeBytes, artifactBytes: input.onnx.sizeBytes },
      durationMs: performance.now() - started,
      reused: false,
    };
  },
};
