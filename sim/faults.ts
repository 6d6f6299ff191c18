// TEST FAULT INJECTION for one simulated device: a file in the device's directory
// (<deviceDir>/test-fault.json) that the device's restart command (restart-runtime.ts) honours.
// Nothing else reads it: the activities, the edge worker and the runtime are the real ones, so a
// device made to fail this way fails through the real code path (swapModel's restart step, its
// retries, the rollout's undo, restoreBackup's restart).
//
// Kinds:
// - reject-new-model: the device's runtime "cannot load" any model but the one it served when the
//   fault was injected. A restart while `current` names another release stops the runtime and
//   exits 1 (swapModel fails with RestartCommandFailed on every attempt; nothing serves until the
//   restore). The restart that brings the device back to the model it served at injection (the
//   rollout's restoreBackup) succeeds and removes the fault: one failed rollout, then a healthy
//   device again.
// - restart-fails-once: the next restart stops the runtime and exits 1, whatever it would load,
//   and removes the fault. swapModel's retry restarts it again and succeeds (a flaky service).
import { existsSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

export const TEST_FAULT_KINDS = ['reject-new-model', 'restart-fails-once'] as const;
export type TestFaultKind = (typeof TEST_FAULT_KINDS)[number];

export interface TestFault {
  schema: 'edgeship.simfault/1';
  kind: TestFaultKind;
  deviceId: string;
  injectedAt: string;
  /** reject-new-model: the sha the device served at injection (null: nothing); only it loads. */
  allowSha256: string | null;
}

export const TEST_FAULT_FILE = 'test-fault.json';

export function testFaultPath(deviceDir: string): string {
  return path.join(path.resolve(deviceDir), TEST_FAULT_FILE);
}

/** The sha of the release the device's `current` link names (null: no link). */
export function currentReleaseSha(deviceDir: string): string | null {
  let target: string;
  try {
    target = readlinkSync(path.join(path.resolve(deviceDir), 'model', 'current'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const m = /^([0-9a-f]{64})\.(onnx|hef)$/.exec(path.basename(target));
  return m ? m[1] : null;
}

export function injectTestFault(deviceDir: string, deviceId: string, kind: TestFaultKind, at: Date = new Date()): TestFault {
  if (!TEST_FAULT_KINDS.includes(kind)) throw new Error(`unknown test fault kind ${JSON.stringify(kind)} (known: ${TEST_FAULT_KINDS.join(', ')})`);
  const fault: TestFault = { schema: 'edgeship.simfault/1', kind, deviceId, injectedAt: at.toISOString(), allowSha256: kind === 'reject-new-model' ? currentReleaseSha(deviceDir) : null };
  const file = testFaultPath(deviceDir);
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(fault, null, 2) + '\n');
  renameSync(tmp, file);
  return fault;
}

export function readTestFault(deviceDir: string): TestFault | undefined {
  const file = testFaultPath(deviceDir);
  if (!existsSync(file)) return undefined;
  const fault = JSON.parse(readFileSync(file, 'utf8')) as TestFault;
  if (fault.schema !== 'edgeship.simfault/1' || !TEST_FAULT_KINDS.includes(fault.kind)) throw new Error(`${file} is not a test fault of this version`);
  return fault;
}

/** Removes the device's fault; true when there was one. */
export function clearTestFault(deviceDir: string): boolean {
  const file = testFaultPath(deviceDir);
  const had = existsSync(file);
  rmSync(file, { force: true });
  return had;
}

/**
 * The restart command's check, before it starts a runtime: undefined to restart normally, else
 * why this restart must fail. Removes the fault when it is spent (restart-fails-once: now;
 * reject-new-model: when the device restarts on the model it served at injection).
 */
export function testFaultOnRestart(deviceDir: string): string | undefined {
  const fault = readTestFault(deviceDir);
  if (!fault) return undefined;
  const short = (sha: string | null) => (sha ? `${sha.slice(0, 12)}…` : 'no model');
  if (fault.kind === 'restart-fails-once') {
    clearTestFault(deviceDir);
    return `test fault injection (restart-fails-once) on ${fault.deviceId}: this restart fails; the fault is now removed`;
  }
  const current = currentReleaseSha(deviceDir);
  if (current === fault.allowSha256) {
    clearTestFault(deviceDir); // back on the model it served at injection: the fault is spent
    return undefined;
  }
  return `test fault injection (reject-new-model) on ${fault.deviceId}: the runtime cannot load ${short(current)} (only ${short(fault.allowSha256)}, served at injection, loads until then)`;
}
