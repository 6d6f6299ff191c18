// Every bad input of the GPU stages fails with its own typed, non-retryable error, and a failed
// stage leaves no artifact in the store.
import * as assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { CalibrationResult, ExportModelResult } from '../../common/contracts';
import { buildCalibrationSet } from '../../activities/gpu/buildCalibrationSet';
import { compileModel } from '../../activities/gpu/compileModel';
import { exportModel } from '../../activities/gpu/exportModel';
import { ArtifactStore } from '../../activities/gpu/artifactStore';
import { pythonExecutable } from '../../lib/paths';
import { demoCheckpoint, EXPORT_COMMAND_FIXTURE, filesUnder, python, rejectsWithType, tempDir } from '../helpers/gpuFixtures';

describe('gpu activities: bad inputs', function () {
  this.timeout(300_000);
  let root: string;
  let scratch: string;
  let store: ArtifactStore;
  let ckpt: { path: string; sha256: string };
  let exp: ExportModelResult;
  let cal: CalibrationResult;

  const fromCheckpoint = (checkpointPath: string) => exportModel({ modelName: 'bad', source: { kind: 'checkpoint', checkpointPath } }, store);
  const fromCommand = (mode: string) => exportModel({ modelName: 'bad', source: { kind: 'command', argv: [pythonExecutable(), EXPORT_COMMAND_FIXTURE, mode] } }, store);
  const blobs = () => filesUnder(root).filter((f) => !f.includes(`${path.sep}jobs${path.sep}`));

  before(async () => {
    ckpt = await demoCheckpoint();
    root = tempDir('gpu-bad-store');
    scratch = tempDir('gpu-bad-inputs');
    store = new ArtifactStore(root);
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  });

  describe('exportModel', () => {
    it('missing checkpoint -> CheckpointNotFound', async () => {
      await rejectsWithType(fromCheckpoint(path.join(scratch, 'nope.pt')), 'CheckpointNotFound', { nonRetryable: true });
    });

    it('truncated checkpoint -> CheckpointCorrupt', async () => {
      const file = path.join(scratch, 'truncated.pt');
      writeFileSync(file, readFileSync(ckpt.path).subarray(0, 4096));
      await rejectsWithType(fromCheckpoint(file), 'CheckpointCorrupt', { nonRetryable: true });
    });

    it('checkpoint of another architecture -> CheckpointArchitectureMismatch', async () => {
      const file = path.join(scratch, 'resnet.pt');
      python('import sys, torch; torch.save({"state_dict": torch.nn.Linear(9, 13).state_dict()}, sys.argv[1])', [file]);
      await rejectsWithType(fromCheckpoint(file), 'CheckpointArchitectureMismatch', { nonRetryable: true, message: /missing/ });
      const wider = path.join(scratch, 'wider.pt');
      python(`import sys, torch
from tcn_vae import TCNVAE, DEFAULT_CONFIG
cfg = dict(DEFAULT_CONFIG, channels=[32, 64, 128])
torch.save({"architecture": "edgeship.tcn-vae/1", "state_dict": TCNVAE(cfg).state_dict()}, sys.argv[1])`, [wider]);
      await rejectsWithType(fromCheckpoint(wider), 'CheckpointArchitectureMismatch', { message: /shape mismatch/ });
    });

    it('a pickled model object instead of a state_dict is refused without running it', async () => {
      const file = path.join(scratch, 'pickled.pt');
      python('import sys, torch; torch.save(torch.nn.Linear(9, 13), sys.argv[1])', [file]);
      await rejectsWithType(fromCheckpoint(file), 'CheckpointCorrupt', { message: /state_dict/ });
    });

    it('checkpoint whose encoder outputs NaN -> ModelOutputNotFinite', async () => {
      const file = path.join(scratch, 'nan.pt');
      python(`import sys, torch
ck = torch.load(sys.argv[1], weights_only=True)
ck["state_dict"]["encoder.fc_mu.bias"][3] = float("nan")
torch.save(ck, sys.argv[2])`, [ckpt.path, file]);
      await rejectsWithType(fromCheckpoint(file), 'ModelOutputNotFinite', { nonRetryable: true });
    });

    it('ONNX with the wrong input shape -> OnnxShapeMismatch', async () => {
      await rejectsWithType(fromCommand('wrong-input'), 'OnnxShapeMismatch', { nonRetryable: true, message: /imu_window \[1,50,9\]/ });
    });

    it('ONNX with the wrong output shape -> OnnxShapeMismatch', async () => {
      await rejectsWithType(fromCommand('wrong-output'), 'OnnxShapeMismatch', { message: /latent_embeddings \[1,32\]/ });
    });

    it('ONNX that outputs NaN -> ModelOutputNotFinite', async () => {
      await rejectsWithType(fromCommand('nan'), 'ModelOutputNotFinite', { nonRetryable: true });
    });

    it('export command failing or writing no reference -> ExportCommandFailed', async () => {
      await rejectsWithType(fromCommand('fail'), 'ExportCommandFailed', { nonRetryable: true, message: /exited with code 3[\s\S]*out of memory/ });
      await rejectsWithType(fromCommand('no-reference'), 'ExportCommandFailed', { message: /reference\.json/ });
      await rejectsWithType(exportModel({ modelName: 'bad', source: { kind: 'command', argv: [path.join(scratch, 'no-such-binary')] } }, store), 'ExportCommandFailed', { message: /could not start/ });
    });

    it('a model name that is not an identifier -> InvalidRequest', async () => {
      await rejectsWithType(exportModel({ modelName: '../etc', source: { kind: 'checkpoint', checkpointPath: ckpt.path } }, store), 'InvalidRequest');
    });

    it('none of the failed exports left a model in the store', () => {
      assert.deepEqual(blobs(), []);
    });
  });

  describe('buildCalibrationSet and compileModel', () => {
    before(async () => {
      exp = await exportModel({ modelName: 'tcn-vae-demo', source: { kind: 'checkpoint', checkpointPath: ckpt.path } }, store);
      cal = await buildCalibrationSet({ modelName: 'tcn-vae-demo', metadataPath: exp.metadataPath, samples: 64 }, store);
    });

    it('samples out of 16..100000 -> CalibrationSizeOutOfRange', async () => {
      for (const samples of [8, 100_001]) {
        await rejectsWithType(buildCalibrationSet({ modelName: 'tcn-vae-demo', metadataPath: exp.metadataPath, samples }, store), 'CalibrationSizeOutOfRange', { nonRetryable: true });
      }
    });

    it('empty or missing data folder -> CalibrationDataInvalid', async () => {
      const empty = path.join(scratch, 'empty');
      mkdirSync(empty);
      writeFileSync(path.join(empty, 'README.txt'), 'no windows here');
      await rejectsWithType(buildCalibrationSet({ modelName: 'tcn-vae-demo', metadataPath: exp.metadataPath, samples: 16, dataDir: empty }, store), 'CalibrationDataInvalid', { message: /no \.npy or \.csv/ });
      await rejectsWithType(buildCalibrationSet({ modelName: 'tcn-vae-demo', metadataPath: exp.metadataPath, samples: 16, dataDir: path.join(scratch, 'absent') }, store), 'CalibrationDataInvalid');
    });

    it('malformed recorded windows -> CalibrationDataInvalid naming the file', async () => {
      const dir = path.join(scratch, 'malformed', 'walking');
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'w1.csv'), Array.from({ length: 100 }, () => '1,2,3,4,5').join('\n'));
      await rejectsWithType(buildCalibrationSet({ modelName: 'tcn-vae-demo', metadataPath: exp.metadataPath, samples: 16, dataDir: path.dirname(dir) }, store), 'CalibrationDataInvalid', { message: /w1\.csv/ });
    });

    it('reads recorded .npy and .csv windows, labelled by folder', async () => {
      const dir = path.join(scratch, 'recorded');
      mkdirSync(path.join(dir, 'running'), { recursive: true });
      mkdirSync(path.join(dir, 'stationary'), { recursive: true });
      python(`import sys, numpy as np
from synthetic import generate
w, _ = generate(20, 5, ("running",))
np.save(sys.argv[1] + "/running/batch.npy", w)
s, _ = generate(1, 6, ("stationary",))
np.savetxt(sys.argv[1] + "/stationary/one.csv", s[0], delimiter=",", header="ax,ay,az,gx,gy,gz,mx,my,mz", comments="")`, [dir]);
      const r = await buildCalibrationSet({ modelName: 'tcn-vae-demo', metadataPath: exp.metadataPath, samples: 21, dataDir: dir }, store);
      assert.equal(r.source, 'recorded');
      assert.deepEqual(r.classMix, { running: 20, stationary: 1 });
      await rejectsWithType(buildCalibrationSet({ modelName: 'tcn-vae-demo', metadataPath: exp.metadataPath, samples: 22, dataDir: dir }, store), 'CalibrationDataInvalid', { message: /holds 21 windows/ });
    });

    it('unknown target -> UnknownTarget', async () => {
      await rejectsWithType(compileModel({ modelName: 'tcn-vae-demo', target: 'tpu-v9' as 'hailo8', onnx: exp.onnx, metadataPath: exp.metadataPath, calibrationSet: cal.calibrationSet }, store), 'UnknownTarget', { nonRetryable: true });
    });

    it('hailo8 without the DFC -> HailoCompilerUnavailable with install steps, and no file written', async () => {
      const before = blobs();
      const err = await rejectsWithType(
        compileModel({ modelName: 'tcn-vae-demo', target: 'hailo8', onnx: exp.onnx, metadataPath: exp.metadataPath, calibrationSet: cal.calibrationSet }, store),
        'HailoCompilerUnavailable', { nonRetryable: true, message: /hailo_dataflow_compiler-3\.33\.0-py3-none-linux_x86_64\.whl[\s\S]*HailoRT 4\.23[\s\S]*hailo parser onnx/ });
      assert.match(err.message, /Conv1d/, 'the preflight recommends the conv2d export for a Conv1d graph');
      assert.deepEqual(blobs(), before);
      assert.ok(!filesUnder(root).some((f) => f.endsWith('.hef')));
    });

    it('an artifact changed after it was made -> ArtifactShaMismatch', async () => {
      const copy = path.join(scratch, 'calib-copy.npy');
      copyFileSync(cal.calibrationSet.path, copy);
      await rejectsWithType(compileModel({ modelName: 'tcn-vae-demo', target: 'cpu-int8', onnx: exp.onnx, metadataPath: exp.metadataPath, calibrationSet: { ...cal.calibrationSet, path: copy, sha256: '0'.repeat(64) } }, store), 'ArtifactShaMismatch', { nonRetryable: true });
    });
  });
});
