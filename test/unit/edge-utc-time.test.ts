import assert from 'node:assert/strict';
import { currentHttpDate, httpDate, isoTimestamp } from '../../edge/utcTime';

describe('edge UTC timestamps without Date string methods', () => {
  const samples = [0, 1, 999, 1_000, 951_782_400_000 /* 2000-02-29 */, 1_796_572_863_437, 253_402_300_799_999 /* 9999-12-31T23:59:59.999Z */, -62_167_219_200_000 /* 0000-01-01 */];
  for (let i = 0; i < 200; i++) samples.push(Math.floor(((i * 2_654_435_761) % 2 ** 32) / 2 ** 32 * 253_402_300_799_999));

  it('gives what toISOString gives', () => {
    for (const ms of samples) assert.equal(isoTimestamp(ms), new Date(ms).toISOString(), `at ${ms}`);
  });

  it('gives what toUTCString gives (the HTTP Date header, IMF-fixdate)', () => {
    for (const ms of samples) assert.equal(httpDate(ms), new Date(ms).toUTCString(), `at ${ms}`);
  });

  it('formats the current second for the Date header', () => {
    const before = Math.floor(Date.now() / 1000) * 1000;
    const text = currentHttpDate();
    const at = Date.parse(text);
    assert.ok(at >= before && at <= Date.now(), `${text} is not now`);
    assert.equal(currentHttpDate(), currentHttpDate());
  });
});
