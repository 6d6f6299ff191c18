// exportModel: checkpoint (or a user's export command) -> encoder-only ONNX in the store, with
// its ModelMetadata sidecar, proven equal to PyTorch on the probe windows.
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import type { ArtifactRef, ExportModelInput, ExportModelResult, ParityFigures } from '../../common/contracts';
import { ErrorType } from '../../common/errors';
import { cancellationSignal, withHeartbeat } from './activityContext';
import { ArtifactStore, canonicalJson, jobKey, sha256File } from './artifactStore';
import { runExportCommand } from './exportCommand';
import { failure } from './failures';
import { buildMetadata, readReferenceFile, writeMetadata, type ReferenceFile } from './modelMetadata';
import { checkOnnxAgainstReferences, DEFAULT_PARITY_GATE, DEFAULT_PARITY_MAX_RELATIVE_ERROR } from './parity';
import { runPythonTool } from './python';
import { parseExportInput } from './requests';

/** Bump when export.py changes what it produces, so old job records are not reused. */
const EXPORTER_VERSION = 'edgeship-export/2'; // 2: parity figures carry scale (relative error, norm ratio)
const DEFAULT_OPSET = 17;

interface ExportToolAnswer {
  onnxPath: string;
  referencePath: string;
  opset: number;
  versions: Record<string, string>;
}

function checkGate(parity: ParityFigures, gate: number, maxRelativeError: number, file: string): ParityFigures {
  if (!(parity.minCosine >= gate)) {
    throw failure(ErrorType.ParityGateFailed, `${file}: ONNX vs PyTorch min cosine ${parity.minCosine.toFixed(6)} < gate ${gate}`, parity);
  }
  if (!(parity.maxRelativeError <= maxRelativeError)) {
    throw failure(ErrorType.ParityGateFailed, `${file}: ONNX vs PyTorch relative error ${parity.maxRelativeError} > gate ${maxRelativeError}`, parity);
  }
  return { ...parity, gate, maxRelativeErrorGate: maxRelativeError };
}

export async function exportModel(rawInput: ExportModelInput, store = new ArtifactStore()): Promise<ExportModelResult> {
  const started = performance.now();
  const input = parseExportInput(rawInput);
  const gate = input.parityMinCosine ?? DEFAULT_PARITY_GATE;
  const maxRelativeError = input.parityMaxRelativeError ?? DEFAULT_PARITY_MAX_RELATIVE_ERROR;
  const opset = input.opset ?? DEFAULT_OPSET;
  const conv2d = input.conv2d ?? false;
  const source = input.source;

  let sourceSha256: string;
  let key: string | undefined;
  if (source.kind === 'checkpoint') {
    const ckpt = path.resolve(source.checkpointPath);
    if (!existsSync(ckpt) || !statSync(ckpt).isFile()) throw failure(ErrorType.CheckpointNotFound, `checkpoint ${ckpt} does not exist (or is not a file)`);
    sourceSha256 = await sha256File(ckpt);
    key = jobKey('export', { checkpoint: sourceSha256 }, { modelName: input.modelName, conv2d, opset, exporter: EXPORTER_VERSION });
    const done = await store.lookupJob<ExportModelResult>(key);
    if (done) {
      return { ...done, parity: checkGate(done.parity, gate, maxRelativeError, done.onnx.path), reused: true, durationMs: performance.now() - started };
    }
  } else {
    // A command's output cannot be predicted from its argv, so it always runs; identical ONNX
    // files still land on the same blob.
    sourceSha256 = createHash('sha256').update(canonicalJson({ argv: source.argv, cwd: source.cwd })).digest('hex');
  }

  const work = await store.workDir('export');
  try {
    return await withHeartbeat('export', async (progress) => {
      let onnxFile: string;
      let reference: ReferenceFile;
      let versions: Record<string, string>;
      if (source.kind === 'checkpoint') {
        const answer = await runPythonTool<ExportToolAnswer>('export.py', { checkpointPath: path.resolve(source.checkpointPath), outDir: work, conv2d, opset }, { onProgress: progress, signal: cancellationSignal() });
        onnxFile = answer.onnxPath;
        reference = await readReferenceFile(answer.referencePath, ErrorType.PythonToolFailed);
        versions = { ...answer.versions, exporter: EXPORTER_VERSION };
      } else {
        await runExportCommand(source.argv, source.cwd, work, progress, cancellationSignal());
        onnxFile = path.join(work, 'model.onnx');
        if (!existsSync(onnxFile)) throw failure(ErrorType.ExportCommandFailed, `export command finished without writing ${onnxFile} (EDGESHIP_EXPORT_DIR/model.onnx)`);
        reference = await readReferenceFile(path.join(work, 'reference.json'), ErrorType.ExportCommandFailed);
        versions = { exporter: 'command' };
      }
      versions['onnxruntime-node'] = ort.env.versions.node ?? 'unknown';

      progress(`export: parity on ${reference.probes.length} probes with onnxruntime-node`);
      const parity = await checkOnnxAgainstReferences(onnxFile, reference.probes, reference.normalization, { gate, maxRelativeError });

      const onnx: ArtifactRef = await store.commitFile(onnxFile, `${input.modelName}.onnx`);
      const meta = buildMetadata({
        modelName: input.modelName,
        format: 'onnx',
        target: 'cpu-fp32',
        artifact: onnx,
        reference,
        versions,
        opset: source.kind === 'checkpoint' ? opset : undefined,
        conv2d: source.kind === 'checkpoint' ? conv2d : undefined,
        sourceCheckpointSha256: source.kind === 'checkpoint' ? sourceSha256 : undefined,
      });
      const metadataPath = await writeMetadata(onnx, meta);
      const result: ExportModelResult = { onnx, metadataPath, parity, sourceSha256, durationMs: performance.now() - started, reused: false };
      if (key) {
        const metaRef = { path: metadataPath, sha256: await sha256File(metadataPath), sizeBytes: statSync(metadataPath).size };
        await store.recordJob(key, 'export', [onnx, metaRef], result);
      }
      progress(`export: ${onnx.path} sha256 ${onnx.sha256.slice(0, 12)} min cosine ${parity.minCosine.toFixed(7)}`);
      return result;
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
