// `edgeship start` with input a user gets wrong: a clear message, exit 2, no stack trace, and
// nothing contacts Temporal (--dry-run stops before connecting anyway; the check comes first).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const EDGESHIP = path.resolve(__dirname, '..', '..', 'bin', 'edgeship');

function edgeship(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(EDGESHIP, args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stderr: r.stderr };
}

describe('edgeship start: user errors', function () {
  this.timeout(120_000);

  it('a missing checkpoint is named, exit 2, no stack trace', () => {
    const r = edgeship(['start', '--model', 'm', '--checkpoint', '/nonexistent/model.pt', '--target', 'cpu-fp32', '--devices', 'pi-01', '--dry-run']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /checkpoint \/nonexistent\/model\.pt does not exist/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });

  it('an unknown --on-busy value is refused by the option parser', () => {
    const r = edgeship(['start', '--model', 'm', '--checkpoint', '/x.pt', '--target', 'cpu-fp32', '--devices', 'pi-01', '--on-busy', 'maybe', '--dry-run']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Allowed choices are queue, fail/);
  });
});
