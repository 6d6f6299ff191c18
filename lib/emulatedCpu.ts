// Runs ml/measure_outputs.py on this CPU or under qemu-user emulating another one (e.g.
// `qemu-x86_64 -cpu Haswell`: AVX2, no VNNI), so INT8 agreement is measured on a CPU that is not
// the GPU server's. Shared by the INT8 cross-CPU test and `npm run bench:gpu`.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { CpuFeatures } from '../common/contracts';
import { ML_DIR, pythonExecutable } from './paths';

export const QEMU = '/usr/bin/qemu-x86_64';
export const HASWELL = ['-cpu', 'Haswell'];

export interface MeasuredOutputs {
  outPath: string;
  windows: number;
  cpu: CpuFeatures;
  secondsPerWindow: number;
}

/** qemu-user present, installing it the way .ci/run installs apt packages when we are root. */
export function ensureQemu(): boolean {
  if (process.arch !== 'x64') return false;
  if (existsSync(QEMU)) return true;
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'qemu-user'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  } catch {
    return false;
  }
  return existsSync(QEMU);
}

export function measureOutputs(modelPath: string, windowsPath: string, outPath: string, emulate?: string[]): Promise<MeasuredOutputs> {
  const script = path.join(ML_DIR, 'measure_outputs.py');
  const [cmd, args] = emulate ? [QEMU, [...emulate, pythonExecutable(), script]] : [pythonExecutable(), [script]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ML_DIR, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, EDGESHIP_EMULATED_CPU: emulate ? `qemu-x86_64 ${emulate.join(' ')}` : '' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    // qemu warns about every host feature TCG cannot emulate: keep only the tool's own lines.
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`measure_outputs.py${emulate ? ' under qemu' : ''} exited ${code}: ${err.split('\n').filter((l) => !l.includes('TCG doesn')).slice(-8).join('\n')}${out.slice(-300)}`));
      resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as MeasuredOutputs);
    });
    child.stdin.end(JSON.stringify({ modelPath, windowsPath, outPath }));
  });
}
