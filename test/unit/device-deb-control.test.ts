// The package's control data as dpkg sees it: the wrong architecture's package is refused before
// anything is unpacked or any maintainer script runs. A payload-less package made from the same
// control template and maintainer scripts stands in for the real one (building that costs
// minutes; test/integration/device-package.test.ts uses it); `dpkg --dry-run` changes nothing.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../lib/paths';
import { renderControl } from '../../packaging/build-deb';

const run = promisify(execFile);

function hostArch(): string | null {
  try {
    return execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

describe('device package control data', function () {
  this.timeout(60_000);
  let work: string;
  const host = hostArch();
  before(function () {
    if (host !== 'amd64' && host !== 'arm64') {
      console.log(`      skipped: needs dpkg on amd64 or arm64 (found ${host ?? 'no dpkg'})`);
      this.skip();
    }
    work = mkdtempSync(path.join(tmpdir(), 'edgeship-deb-control-'));
  });
  after(() => work && rmSync(work, { recursive: true, force: true }));

  it('names the architecture and Depends: nodejs (>= 20.19); dpkg refuses the other architecture and installs nothing', async () => {
    const other = host === 'amd64' ? 'arm64' : 'amd64';
    const root = path.join(work, 'root');
    mkdirSync(path.join(root, 'DEBIAN'), { recursive: true });
    writeFileSync(path.join(root, 'DEBIAN/control'), renderControl('0.0.1', other, 0));
    for (const s of ['postinst', 'prerm', 'postrm']) {
      copyFileSync(path.join(PROJECT_ROOT, 'packaging/debian', s), path.join(root, 'DEBIAN', s));
      chmodSync(path.join(root, 'DEBIAN', s), 0o755);
    }
    const deb = path.join(work, `edgeship-device_0.0.1_${other}.deb`);
    execFileSync('dpkg-deb', ['--root-owner-group', '--build', root, deb], { stdio: 'ignore' });
    const fields = execFileSync('dpkg-deb', ['-f', deb, 'Package', 'Architecture', 'Depends'], { encoding: 'utf8' });
    assert.match(fields, new RegExp(`^Package: edgeship-device$[\\s\\S]*^Architecture: ${other}$[\\s\\S]*^Depends: nodejs \\(>= 20\\.19\\)`, 'm'));
    const refused = await run('dpkg', ['--dry-run', '-i', deb]).then(() => null, (e: { code?: number; stderr?: string }) => e);
    assert.ok(refused, 'dpkg accepted the wrong architecture');
    assert.match(refused.stderr ?? '', new RegExp(`package architecture \\(${other}\\) does not match system \\(${host}\\)`));
    const status = await run('dpkg-query', ['-W', '-f', '${Status}', 'edgeship-device']).then((r) => r.stdout, () => 'not installed');
    assert.doesNotMatch(status, /install ok installed/);
  });
});
