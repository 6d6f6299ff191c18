import * as assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { runExportCommand } from '../../activities/gpu/exportCommand';
import { interpretPythonExit, runPythonTool } from '../../activities/gpu/python';
import { rejectsWithType } from '../helpers/gpuFixtures';

const exit = (code: number | null, stdout: string, signal: NodeJS.Signals | null = null) => ({ script: 'x.py', code, signal, stdout, stderrTail: ['line 1', 'Traceback: boom'] });

function thrown(fn: () => unknown): ApplicationFailure {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure);
    return err;
  }
  assert.fail('expected a failure');
}

describe('python tool wrapper', () => {
  it('returns the last stdout line as the answer on exit 0', () => {
    assert.deepEqual(interpretPythonExit(exit(0, 'noise\n{"ok": 1}\n')), { ok: 1 });
  });

  it('maps exit 2 with a known error type to a non-retryable failure of that type', () => {
    const err = thrown(() => interpretPythonExit(exit(2, '{"error": {"type": "CheckpointCorrupt", "message": "bad zip", "details": {"k": 1}}}')));
    assert.equal(err.type, 'CheckpointCorrupt');
    assert.equal(err.message, 'bad zip');
    assert.equal(err.nonRetryable, true);
    assert.deepEqual(err.details, [{ k: 1 }]);
  });

  it('treats an unknown error type, a crash or a kill as retryable PythonToolFailed with the stderr tail', () => {
    for (const e of [exit(2, '{"error": {"type": "Whatever", "message": "?"}}'), exit(1, ''), exit(null, '', 'SIGKILL'), exit(0, 'not json')]) {
      const err = thrown(() => interpretPythonExit(e));
      assert.equal(err.type, 'PythonToolFailed');
      assert.equal(err.nonRetryable, false);
      assert.match(err.message, /x\.py/);
    }
    assert.match(thrown(() => interpretPythonExit(exit(null, '', 'SIGKILL'))).message, /killed by SIGKILL[\s\S]*Traceback: boom/);
  });

  it('says to run `npm run setup` when the venv is missing', async () => {
    await rejectsWithType(runPythonTool('calibrate.py', {}, { python: '/nonexistent/.venv/bin/python' }), 'PythonEnvironmentMissing', { nonRetryable: true, message: /npm run setup/ });
  });

  it('refuses anything but a plain ml/ tool name', async () => {
    await assert.rejects(runPythonTool('../evil.py', {}), /not an ml\/ tool name/);
  });

  it('carries a real tool\'s typed error and its progress lines', async () => {
    const lines: string[] = [];
    await rejectsWithType(runPythonTool('calibrate.py', { outPath: '/tmp/never.npy', samples: 8 }, { onProgress: (l) => lines.push(l) }), 'CalibrationSizeOutOfRange', { nonRetryable: true });
    assert.ok(lines.some((l) => l.includes('CalibrationSizeOutOfRange')), lines.join('\n'));
  });

  it('kills the tool when the activity is cancelled', async () => {
    const ac = new AbortController();
    const started = Date.now();
    setTimeout(() => ac.abort(new Error('cancelled by test')), 300);
    await assert.rejects(runPythonTool('export.py', { checkpointPath: '/nonexistent.pt', outDir: '/tmp/x' }, { signal: ac.signal }), /cancelled by test/);
    assert.ok(Date.now() - started < 5000);
  });

  // A tool or export command that ignores SIGTERM and has started a child of its own (which
  // inherits the ignored SIGTERM and holds the stdout/stderr pipes): cancellation must still
  // end the activity promptly and leave nothing running.
  describe('cancellation stops the whole process tree', () => {
    let dir: string;
    const stubborn = '#!/bin/sh\ntrap "" TERM\nsleep 60 &\necho $! > "$PIDFILE"\nwait\n';
    beforeEach(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'edgeship-kill-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    /** Alive and not a zombie (an orphan is reaped by whatever PID 1 is, maybe late). */
    function running(pid: number): boolean {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
      } catch {
        return false;
      }
    }

    async function assertGone(pidFile: string): Promise<void> {
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      assert.ok(pid > 0);
      for (let i = 0; i < 20 && running(pid); i++) await new Promise((r) => setTimeout(r, 100));
      if (!running(pid)) return;
      process.kill(pid, 'SIGKILL');
      assert.fail(`the grandchild ${pid} survived the cancellation`);
    }

    it('runPythonTool', async () => {
      const fake = path.join(dir, 'python');
      writeFileSync(fake, stubborn);
      chmodSync(fake, 0o755);
      const pidFile = path.join(dir, 'pid');
      const ac = new AbortController();
      setTimeout(() => ac.abort(new Error('cancelled by test')), 500);
      const started = Date.now();
      await assert.rejects(runPythonTool('export.py', {}, { python: fake, env: { PIDFILE: pidFile }, signal: ac.signal, killGraceMs: 500 }), /cancelled by test/);
      assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
      await assertGone(pidFile);
    });

    it('runExportCommand', async () => {
      const script = path.join(dir, 'export.sh');
      writeFileSync(script, stubborn.replace('"$PIDFILE"', '"$EDGESHIP_EXPORT_DIR/pid"'));
      const ac = new AbortController();
      setTimeout(() => ac.abort(new Error('cancelled by test')), 500);
      const started = Date.now();
      await assert.rejects(runExportCommand(['sh', script], dir, dir, () => undefined, ac.signal, 500), /cancelled by test/);
      assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
      await assertGone(path.join(dir, 'pid'));
    });
  });
});
