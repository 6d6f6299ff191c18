// scripts/install-system-packages.sh, the step that makes `npm ci && npm test` the whole setup:
// run with a PATH of its own and a recording apt-get, so the test never installs anything.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../../lib/paths';

const SCRIPT = path.join(PROJECT_ROOT, 'scripts', 'install-system-packages.sh');
const BASH = ['/bin/bash', '/usr/bin/bash'].find((p) => existsSync(p)) ?? 'bash';

// Records each call (with DEBIAN_FRONTEND) and, for `install`, puts the executables the
// packages provide into the fake bin dir, as dpkg would put them on the real PATH.
const FAKE_APT_GET = `#!${BASH}
echo "DEBIAN_FRONTEND=\${DEBIAN_FRONTEND:-} $*" >> "$FAKE_APT_LOG"
[ -n "\${FAKE_APT_FAIL:-}" ] && { echo "E: Unable to locate package chromium" >&2; exit 100; }
if [ "$1" = install ]; then
  for p in "$@"; do
    case "$p" in
      openssh-server) files="$FAKE_BIN/sshd" ;;
      openssh-client) files="$FAKE_BIN/ssh-keygen $FAKE_BIN/scp" ;;
      chromium) files="$FAKE_CHROMIUM" ;;
      *) files="" ;;
    esac
    for f in $files; do printf '#!/bin/sh\\n' > "$f"; /bin/chmod +x "$f"; done
  done
fi
`;

interface Sandbox {
  dir: string;
  bin: string;
  log: string;
  chromium: string;
  run(args: string[], env?: Record<string, string>): { status: number | null; stdout: string; stderr: string };
  aptCalls(): string[];
}

function sandbox(): Sandbox {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgeship-syspkg-'));
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  const aptGet = path.join(dir, 'apt-get');
  writeFileSync(aptGet, FAKE_APT_GET);
  chmodSync(aptGet, 0o755);
  const log = path.join(dir, 'apt.log');
  const chromium = path.join(dir, 'chromium');
  return {
    dir, bin, log, chromium,
    run(args, env = {}) {
      const r = spawnSync(BASH, [SCRIPT, ...args], {
        encoding: 'utf8',
        // Nothing of this machine's PATH: sshd, ssh-keygen, scp and chromium are missing until
        // the fake apt-get "installs" them.
        env: { PATH: bin, EDGESHIP_SBIN_DIRS: '', EDGESHIP_APT_GET: aptGet, EDGESHIP_CHROMIUM: chromium, FAKE_APT_LOG: log, FAKE_BIN: bin, FAKE_CHROMIUM: chromium, ...env },
      });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    },
    aptCalls: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []),
  };
}

describe('scripts/install-system-packages.sh', () => {
  let box: Sandbox;
  beforeEach(() => (box = sandbox()));
  afterEach(() => rmSync(box.dir, { recursive: true, force: true }));

  it('as root, installs what is missing quietly with apt-get, then does nothing on the next run', () => {
    const first = box.run([], { EDGESHIP_AS_ROOT: '1' });
    assert.equal(first.status, 0, first.stderr);
    assert.deepEqual(box.aptCalls(), [
      'DEBIAN_FRONTEND=noninteractive update -qq',
      'DEBIAN_FRONTEND=noninteractive install -y -qq --no-install-recommends openssh-server openssh-client chromium',
    ]);
    assert.equal(first.stdout.trim(), 'npm test: installing openssh-server openssh-client chromium (apt-get, once)');
    for (const f of ['sshd', 'ssh-keygen', 'scp']) assert.ok(existsSync(path.join(box.bin, f)), f);

    const second = box.run([], { EDGESHIP_AS_ROOT: '1' });
    assert.equal(second.status, 0, second.stderr);
    assert.equal(second.stdout + second.stderr, '', 'nothing to say when everything is there');
    assert.equal(box.aptCalls().length, 2, 'apt-get is not called again');
  });

  it('as root, installs only the packages of what is missing', () => {
    for (const f of ['ssh-keygen', 'scp']) {
      writeFileSync(path.join(box.bin, f), '#!/bin/sh\n');
      chmodSync(path.join(box.bin, f), 0o755);
    }
    const r = box.run([], { EDGESHIP_AS_ROOT: '1' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(box.aptCalls()[1], 'DEBIAN_FRONTEND=noninteractive install -y -qq --no-install-recommends openssh-server chromium');
  });

  it('not root, stops at once and prints the single sudo apt-get command', () => {
    const r = box.run([], { EDGESHIP_AS_ROOT: '0' });
    assert.equal(r.status, 1);
    assert.deepEqual(box.aptCalls(), [], 'apt-get is never run');
    assert.match(r.stderr, /npm test needs sshd, ssh-keygen, scp, chromium \(.*chromium\), which this machine lacks/);
    const commands = r.stderr.split('\n').filter((l) => l.includes('apt-get'));
    assert.deepEqual(commands.map((l) => l.trim()), ['sudo apt-get install -y openssh-server openssh-client chromium']);
  });

  it('the arm64 proof\'s needs map to Debian\'s qemu-user-static, mmdebstrap, zstd and systemd', () => {
    const r = box.run(['--for', 'the arm64 proof', 'qemu-aarch64-static', 'mmdebstrap', 'zstd', 'systemd-analyze'], { EDGESHIP_AS_ROOT: '0' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /the arm64 proof needs qemu-aarch64-static, mmdebstrap, zstd, systemd-analyze, which this machine lacks/);
    assert.deepEqual(r.stderr.split('\n').filter((l) => l.includes('apt-get')).map((l) => l.trim()), ['sudo apt-get install -y qemu-user-static mmdebstrap zstd systemd']);
  });

  it('not root with everything present, says nothing and succeeds', () => {
    const r0 = box.run([], { EDGESHIP_AS_ROOT: '1' });
    assert.equal(r0.status, 0, r0.stderr);
    const r = box.run([], { EDGESHIP_AS_ROOT: '0' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout + r.stderr, '');
  });

  it('as root, a failing apt-get stops the run with apt-get\'s own message', () => {
    const r = box.run([], { EDGESHIP_AS_ROOT: '1', FAKE_APT_FAIL: '1' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /apt-get install openssh-server openssh-client chromium failed:\nE: Unable to locate package chromium/);
  });

  it('with a fallback (the demo), not root: reports what it uses instead and carries on', () => {
    const r = box.run(['--for', 'npm run demo', '--optional', 'the simulated devices use the embedded SSH server', 'sshd', 'ssh-keygen'], { EDGESHIP_AS_ROOT: '0' });
    assert.equal(r.status, 0);
    assert.deepEqual(box.aptCalls(), []);
    assert.match(r.stderr, /npm run demo: sshd, ssh-keygen not installed: the simulated devices use the embedded SSH server \(to use them instead: sudo apt-get install -y openssh-server openssh-client\)/);
  });

  it('with a fallback, as root: installs, and a failed install is only a warning', () => {
    const args = ['--for', 'npm run demo', '--optional', 'the embedded SSH server is used', 'sshd'];
    const failed = box.run(args, { EDGESHIP_AS_ROOT: '1', FAKE_APT_FAIL: '1' });
    assert.equal(failed.status, 0);
    assert.match(failed.stderr, /apt-get install openssh-server failed \(the embedded SSH server is used\)/);
    const ok = box.run(args, { EDGESHIP_AS_ROOT: '1' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.ok(existsSync(path.join(box.bin, 'sshd')));
  });
});
