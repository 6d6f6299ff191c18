// How the GPU side reads a device's edge queue pollers (lib/edgePollers.ts): which are live,
// which are too old to drive, what `edgeship devices` shows as VERSION.
import { strict as assert } from 'node:assert';
import { renderDevices } from '../../clients/deviceRecords';
import { edgePollersFrom, edgeVersionLabel, edgeVersionRefusal } from '../../lib/edgePollers';
import { EDGE_API_VERSION, formatEdgeWorkerIdentity } from '../../common/edgeVersion';

const NOW = Date.parse('2026-12-06T12:00:00Z');
const at = (secondsAgo: number) => ({ seconds: Math.floor((NOW - secondsAgo * 1000) / 1000), nanos: 0 });
const current = (pid: number) => formatEdgeWorkerIdentity({ version: '0.2.0', api: EDGE_API_VERSION, deviceId: 'pi-01', host: 'pi', pid });
const apiOne = formatEdgeWorkerIdentity({ version: '0.0.9', api: 1, deviceId: 'pi-01', host: 'pi', pid: 7 });

describe('edge queue pollers', () => {
  it('no poller: not refused (offline is decided elsewhere), VERSION "-"', () => {
    const pollers = edgePollersFrom([], NOW);
    assert.equal(edgeVersionRefusal('pi-01', pollers), null);
    assert.equal(edgeVersionLabel(pollers), '-');
  });

  it('a current worker polling: not refused, VERSION is its package version', () => {
    const pollers = edgePollersFrom([{ identity: current(1), lastAccessTime: at(3) }], NOW);
    assert.equal(pollers[0].live, true);
    assert.equal(pollers[0].ageSeconds, 3);
    assert.equal(edgeVersionRefusal('pi-01', pollers), null);
    assert.equal(edgeVersionLabel(pollers), '0.2.0');
  });

  it('a live worker with edge API 1 is refused, naming its version, the need and the fix', () => {
    const pollers = edgePollersFrom([{ identity: apiOne, lastAccessTime: at(10) }], NOW);
    assert.match(edgeVersionRefusal('pi-01', pollers) ?? '', /device pi-01: its edge worker 0\.0\.9 implements edge API 1; this GPU side needs ≥ 2: upgrade the device package \(polling edge\.pi-01, seen 10 s ago\); nothing was staged/);
    assert.equal(edgeVersionLabel(pollers), '0.0.9 (api 1: too old)');
  });

  it('an identity from before versions (pid@host) is refused and shows as "old"', () => {
    const pollers = edgePollersFrom([{ identity: '4242@pi-01', lastAccessTime: at(1) }], NOW);
    assert.match(edgeVersionRefusal('pi-01', pollers) ?? '', /predates versioned identities/);
    assert.equal(edgeVersionLabel(pollers), 'old');
  });

  it('an old worker gone longer than the window no longer counts; one still polling beside a new one does', () => {
    const upgraded = edgePollersFrom([{ identity: apiOne, lastAccessTime: at(200) }, { identity: current(2), lastAccessTime: at(5) }], NOW);
    assert.equal(edgeVersionRefusal('pi-01', upgraded), null);
    assert.equal(edgeVersionLabel(upgraded), '0.2.0');
    const both = edgePollersFrom([{ identity: current(2), lastAccessTime: at(5) }, { identity: apiOne, lastAccessTime: at(40) }], NOW);
    assert.match(edgeVersionRefusal('pi-01', both) ?? '', /edge API 1/, 'Temporal may hand a task to either');
    const stale = edgePollersFrom([{ identity: current(3), lastAccessTime: at(100) }], NOW);
    assert.equal(stale[0].live, false);
    assert.equal(edgeVersionLabel(stale), '-');
    assert.equal(edgePollersFrom([{ identity: current(3), lastAccessTime: at(100) }], NOW, 120_000)[0].live, true, 'the window is a parameter');
  });
});

describe('edgeship devices: VERSION column', () => {
  it('appears when versions were looked up, between DEVICE and STATE; "?" for a device not looked up', () => {
    const text = renderDevices([
      { deviceId: 'pi-01', record: null, owner: 'RUNNING', edgeVersion: '0.2.0' },
      { deviceId: 'pi-02', record: null, owner: 'RUNNING', edgeVersion: '-' },
      { deviceId: 'pi-03', record: null, owner: 'RUNNING' },
    ]);
    const [header, ...rows] = text.split('\n');
    assert.match(header, /^DEVICE\s+VERSION\s+STATE\s+SERVES/);
    assert.match(rows[0], /^pi-01\s+0\.2\.0\s+\?/);
    assert.match(rows[1], /^pi-02\s+-\s+\?/);
    assert.match(rows[2], /^pi-03\s+\?\s+\?/);
  });

  it('is absent when no version was looked up (as before)', () => {
    assert.match(renderDevices([{ deviceId: 'pi-01', record: null, owner: 'RUNNING' }]), /^DEVICE\s+STATE\s+SERVES/);
  });
});
