// The restart command runner (real child processes, no shell) and the /healthz waiting rules
// (against a small local HTTP server that plays a runtime's answers).
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { waitForNoModel, waitForServedSha } from '../../activities/edge/health';
import { runRestartCommand } from '../../activities/edge/restart';

const node = process.execPath;
const SHA = 'c'.repeat(64);
const OTHER = 'd'.repeat(64);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

function failure(type: string, check: (f: ApplicationFailure) => void = () => undefined) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, type, err.message);
    check(err);
    return true;
  };
}

describe('edge restart command', () => {
  it('returns on exit 0, with the output tail', async () => {
    const r = await runRestartCommand([node, '-e', 'console.log("restarted ok")'], { timeoutMs: 10_000 });
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdoutTail, 'restarted ok');
  });

  it('passes arguments verbatim, never through a shell', async () => {
    const r = await runRestartCommand([node, '-e', 'console.log(process.argv[1])', '$(touch /tmp/pwned); `id`'], { timeoutMs: 10_000 });
    assert.equal(r.stdoutTail, '$(touch /tmp/pwned); `id`');
  });

  it('a non-zero exit is a retryable RestartCommandFailed carrying the stderr tail', async () => {
    await assert.rejects(
      runRestartCommand([node, '-e', 'console.error("unit edge-runtime failed to start"); process.exit(3)'], { timeoutMs: 10_000 }),
      failure('RestartCommandFailed', (f) => {
        assert.equal(f.nonRetryable, false);
        assert.match(f.message, /exited with 3: unit edge-runtime failed to start/);
      }),
    );
  });

  it('a command that does not exist is not retried', async () => {
    await assert.rejects(runRestartCommand(['/nonexistent/restart-edge'], { timeoutMs: 10_000 }), failure('RestartCommandFailed', (f) => assert.equal(f.nonRetryable, true)));
  });

  it('is bounded: a hung command is killed at the timeout', async () => {
    const t0 = Date.now();
    await assert.rejects(runRestartCommand([node, '-e', 'setTimeout(() => {}, 30000)'], { timeoutMs: 500 }), failure('RestartCommandFailed', (f) => assert.match(f.message, /did not finish within 500 ms/)));
    assert.ok(Date.now() - t0 < 5000);
  });

  it('a command killed at the timeout takes the processes it started with it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edge-restart-'));
    const pidFile = path.join(dir, 'grandchild.pid');
    // A wrapper (think: a shell script) whose own child hangs: SIGTERM to the wrapper alone would orphan it.
    const script = `const c = require('child_process').spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
      require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(c.pid)); setTimeout(() => {}, 30000);`;
    try {
      await assert.rejects(runRestartCommand([node, '-e', script], { timeoutMs: 1500 }), failure('RestartCommandFailed'));
      const pid = Number(readFileSync(pidFile, 'utf8'));
      const deadline = Date.now() + 3000;
      while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(alive(pid), false, `the restart command's child ${pid} outlived the timeout kill`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('does not wait for a daemon the command left holding its output', async () => {
    const t0 = Date.now();
    const script = "require('child_process').spawn(process.execPath, ['-e', 'setTimeout(() => {}, 4000)'], { stdio: 'inherit', detached: true }).unref()";
    await runRestartCommand([node, '-e', script], { timeoutMs: 10_000 });
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
  });
});

