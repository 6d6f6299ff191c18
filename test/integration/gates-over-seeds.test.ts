// The demo recipe trained with other seeds: every training gives another checkpoint, and a gate
// the demo clears by luck would fail for the next one (on another machine, the U8S8 INT8 figure
// went 0.98293 / 0.98738 / 0.97336 over three trainings). Each seed's checkpoint must clear the
// INT8 gate and the pre-flight with room to spare.
import * as assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { buildCalibrationSet } from '../../activities/gpu/buildCalibrationSet';
import { compileModel, DEFAULT_INT8_GATE } from '../../activities/gpu/compileModel';
import { ensureDemoCheckpoint } from '../../activities/gpu/demoCheckpoint';
import { exportModel } from '../../activities/gpu/exportModel';
import { ArtifactStore } from '../../activities/gpu/artifactStore';
import { preflightModel } from '../../activities/gpu/preflightModel';
import { TEST_STATE, tempDir } from '../helpers/gpuFixtures';

/** 7 is the demo checkpoint's own seed (made once for the whole suite); two more trainings. */
const SEEDS = [7, 1001, 2002];
const INT8_MARGIN = 0.003;

describe('model gates over several trainings of the demo recipe', function () {
  this.timeout(1_800_000);
  let root: string;

  before(() => {
    root = tempDir('gates-over-seeds');
  });
  after(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it(`S8S8 INT8 clears its gate by ≥ ${INT8_MARGIN} and the pre-flight passes, for seeds ${SEEDS.join(', ')}`, async () => {
    const store = new ArtifactStore(path.join(root, 'store'));
    const rows: string[] = [];
    for (const seed of SEEDS) {
      const file = seed === 7 ? path.join(TEST_STATE, 'tcn-vae-demo.pt') : path.join(TEST_STATE, `tcn-vae-demo-seed${seed}.pt`);
      const ckpt = await ensureDemoCheckpoint(file, { seed });
      const exp = await exportModel({ modelName: `seed-${seed}`, source: { kind: 'checkpoint', checkpointPath: ckpt.path } }, store);
      const cal = await buildCalibrationSet({ modelName: `seed-${seed}`, metadataPath: exp.metadataPath, samples: 2000 }, store);
      const int8 = await compileModel({ modelName: `seed-${seed}`, target: 'cpu-int8', onnx: exp.onnx, metadataPath: exp.metadataPath, calibrationSet: cal.calibrationSet }, store);
      const pre = await preflightModel({ modelName: `seed-${seed}`, artifact: int8.artifact, metadataPath: int8.metadataPath }, store);
      const sim = int8.similarity!;
      const tight = pre.checks.filter((c) => typeof c.value === 'number' && typeof c.gate === 'number').map((c) => `${c.name} ${(c.value as number).toPrecision(3)}/${String(c.gate)}`).join(', ');
      rows.push(`seed ${seed}: INT8 min cosine ${sim.minCosine.toFixed(5)} (gate ${DEFAULT_INT8_GATE}, margin ${(sim.minCosine - DEFAULT_INT8_GATE).toFixed(5)}); excluded ${int8.quantization?.excludedNodes.length ?? 0} node(s); pre-flight ${tight}`);
      assert.ok(sim.minCosine >= DEFAULT_INT8_GATE + INT8_MARGIN, rows.at(-1));
      assert.equal(pre.passed, true, rows.at(-1));
    }
    console.log(rows.map((r) => `      ${r}`).join('\n'));
  });
});
