// npm run soak -- [--runs 200] [--seed N] [--devices 3] [--concurrent 3] [--kill-probability 0.5]
// The randomized ownership invariant run (test/soak/): prints its seed, every batch, each
// violation, and at the end runs, outcomes, kills, violations and wall time. Exit 1 on a violation.
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { stateDir } from '../../lib/paths';
import { runSoak } from './runner';

async function main(): Promise<void> {
  const program = new Command('soak')
    .description('seeded concurrent deployments against the same simulated devices, with random approve/reject/cancel timing and kill -9 of workers; checks the ownership invariant after every batch')
    .addOption(new Option('--runs <n>', 'deployments in all').default('200'))
    .addOption(new Option('--seed <n>', 'plan seed (default: from the clock; printed)'))
    .addOption(new Option('--devices <n>', 'simulated devices').default('3'))
    .addOption(new Option('--concurrent <n>', 'at most this many deployments per batch').default('3'))
    .addOption(new Option('--kill-probability <p>', 'chance per batch of a kill -9 of an edge worker (half of it: the GPU worker)').default('0.5'))
    .showHelpAfterError();
  program.parse();
  const o = program.opts<{ runs: string; seed?: string; devices: string; concurrent: string; killProbability: string }>();
  const seed = o.seed !== undefined ? Number(o.seed) : Date.now() % 2 ** 31;
  const num = (v: string, name: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got ${v}`);
    return n;
  };
  const result = await runSoak({
    runs: num(o.runs, 'runs'),
    seed: num(String(seed), 'seed'),
    devices: num(o.devices, 'devices'),
    maxConcurrent: Math.max(1, num(o.concurrent, 'concurrent')),
    killProbability: num(o.killProbability, 'kill-probability'),
    workDir: path.join(stateDir(), 'soak'),
    disposableRoot: path.join(stateDir(), 'soak'),
    log: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(
    [
      '',
      `seed ${result.seed} · runs ${result.runs} · outcomes ${JSON.stringify(result.outcomes)}`,
      `kills: ${result.kills.edge} edge worker, ${result.kills.gpu} GPU worker`,
      `violations: ${result.violations.length}`,
      ...result.violations.map((v) => `  ${v}`),
      `wall time ${(result.wallMs / 1000).toFixed(1)} s`,
    ].join('\n') + '\n',
  );
  process.exitCode = result.violations.length ? 1 : 0;
}

main().catch((err: unknown) => {
  process.stderr.write(`soak: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 2;
});
