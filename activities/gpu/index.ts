// The model activities of the `gpu` task queue. resolveDevices and pushArtifact live with the
// fleet code; the GPU worker merges both sets.
import type { CalibrationInput, CompareWithServedInput, CompileInput, ExportModelInput, GpuActivities, PreflightInput } from '../../common/contracts';
import { ArtifactStore } from './artifactStore';
import { buildCalibrationSet } from './buildCalibrationSet';
import { compareWithServed } from './compareWithServed';
import { compileModel } from './compileModel';
import { exportModel } from './exportModel';
import { preflightModel } from './preflightModel';
import type { ReleaseSigner } from './releaseKey';

export type GpuModelActivities = Pick<GpuActivities, 'exportModel' | 'buildCalibrationSet' | 'compileModel' | 'preflightModel' | 'compareWithServed'>;

export interface GpuModelActivityOptions {
  /** Artifact store root; default artifactStoreDir() (EDGESHIP_ARTIFACT_STORE or .state/artifacts). */
  storeDir?: string;
  /** The release signing key (workers/gpu.ts --release-key); absent: artifacts ship unsigned. */
  releaseSigner?: ReleaseSigner;
}

export function createGpuModelActivities(opts: GpuModelActivityOptions = {}): GpuModelActivities {
  const store = new ArtifactStore(opts.storeDir);
  return {
    exportModel: (input: ExportModelInput) => exportModel(input, store),
    buildCalibrationSet: (input: CalibrationInput) => buildCalibrationSet(input, store),
    compileModel: (input: CompileInput) => compileModel(input, store, opts.releaseSigner),
    preflightModel: (input: PreflightInput) => preflightModel(input, store),
    compareWithServed: (input: CompareWithServedInput) => compareWithServed(input, store),
  };
}
