// The stages before any device is asked for: resolve the devices, export, calibrate, compile and
// the pre-flight (every model gate that needs no device). They end with the figures a person
// approving will see.
import type { CompileResult, DeviceInfo, ExportModelResult, PreflightResult } from '../../common/contracts';
import { deviceAcceptsTarget } from '../../common/contracts';
import { gatesAt } from '../../common/gates';
import { gpuActivity } from '../activities';
import { ErrorType } from '../failures';
import { failStep, runStep, short, type DeployContext } from './context';

/** Inventory entries per resolveDevices call in a fleet rollout. */
const RESOLVE_CHUNK = 500;

export interface GpuStagesResult {
  exported: ExportModelResult;
  compiled: CompileResult;
  devices: DeviceInfo[];
}

/**
 * A fleet's inventory entries in chunks: one result per 500 devices (~115 KiB) keeps every
 * history event far below Temporal's 2 MB payload limit at 10,000 devices.
 */
async function resolveInChunks(ctx: DeployContext): Promise<DeviceInfo[]> {
  const { request } = ctx;
  const all: DeviceInfo[] = [];
  for (let at = 0; at < request.devices.length; at += RESOLVE_CHUNK) {
    const chunk = request.devices.slice(at, at + RESOLVE_CHUNK);
    const summary = request.devices.length <= RESOLVE_CHUNK ? `resolve ${chunk.length} device${chunk.length === 1 ? '' : 's'}` : `resolve devices ${at + 1}–${at + chunk.length} of ${request.devices.length}`;
    all.push(...(await runStep(ctx, 'resolve-devices', undefined, () => gpuActivity('resolveDevices', summary)({ deviceIds: chunk }))));
  }
  return all;
}

