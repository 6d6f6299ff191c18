// The device package's systemd units: `systemd-analyze verify` is clean (in a scratch root that
// holds the packaged /usr/bin/edgeship-device and the host's own units, so nothing on this
// machine is touched), and `systemd-analyze security --offline=true` scores each ≤ 2.0. The
// scores of a Greengrass-style and a Mender-style unit (test/fixtures/units/) are printed beside
// them for comparison. Skipped, saying why, where systemd-analyze is absent.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../lib/paths';

const run = promisify(execFile);
const UNITS = ['edgeship-runtime.service', 'edgeship-edge-worker.service'];
const unitPath = (u: string): string => path.join(PROJECT_ROOT, 'packaging', 'systemd', u);

function hasSystemdAnalyze(): boolean {
  try {
    execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function exposure(file: string): Promise<number> {
  // Exit status is the score bucket, not success: read the text either way.
  const out = await run('systemd-analyze', ['security', '--offline=true', '--no-pager', file]).then(
    (r) => r.stdout + r.stderr,
    (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`,
  );
  const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(out);
  assert.ok(m, `no exposure level in:\n${out}`);
  return Number(m[1]);
}

describe('device systemd units', function () {
  this.timeout(60_000);
  before(function () {
    if (!hasSystemdAnalyze()) {
      console.log('      skipped: systemd-analyze is not installed (Debian package systemd)');
      this.skip();
    }
  });

  it('say what the package contract says: User=edgeship, the config condition, Restart=always with a start limit, the hardening', () => {
    for (const u of UNITS) {
      const text = readFileSync(unitPath(u), 'utf8');
      for (const line of ['User=edgeship', 'ConditionPathExists=/etc/edgeship/device.json', 'Restart=always', 'StartLimitBurst=', 'StartLimitIntervalSec=', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'CapabilityBoundingSet=\n', 'RestrictAddressFamilies=', 'SystemCallFilter=@system-service', 'MemoryMax=', 'RestartPreventExitStatus=2']) {
        assert.ok(text.includes(line), `${u} lacks ${JSON.stringify(line)}`);
      }
      const rw = [...text.matchAll(/^ReadWritePaths=(.*)$/gm)].map((m) => m[1]);
      assert.deepEqual(rw, u === 'edgeship-edge-worker.service' ? ['/var/lib/edgeship/models'] : [], `${u}: write access to the model directory only (the runtime needs none)`);
      assert.match(text, /^ExecStart=\/usr\/bin\/edgeship-device (runtime|worker)$/m);
    }
  });

  it('systemd-analyze verify is clean', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'edgeship-units-'));
    try {
      mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
      mkdirSync(path.join(root, 'usr/lib/systemd'), { recursive: true });
      symlinkSync('usr/lib', path.join(root, 'lib'));
      // The host's units (sysinit.target, …) so that the dependencies resolve inside the root.
      cpSync('/usr/lib/systemd/system', path.join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
      copyFileSync(path.join(PROJECT_ROOT, 'packaging', 'edgeship-device.sh'), path.join(root, 'usr/bin/edgeship-device'));
      chmodSync(path.join(root, 'usr/bin/edgeship-device'), 0o755);
      for (const u of UNITS) copyFileSync(unitPath(u), path.join(root, 'usr/lib/systemd/system', u));
      const { stdout, stderr } = await run('systemd-analyze', ['verify', `--root=${root}`, ...UNITS]);
      assert.equal(`${stdout}${stderr}`.trim(), '', 'verify printed warnings');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('systemd-analyze security scores each unit ≤ 2.0 (Greengrass- and Mender-style units printed beside)', async () => {
    const scores: Record<string, number> = {};
    for (const u of UNITS) scores[u] = await exposure(unitPath(u));
    for (const f of ['greengrass-style.service', 'mender-style.service']) {
      const file = path.join(PROJECT_ROOT, 'test', 'fixtures', 'units', f);
      if (existsSync(file)) scores[f] = await exposure(file);
    }
    console.log(`      systemd-analyze security --offline=true (lower is safer): ${Object.entries(scores).map(([u, s]) => `${u} ${s}`).join(', ')}`);
    for (const u of UNITS) assert.ok(scores[u] <= 2.0, `${u} scores ${scores[u]}`);
  });
});
