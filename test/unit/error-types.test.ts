// A call to a device carries a short list of non-retryable types in its retry policy
// (DEVICE_CALL_NON_RETRYABLE_ERROR_TYPES): every non-retryable type the device-call modules name
// must be on it, or the engine's second check would let a retry through.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { DEVICE_CALL_NON_RETRYABLE_ERROR_TYPES, ErrorType, NON_RETRYABLE_ERROR_TYPES } from '../../common/errors';

const ROOT = path.resolve(__dirname, '..', '..');

/** Every .ts file under a folder. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full) : name.endsWith('.ts') ? [full] : [];
  });
}

/** The modules a call to a device runs: the edge activities, the device runtime they talk to, and the push over SSH with what it loads. */
const DEVICE_CALL_MODULES = [
  ...filesUnder(path.join(ROOT, 'activities', 'edge')),
  ...filesUnder(path.join(ROOT, 'edge')),
  ...['pushArtifact', 'ssh', 'sftp', 'edgeVersionGate', 'resolveDevices', 'failures'].map((m) => path.join(ROOT, 'activities', 'gpu', `${m}.ts`)),
  path.join(ROOT, 'lib', 'inventory.ts'),
];

/** Error types a file names: `ErrorType.X`, or X as a quoted string. */
function typesNamedIn(file: string): Set<string> {
  const text = readFileSync(file, 'utf8');
  const named = new Set<string>();
  for (const m of text.matchAll(/ErrorType\.([A-Za-z]+)/g)) named.add(m[1]);
  for (const type of Object.values(ErrorType)) if (text.includes(`'${type}'`) || text.includes(`"${type}"`)) named.add(type);
  return named;
}

describe('the non-retryable types a call to a device carries', () => {
  it('include every non-retryable type the edge activities, the device runtime and the push name', () => {
    const missing: string[] = [];
    for (const file of DEVICE_CALL_MODULES) {
      for (const type of typesNamedIn(file)) {
        if ((NON_RETRYABLE_ERROR_TYPES as readonly string[]).includes(type) && !(DEVICE_CALL_NON_RETRYABLE_ERROR_TYPES as readonly string[]).includes(type)) missing.push(`${type} (${path.relative(ROOT, file)})`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it('are all non-retryable everywhere (a subset of NON_RETRYABLE_ERROR_TYPES)', () => {
    for (const type of DEVICE_CALL_NON_RETRYABLE_ERROR_TYPES) assert.ok(NON_RETRYABLE_ERROR_TYPES.includes(type), type);
  });

  it('leave out the GPU stages’ types, which no device call raises', () => {
    for (const type of [ErrorType.CheckpointNotFound, ErrorType.HailoCompileFailed, ErrorType.QuantizationGateFailed]) assert.ok(!DEVICE_CALL_NON_RETRYABLE_ERROR_TYPES.includes(type), type);
  });
});
