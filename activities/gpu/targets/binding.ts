// The binding set: fixed windows with the FP32 ONNX's outputs, shipped in an artifact's metadata
// so the device can measure the artifact's agreement on its own runtime and CPU.
import { readFile } from 'node:fs/promises';
import type { BindingSet, CompileInput, ModelMetadata } from '../../../common/contracts';
import { cancellationSignal } from '../activityContext';
import { runPythonTool } from '../python';

/** Fixed windows with FP32 outputs shipped in the artifact's metadata for the device-side check. */
export const BINDING_WINDOWS = 64;

interface BindingFile {
  seed: number;
  windows: number[][][];
  reference: number[][];
}

/** A binding file written by ml/ (quantize.py or binding.py) as the metadata's BindingSet. */
export async function readBindingFile(file: string, fp32Sha256: string): Promise<BindingSet> {
  const b = JSON.parse(await readFile(file, 'utf8')) as BindingFile;
  return { source: 'fp32-onnx', fp32Sha256, seed: b.seed, windows: b.windows, reference: b.reference };
}

/**
 * The binding set for an artifact no quantizer here produced: a HEF runs only on the NPU, so the
 * device is where its agreement is measured.
 */
export async function fp32Binding(onnx: CompileInput['onnx'], meta: ModelMetadata, work: string): Promise<BindingSet> {
  const out = await runPythonTool<{ bindingPath: string }>('binding.py', { fp32Path: onnx.path, normalization: meta.normalization, windows: BINDING_WINDOWS, outPath: `${work}/binding.json` }, { signal: cancellationSignal() });
  return readBindingFile(out.bindingPath, onnx.sha256);
}