describe('edge health waiting', () => {
  let server: Server;
  let url: string;
  /** 'hang': accept the request and never answer (a runtime stuck while loading). */
  let answers: Array<[number, Record<string, unknown>] | 'hang'>;
  let served = 0;

  before(async () => {
    server = createServer((_req, res) => {
      const answer = answers[Math.min(served, answers.length - 1)];
      served += 1;
      if (answer === 'hang') return;
      const [status, body] = answer;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;
  });
  after(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  beforeEach(() => (served = 0));

  const healthy = (sha: string, full = sha): [number, Record<string, unknown>] => [200, { ok: true, hef_sha256: sha.slice(0, 16), sha256: full }];
  const loading: [number, Record<string, unknown>] = [503, { ok: false, reason: 'model loading' }];

  it('keeps waiting through 503s and an old model, until the expected sha is served', async () => {
    answers = [loading, healthy(OTHER), loading, healthy(SHA)];
    const r = await waitForServedSha({ healthUrl: url, sha256: SHA, timeoutMs: 5000, pollIntervalMs: 20 });
    assert.equal(r.polls, 4);
    assert.equal(r.observation.sha256Prefix, SHA.slice(0, 16));
  });

  it('times out with the last status and reason when the runtime never turns healthy', async () => {
    answers = [[503, { ok: false, reason: 'onnxruntime cannot load x.onnx' }]];
    const t0 = Date.now();
    await assert.rejects(
      waitForServedSha({ healthUrl: url, sha256: SHA, timeoutMs: 400, pollIntervalMs: 50 }),
      failure('HealthCheckTimeout', (f) => {
        assert.match(f.message, /HTTP 503: onnxruntime cannot load x\.onnx/);
        assert.equal((f.details?.[0] as { lastStatus: number }).lastStatus, 503);
      }),
    );
    assert.ok(Date.now() - t0 < 1500);
  });

  it('at the deadline boundary, probes get whole-millisecond timeouts and the last real answer is reported', async () => {
    // 400 ms with 250 ms between probes: the second probe runs with ~148.x ms left, a fraction
    // that AbortSignal.timeout() refuses (ERR_OUT_OF_RANGE), which used to count as "unreachable".
    const cannotLoad: [number, Record<string, unknown>] = [503, { ok: false, reason: 'onnxruntime cannot load x.onnx' }];
    const lastAnswer = (check: (f: ApplicationFailure) => void) => failure('HealthCheckTimeout', (f) => {
      assert.doesNotMatch(f.message, /out of range|ERR_OUT_OF_RANGE/);
      assert.match(f.message, /last: HTTP 503: onnxruntime cannot load x\.onnx/);
      assert.deepEqual([(f.details?.[0] as { lastStatus: number }).lastStatus, (f.details?.[0] as { lastReason: string }).lastReason], [503, 'onnxruntime cannot load x.onnx']);
      check(f);
    });
    answers = [cannotLoad];
    await assert.rejects(waitForServedSha({ healthUrl: url, sha256: SHA, timeoutMs: 400, pollIntervalMs: 250 }), lastAnswer((f) => assert.equal((f.details?.[0] as { polls: number }).polls, 2)));

    // The deadline ends mid-probe: the runtime answered once, then hangs. The probe cut short by
    // the deadline is no observation of the runtime and must not hide the 503 before it.
    served = 0;
    answers = [cannotLoad, 'hang'];
    const t0 = Date.now();
    await assert.rejects(waitForServedSha({ healthUrl: url, sha256: SHA, timeoutMs: 400, pollIntervalMs: 250 }), lastAnswer(() => undefined));
    assert.ok(Date.now() - t0 < 1500, `bounded by the deadline (${Date.now() - t0} ms)`);
    server.closeAllConnections();
  });

  it('a probe that hangs for its whole own timeout is reported as no answer', async () => {
    answers = ['hang'];
    await assert.rejects(
      waitForServedSha({ healthUrl: url, sha256: SHA, timeoutMs: 600, pollIntervalMs: 50, requestTimeoutMs: 150 }),
      failure('HealthCheckTimeout', (f) => assert.match(f.message, /no answer within 150 ms/)),
    );
    server.closeAllConnections();
  });

  it('fails when the runtime stays healthy with another model, or the full sha disagrees', async () => {
    answers = [healthy(OTHER)];
    await assert.rejects(waitForServedSha({ healthUrl: url, sha256: SHA, timeoutMs: 300, pollIntervalMs: 50 }), failure('HealthCheckFailed', (f) => assert.match(f.message, /serves dddddddddddddddd instead of cccccccccccccccc/)));
    answers = [healthy(SHA, SHA.slice(0, 16) + 'e'.repeat(48))];
    await assert.rejects(waitForServedSha({ healthUrl: url, sha256: SHA, timeoutMs: 300, pollIntervalMs: 50 }), failure('HealthCheckFailed'));
  });

  it('an unreachable runtime is a timeout, not a pass', async () => {
    await assert.rejects(waitForServedSha({ healthUrl: 'http://127.0.0.1:9/healthz', sha256: SHA, timeoutMs: 300, pollIntervalMs: 50 }), failure('HealthCheckTimeout', (f) => assert.match(f.message, /unreachable/)));
    await assert.rejects(waitForNoModel({ healthUrl: 'http://127.0.0.1:9/healthz', timeoutMs: 300, pollIntervalMs: 50 }), failure('HealthCheckTimeout'));
  });

  it('"no model" needs the runtime to answer that it serves nothing', async () => {
    answers = [healthy(SHA), [503, { ok: false, reason: 'no model installed' }]];
    const r = await waitForNoModel({ healthUrl: url, timeoutMs: 5000, pollIntervalMs: 20 });
    assert.equal(r.polls, 2);
    answers = [healthy(SHA)];
    served = 0;
    await assert.rejects(waitForNoModel({ healthUrl: url, timeoutMs: 300, pollIntervalMs: 50 }), failure('HealthCheckFailed'));
  });
});