/** `ownership`: runs with device ownership have a pre-flight (older recorded runs do not). */
export async function gpuStages(ctx: DeployContext, ownership: boolean): Promise<GpuStagesResult> {
  const { request, progress } = ctx;
  const report = progress.report;
  let end = progress.begin('resolve-devices');
  const devices = request.rollout ? await resolveInChunks(ctx) : await runStep(ctx, 'resolve-devices', undefined, () => gpuActivity('resolveDevices', `resolve ${request.devices.join(', ')}`)({ deviceIds: request.devices }));
  const named = devices.map((d) => `${d.id} (${d.target})`);
  end('ok', { figures: { devices: named.length > 50 ? [...named.slice(0, 50), `… ${named.length} devices`] : named } });
  for (const d of devices) progress.device(d.id).target = d.target;
  // Checked before spending minutes on export and compile: a HEF for hailo8 fails on a hailo8l.
  const mismatched = devices.filter((d) => !deviceAcceptsTarget(d.target, request.target));
  if (mismatched.length > 0) {
    const list = mismatched.map((d) => `${d.id} is ${d.target}`).join(', ');
    await failStep(ctx, 'resolve-devices', mismatched[0].id, ErrorType.TargetMismatch, `the artifact is compiled for ${request.target} but ${list}`, { target: request.target, devices: mismatched });
  }

  end = progress.begin('export');
  const exported = await runStep(ctx, 'export', undefined, () =>
    gpuActivity('exportModel', `export ${request.modelName} (${request.source.kind})`)({
      modelName: request.modelName,
      source: request.source,
      conv2d: request.conv2d,
      parityMinCosine: request.gates.parityMinCosine,
      parityMaxRelativeError: request.gates.parityMaxRelativeError,
    }),
  );
  report.sourceSha256 = exported.sourceSha256;
  const sourceChanged = request.sourceSha256 !== undefined && request.sourceSha256 !== exported.sourceSha256;
  end(sourceChanged ? 'failed' : 'ok', {
    activityMs: exported.durationMs,
    reused: exported.reused,
    figures: { onnx: exported.onnx, parity: { minCosine: exported.parity.minCosine, maxAbsDiff: exported.parity.maxAbsDiff, gate: exported.parity.gate } },
  });
  if (sourceChanged) {
    // The workflow id names the source the client hashed; deploying other bytes would lie.
    await failStep(ctx, 'export', undefined, ErrorType.InvalidRequest, `the source changed since the deployment started: expected sha256 ${request.sourceSha256}, export read ${exported.sourceSha256}`);
  }

  end = progress.begin('calibrate');
  const calibration = await runStep(ctx, 'calibrate', undefined, () =>
    gpuActivity('buildCalibrationSet', `calibration set: ${request.calibration.samples} windows`)({
      modelName: request.modelName,
      metadataPath: exported.metadataPath,
      samples: request.calibration.samples,
      dataDir: request.calibration.dataDir,
      seed: request.calibration.seed,
    }),
  );
  end('ok', {
    activityMs: calibration.durationMs,
    reused: calibration.reused,
    figures: { calibrationSet: calibration.calibrationSet, samples: calibration.samples, source: calibration.source, classMix: calibration.classMix },
  });

  end = progress.begin('compile');
  const compiled = await runStep(ctx, 'compile', undefined, () =>
    gpuActivity('compileModel', `compile ${short(exported.onnx.sha256)} for ${request.target}`)({
      modelName: request.modelName,
      target: request.target,
      onnx: exported.onnx,
      metadataPath: exported.metadataPath,
      calibrationSet: calibration.calibrationSet,
      int8MinCosine: request.gates.int8MinCosine,
      parityMinCosine: request.gates.parityMinCosine,
      quantization: request.quantization,
    }),
  );
  end(compiled.target === request.target ? 'ok' : 'failed', {
    activityMs: compiled.durationMs,
    reused: compiled.reused,
    figures: { artifact: compiled.artifact, similarity: compiled.similarity, sizes: compiled.sizes, latencyMs: compiled.latencyMs, preflight: compiled.preflight },
  });
  if (compiled.target !== request.target) {
    await failStep(ctx, 'compile', undefined, ErrorType.TargetMismatch, `compileModel returned a ${compiled.target} artifact for a ${request.target} request`);
  }
  progress.setArtifact({ ...compiled.artifact, format: compiled.format });
  // Results recorded before signing existed carry no release: their reports stay as they were.
  if (compiled.release) {
    const r = compiled.release;
    progress.report.release = r.signed
      ? { signed: true, keyId: r.keyId, sequence: r.sequence, manifestSha256: r.manifestSha256, allowDowngrade: request.allowDowngrade }
      : { signed: false, reason: r.reason, allowDowngrade: request.allowDowngrade };
  }

  // Every model gate that needs no device runs here, before any device is asked for.
  let preflight: PreflightResult | undefined;
  if (ownership) {
    end = progress.begin('preflight');
    preflight = await runStep(ctx, 'preflight', undefined, () =>
      gpuActivity('preflightModel', `pre-flight ${short(compiled.artifact.sha256)}: sweep, scale, references`)({
        modelName: request.modelName,
        artifact: compiled.artifact,
        metadataPath: compiled.metadataPath,
        ...(compiled.format === 'hef' ? { sourceOnnx: exported.onnx } : {}),
        gates: gatesAt('preflight', request.gates),
      }),
    );
    end('ok', { activityMs: preflight.durationMs, reused: preflight.reused, figures: { windows: preflight.figures.windows, checks: preflight.checks } });
  }
  report.decisionFigures = {
    artifact: { sha256: compiled.artifact.sha256, sizeBytes: compiled.artifact.sizeBytes, format: compiled.format, target: compiled.target },
    parity: { minCosine: exported.parity.minCosine, maxAbsDiff: exported.parity.maxAbsDiff, gate: exported.parity.gate },
    ...(compiled.similarity ? { int8Similarity: compiled.similarity } : {}),
    sizes: compiled.sizes,
    ...(compiled.latencyMs ? { gpuLatencyMs: compiled.latencyMs } : {}),
    ...(compiled.quantization ? { quantization: { format: compiled.quantization.settings.format, excludedNodes: compiled.quantization.excludedNodes, speedup: compiled.quantization.speedup, cpu: compiled.quantization.cpu.model, vnni: compiled.quantization.cpu.vnni } } : {}),
    ...(compiled.warnings?.length ? { warnings: compiled.warnings } : {}),
    ...(preflight ? { preflight: preflight.checks } : {}),
    deviceGates: gatesAt('device', request.gates),
    stagedDevices: [],
  };
  return { exported, compiled, devices };
}
