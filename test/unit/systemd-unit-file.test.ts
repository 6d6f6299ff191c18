// sim/arm64/unitFile.ts: how the arm64 proof reads the device package's systemd units to
// start their processes in a chroot as systemd would (quoting, prefixes, environment, restart).
import { strict as assert } from 'node:assert';
import { parseEnvironmentFile, parseServiceUnit, restartsAfter, splitUnitWords, UnitFileError } from '../../sim/arm64/unitFile';

const UNIT = `[Unit]
Description=edgeship inference runtime
After=network-online.target
ConditionPathExists=/etc/edgeship/device.json

[Service]
Type=simple
User=edgeship
Group=edgeship
Environment=NODE_ENV=production "EDGESHIP_DEVICE_CONFIG=/etc/edgeship/device.json"
Environment='GREETING=hello world'
EnvironmentFile=-/etc/default/edgeship-device
WorkingDirectory=/var/lib/edgeship
ExecStartPre=-/usr/bin/edgeship-device check --quiet
ExecStart=/usr/bin/edgeship-device runtime \\
  --label "a b" 100%%
Restart=on-failure
RestartSec=2
RestartPreventExitStatus=2
UMask=0027
TimeoutStopSec=45
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=/var/lib/edgeship
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
`;

describe('systemd unit files as the arm64 proof mirrors them', () => {
  it('reads ExecStart (continuation, quotes, %%), user, environment, files, directory, restart', () => {
    const u = parseServiceUnit(UNIT, 'edgeship-runtime.service');
    assert.deepEqual(u.execStart, ['/usr/bin/edgeship-device', 'runtime', '--label', 'a b', '100%']);
    assert.deepEqual(u.execStartPre, [{ argv: ['/usr/bin/edgeship-device', 'check', '--quiet'], ignoreFailure: true }]);
    assert.equal(u.user, 'edgeship');
    assert.equal(u.group, 'edgeship');
    assert.deepEqual(u.environment, { NODE_ENV: 'production', EDGESHIP_DEVICE_CONFIG: '/etc/edgeship/device.json', GREETING: 'hello world' });
    assert.deepEqual(u.environmentFiles, [{ path: '/etc/default/edgeship-device', optional: true }]);
    assert.equal(u.workingDirectory, '/var/lib/edgeship');
    assert.equal(u.noNewPrivileges, true);
    assert.equal(u.restart, 'on-failure');
    assert.equal(u.restartSecMs, 2000);
    assert.deepEqual(u.restartPreventExitStatus, [2]);
    assert.equal(u.umask, 0o027);
    assert.equal(u.timeoutStopMs, 45_000);
    assert.deepEqual(u.conditionPathExists, ['/etc/edgeship/device.json']);
  });

  it('lists what a chroot does not mirror, and nothing it does', () => {
    const u = parseServiceUnit(UNIT, 'edgeship-runtime.service');
    assert.deepEqual(u.notMirrored, [
      '[Service] ProtectSystem=strict',
      '[Service] ReadWritePaths=/var/lib/edgeship',
      '[Service] PrivateTmp=yes',
    ]);
  });

  it('restarts as systemd would for each Restart= value', () => {
    const with_ = (restart: string) => parseServiceUnit(`[Service]\nExecStart=/bin/true\nRestart=${restart}\n`, 'x.service');
    assert.equal(restartsAfter(with_('no'), 1), false);
    assert.equal(restartsAfter(with_('always'), 0), true);
    assert.equal(restartsAfter(with_('on-failure'), 0), false);
    assert.equal(restartsAfter(with_('on-failure'), 1), true);
    assert.equal(restartsAfter(with_('on-failure'), null), true);
    assert.equal(restartsAfter(with_('on-abnormal'), 1), false);
    assert.equal(restartsAfter(with_('on-abnormal'), null), true);
    const prevented = parseServiceUnit('[Service]\nExecStart=/bin/true\nRestart=always\nRestartPreventExitStatus=2 3\n', 'x.service');
    assert.equal(restartsAfter(prevented, 2), false, 'a bad config (exit 2) is not restarted');
    assert.equal(restartsAfter(prevented, 1), true);
  });

  it('refuses what it cannot mirror faithfully, naming it', () => {
    const bad: Array<[string, RegExp]> = [
      ['[Service]\nExecStart=/bin/a\nExecStart=/bin/b\n', /exactly one ExecStart/],
      ['[Service]\nUser=x\n', /exactly one ExecStart= in \[Service\], found 0/],
      ['[Service]\nExecStart=relative/path\n', /absolute path/],
      ['[Service]\nExecStart=+/bin/true\n', /prefix \+ is not mirrored/],
      ['[Service]\nExecStart=/bin/echo %i\n', /specifier %i/],
      ['[Service]\nExecStart=/bin/echo "unbalanced\n', /unbalanced "/],
      ['[Service]\nExecStart=/bin/true\nRestart=on-watchdog\n', /Restart=on-watchdog is not mirrored/],
      ['[Service]\nExecStart=/bin/true\nType=forking\n', /Type=forking is not mirrored/],
      ['[Service]\nExecStart=/bin/true\nEnvironment=novalue\n', /without a name/],
      ['[Service]\nthis is not a setting\n', /not a Key=value line/],
      ['[Service]\nExecStart=/bin/true\nUMask=rw\n', /UMask=rw is not an octal mask/],
    ];
    for (const [text, message] of bad) assert.throws(() => parseServiceUnit(text, 'x.service'), (err: Error) => err instanceof UnitFileError && message.test(err.message), text);
  });

  it('splits words and reads environment files like systemd', () => {
    assert.deepEqual(splitUnitWords(`a "b c" 'd e' f\\ g "h\\"i"`), ['a', 'b c', 'd e', 'f g', 'h"i']);
    assert.deepEqual(parseEnvironmentFile('# comment\nA=1\nexport B="two words"\n\nC=\'3\'\n'), { A: '1', B: 'two words', C: '3' });
    assert.throws(() => parseEnvironmentFile('not an assignment'), /not KEY=VALUE/);
  });
});
