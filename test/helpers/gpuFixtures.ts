// Shared inputs of the GPU tests: the demo checkpoints (made once, kept under .state/test since
// they depend only on the seeded script), scratch stores, and small helpers.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { ensureDemoCheckpoint } from '../../activities/gpu/demoCheckpoint';
import { PROJECT_ROOT, pythonExecutable, stateDir } from '../../lib/paths';

export const TEST_STATE = path.join(stateDir(), 'test');

export function demoCheckpoint(): Promise<{ path: string; sha256: string }> {
  return ensureDemoCheckpoint(path.join(TEST_STATE, 'tcn-vae-demo.pt'));
}

export function degenerateCheckpoint(): Promise<{ path: string; sha256: string }> {
  return ensureDemoCheckpoint(path.join(TEST_STATE, 'tcn-vae-degenerate.pt'), { degenerate: true });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `edgeship-${prefix}-`));
}

/** Runs a short Python snippet with the venv (for making bad checkpoints). */
export function python(code: string, args: string[] = []): string {
  return execFileSync(pythonExecutable(), ['-c', code, ...args], { cwd: path.join(PROJECT_ROOT, 'ml'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export const EXPORT_COMMAND_FIXTURE = path.join(PROJECT_ROOT, 'test', 'fixtures', 'gpu_export_command.py');

/** Every file under dir, recursively (to prove what a failed stage left behind). */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

export async function rejectsWithType(p: Promise<unknown>, type: string, opts: { nonRetryable?: boolean; message?: RegExp } = {}): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `expected ApplicationFailure ${type}, got ${String(err)}`);
    assert.equal(err.type, type, `expected ${type}, got ${err.type}: ${err.message}`);
    if (opts.nonRetryable !== undefined) assert.equal(err.nonRetryable, opts.nonRetryable);
    if (opts.message) assert.match(err.message, opts.message);
    return err;
  }
  assert.fail(`expected ${type}, but the call succeeded`);
}
