// The cached arm64 Debian root (a zstd tarball outside the checkout) and the binfmt handler that
// runs its binaries: both made by the scripts next to this file, so `.ci/run` and the test make
// them the same way.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

export const DEFAULT_ROOT_TARBALL = '/var/cache/edgeship-test/arm64-trixie-root.tar.zst';
const BUILD_SCRIPT = path.join(__dirname, 'build-root.sh');
const BINFMT_SCRIPT = path.join(__dirname, 'binfmt.sh');

/** Where the tarball is: EDGESHIP_ARM64_ROOT_CACHE, else /var/cache/edgeship-test/…. */
export function rootTarballPath(): string {
  return process.env.EDGESHIP_ARM64_ROOT_CACHE || DEFAULT_ROOT_TARBALL;
}

/** Why this machine cannot run the arm64 proof at all (not root, no emulation), named for the test's failure. */
export class Arm64EmulationUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Arm64EmulationUnavailable';
  }
}

function runScript(script: string, args: string[], log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/bash', [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const take = (chunk: Buffer) => {
      const text = chunk.toString();
      tail = (tail + text).slice(-4000);
      for (const line of text.split('\n')) if (line.trim()) log(line);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Arm64EmulationUnavailable(`${path.basename(script)} exited ${code}:\n${tail}`))));
  });
}

/**
 * Why this machine cannot run the proof at all, or undefined: it emulates arm64 on an x86-64 Linux
 * kernel. Only this makes the tests skip (with the reason printed); anything else missing (root,
 * binfmt_misc, qemu-user-static) fails them.
 */
export function emulationHostMismatch(): string | undefined {
  if (process.platform === 'linux' && process.arch === 'x64') return undefined;
  return `the arm64 proof emulates arm64 on an x86-64 Linux host; this is ${process.platform}/${process.arch}`;
}

/** binfmt_misc mounted, qemu-aarch64 registered with the F flag (sim/arm64/binfmt.sh). */
export async function ensureAarch64Binfmt(log: (line: string) => void = () => undefined): Promise<void> {
  const mismatch = emulationHostMismatch();
  if (mismatch) throw new Arm64EmulationUnavailable(mismatch);
  if (process.getuid?.() !== 0) throw new Arm64EmulationUnavailable('the arm64 proof needs root (binfmt_misc, chroot, mount namespaces)');
  await runScript(BINFMT_SCRIPT, [], log);
}

export interface RootTarball {
  path: string;
  /** Milliseconds this call spent building it; undefined when the cached one was used. */
  builtMs?: number;
}

/** The tarball, built (about 4 min, once per machine) when missing or made from another recipe. */
export async function ensureRootTarball(log: (line: string) => void = () => undefined): Promise<RootTarball> {
  const tarball = rootTarballPath();
  const recipeFile = `${tarball}.recipe`;
  const recipe = () => (existsSync(tarball) && existsSync(recipeFile) ? readFileSync(recipeFile, 'utf8').trim() : undefined);
  const before = recipe();
  const started = Date.now();
  await runScript(BUILD_SCRIPT, [tarball], log);
  const after = recipe();
  if (after === undefined) throw new Arm64EmulationUnavailable(`build-root.sh ended without ${tarball}`);
  return { path: tarball, ...(before === after ? {} : { builtMs: Date.now() - started }) };
}
