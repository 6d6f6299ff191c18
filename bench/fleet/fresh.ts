// bench:fleet --fresh-source: each measured rollout deploys a checkpoint the artifact store has
// never seen, so the GPU stages (export, INT8 compile, pre-flight) really run, as they do for a
// user rolling out a new model. The checkpoint is the demo recipe itself (ml/make_demo_checkpoint.py,
// 150 Adam steps on synthetic IMU windows) trained with another seed: other training data draws
// and other initial weights, so other weights — a genuinely different model of the same
// architecture, not the same one with bytes the exporter would ignore. The demo recipe is meant
// to clear every gate whatever its seed (test/integration/gates-over-seeds.test.ts).
//
// Seeds are drawn at random from [100000, 2^31 − 2] (far from the seeds the project uses: 7/8
// for the demo, 1001/2002 in the tests, 5150/5151, 80021, 99173) and kept in
// <state>/bench-fleet/fresh-source-seeds.json so that no seed is trained twice for this store.
// Whether a run was really fresh is read from its final report, not assumed: export, compile and
// pre-flight must not be `reused`, and its ONNX and INT8 sha256 must be new to this bench.
// The calibration set is keyed on normalization, data, window count and seed, not on the model
// (activities/gpu/buildCalibrationSet.ts), so it stays reused — as it would for a user.
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ensureDemoCheckpoint } from '../../activities/gpu/demoCheckpoint';
import type { DeploymentReport } from '../../workflows/report';

const SEED_MIN = 100_000;
const SEED_MAX = 2 ** 31 - 2; // make_demo_checkpoint.py also draws its held-out windows with seed + 1

export interface FreshCheckpoint {
  seed: number;
  path: string;
  sha256: string;
  /** Training wall time (not part of any rollout). */
  madeInMs: number;
}

export interface Freshness {
  seed: number;
  checkpointSha256: string;
  onnxSha256?: string;
  artifactSha256?: string;
  /** Export, compile and pre-flight ran (none reused), and both sha256 are new to this bench. */
  fresh: boolean;
  /** GPU stages the store answered (calibrate is expected: it does not depend on the model). */
  reused: string[];
  problems: string[];
}

interface Ledger {
  note: string;
  seeds: Array<{ seed: number; checkpointSha256: string; at: string }>;
}

export class FreshSources {
  private readonly ledgerFile: string;
  private readonly checkpointDir: string;
  private readonly made: string[] = [];
  private readonly seenOnnx = new Set<string>();
  private readonly seenArtifacts = new Set<string>();

  constructor(dir: string, private readonly log: (line: string) => void) {
    this.ledgerFile = path.join(dir, 'fresh-source-seeds.json');
    this.checkpointDir = path.join(dir, 'fresh-checkpoints');
  }

  private ledger(): Ledger {
    const empty: Ledger = { note: 'bench:fleet --fresh-source: demo-recipe seeds already trained for .state/bench-fleet/artifacts; never reused', seeds: [] };
    if (!existsSync(this.ledgerFile)) return empty;
    try {
      const l = JSON.parse(readFileSync(this.ledgerFile, 'utf8')) as Ledger;
      return Array.isArray(l.seeds) ? l : empty;
    } catch {
      return empty;
    }
  }

  /** Trains the demo recipe with a seed this store has never seen. */
  async make(): Promise<FreshCheckpoint> {
    const ledger = this.ledger();
    const used = new Set(ledger.seeds.map((s) => s.seed));
    let seed: number;
    do seed = randomInt(SEED_MIN, SEED_MAX + 1);
    while (used.has(seed));
    mkdirSync(this.checkpointDir, { recursive: true });
    const file = path.join(this.checkpointDir, `tcn-vae-demo-seed${seed}.pt`);
    rmSync(file, { force: true });
    const t0 = Date.now();
    const ckpt = await ensureDemoCheckpoint(file, { seed, onProgress: (l) => (/held-out|wrote/.test(l) ? this.log(`  ${l}`) : undefined) });
    const madeInMs = Date.now() - t0;
    this.made.push(ckpt.path);
    ledger.seeds.push({ seed, checkpointSha256: ckpt.sha256, at: new Date().toISOString() });
    writeFileSync(this.ledgerFile, `${JSON.stringify(ledger, null, 2)}\n`);
    return { seed, path: ckpt.path, sha256: ckpt.sha256, madeInMs };
  }

  /** Remembers what an earlier run of this bench (the warm-up) produced. */
  remember(report: DeploymentReport): void {
    const { onnx, artifact } = shas(report);
    if (onnx) this.seenOnnx.add(onnx);
    if (artifact) this.seenArtifacts.add(artifact);
  }

  /** Was this run's GPU work really done, from its final report. */
  check(ckpt: FreshCheckpoint, report: DeploymentReport): Freshness {
    const { onnx, artifact } = shas(report);
    const reused = report.stages.filter((s) => s.reused).map((s) => s.stage);
    const problems: string[] = [];
    if (report.sourceSha256 && report.sourceSha256 !== ckpt.sha256) problems.push(`export read checkpoint ${report.sourceSha256.slice(0, 12)}, not ${ckpt.sha256.slice(0, 12)}`);
    for (const stage of ['export', 'compile', 'preflight']) {
      const rec = report.stages.find((s) => s.stage === stage);
      if (!rec) problems.push(`no ${stage} stage in the report`);
      else if (rec.reused) problems.push(`${stage} reused from the store`);
    }
    if (!onnx) problems.push('no ONNX sha256 in the export stage');
    else if (this.seenOnnx.has(onnx)) problems.push(`ONNX ${onnx.slice(0, 12)} already deployed by this bench`);
    if (!artifact) problems.push('no INT8 artifact sha256 in the compile stage');
    else if (this.seenArtifacts.has(artifact)) problems.push(`INT8 ${artifact.slice(0, 12)} already deployed by this bench`);
    this.remember(report);
    return { seed: ckpt.seed, checkpointSha256: ckpt.sha256, onnxSha256: onnx, artifactSha256: artifact, fresh: problems.length === 0, reused, problems };
  }

  /** The checkpoints are only the rollouts' input: the store keeps what the runs made of them. */
  cleanUp(): void {
    for (const f of this.made) rmSync(f, { force: true });
  }
}

function shas(report: DeploymentReport): { onnx?: string; artifact?: string } {
  const fig = (stage: string, key: string): string | undefined => {
    const v = report.stages.find((s) => s.stage === stage)?.figures?.[key] as { sha256?: unknown } | undefined;
    return typeof v?.sha256 === 'string' ? v.sha256 : undefined;
  };
  return { onnx: fig('export', 'onnx'), artifact: fig('compile', 'artifact') ?? report.artifact?.sha256 };
}
