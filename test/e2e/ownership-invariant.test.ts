// The randomized ownership invariant, small: seeded overlapping deployments (different models,
// one artifact under two names, re-runs of one id) on the same 3 simulated OpenSSH devices, with
// random approve / reject / cancel timing and kill -9 of an edge worker and the GPU worker
// (test/soak/). `npm run soak -- --runs 200` runs the big one.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { stateDir } from '../../lib/paths';
import { runSoak } from '../soak/runner';

const SEED = Number(process.env.EDGESHIP_SOAK_SEED ?? 20261201);

describe('e2e: one owner per device under concurrent deployments and worker crashes', function () {
  this.timeout(900_000);

  it(`keeps every device on what its deployments report (seed ${SEED})`, async () => {
    const lines: string[] = [];
    const result = await runSoak({
      runs: 6,
      seed: SEED,
      devices: 3,
      maxConcurrent: 3,
      killProbability: 1,
      workDir: path.join(stateDir(), 'test', 'soak'),
      // The checkpoint the pipeline e2e test makes (or this one makes for it).
      checkpointDir: path.join(stateDir(), 'test'),
      disposableRoot: path.join(stateDir(), 'test'),
      log: (line) => lines.push(line),
    });
    process.stdout.write(`      seed ${result.seed}: ${JSON.stringify(result.outcomes)}, kills ${JSON.stringify(result.kills)}, ${(result.wallMs / 1000).toFixed(1)} s\n`);
    assert.deepEqual(result.violations, [], lines.join('\n'));
    assert.ok(result.kills.edge + result.kills.gpu > 0, 'the plan killed a worker');
  });
});
