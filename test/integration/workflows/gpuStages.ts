// A tiny test workflow: the three GPU stages in order through proxyActivities, plus a Hailo
// compile whose typed failure is caught and reported, to prove failures cross the worker intact.
import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { CalibrationResult, CompileResult, ExportModelResult, GpuActivities } from '../../../common/contracts';

const gpu = proxyActivities<Pick<GpuActivities, 'exportModel' | 'buildCalibrationSet' | 'compileModel'>>({
  taskQueue: 'gpu',
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 2 },
});

export interface GpuStagesResult {
  exported: ExportModelResult;
  calibration: CalibrationResult;
  compiled: CompileResult;
  hailo: { type: string | undefined; nonRetryable: boolean | undefined; attempts: string };
}

export async function gpuStages(checkpointPath: string, samples: number): Promise<GpuStagesResult> {
  const exported = await gpu.exportModel({ modelName: 'tcn-vae-demo', source: { kind: 'checkpoint', checkpointPath } });
  const calibration = await gpu.buildCalibrationSet({ modelName: 'tcn-vae-demo', metadataPath: exported.metadataPath, samples });
  const compiled = await gpu.compileModel({ modelName: 'tcn-vae-demo', target: 'cpu-int8', onnx: exported.onnx, metadataPath: exported.metadataPath, calibrationSet: calibration.calibrationSet });
  let hailo: GpuStagesResult['hailo'] = { type: undefined, nonRetryable: undefined, attempts: 'none' };
  try {
    await gpu.compileModel({ modelName: 'tcn-vae-demo', target: 'hailo8', onnx: exported.onnx, metadataPath: exported.metadataPath, calibrationSet: calibration.calibrationSet });
  } catch (err) {
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
      hailo = { type: err.cause.type ?? undefined, nonRetryable: err.cause.nonRetryable ?? undefined, attempts: String(err.retryState) };
    } else {
      throw err;
    }
  }
  return { exported, calibration, compiled, hailo };
}
