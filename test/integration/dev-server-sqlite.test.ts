// The dev servers edgeship starts keep their SQLite file in WAL mode with synchronous=NORMAL, and
// give their single history shard a 64 MiB events cache (lib/temporalCli.ts DEV_SERVER_FLAGS): a
// rollback journal with synchronous=FULL made the dev server the bottleneck of large fleets, and
// with the default 512 KiB events cache a 2,000-device fleet read its own just-written events back
// from SQLite.
import { strict as assert } from 'node:assert';
import { mkdtempSync, openSync, readSync, closeSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as net from 'node:net';
import { startDevServer, type DevServer } from '../../lib/devServer';
import { DEV_SERVER_EVENTS_CACHE_BYTES } from '../../lib/temporalCli';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** SQLite header bytes 18 and 19: 1 = rollback journal, 2 = WAL (sqlite.org/fileformat.html). */
function headerJournalVersions(file: string): [number, number] {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(20);
    readSync(fd, buf, 0, 20, 0);
    return [buf[18], buf[19]];
  } finally {
    closeSync(fd);
  }
}

describe('the dev server edgeship starts', function () {
  this.timeout(90_000);
  const dir = mkdtempSync(path.join(tmpdir(), 'edgeship-devserver-'));
  const dbFile = path.join(dir, 'dev.sqlite');
  let server: DevServer | undefined;

  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  let metricsPort = 0;

  it('keeps its SQLite file in WAL mode (a -wal file beside it, header version 2)', async () => {
    metricsPort = await freePort();
    server = await startDevServer({ dbFile, port: await freePort(), uiPort: await freePort(), headless: true, metricsPort });
    assert.equal(server.reused, false);
    assert.ok(existsSync(`${dbFile}-wal`), 'no -wal file beside the database');
    assert.deepEqual(headerJournalVersions(dbFile), [2, 2]);
  });

  it('gives the history service an events cache of 64 MiB, as its own metrics report it (the default is 512 KiB)', async () => {
    assert.ok(server, 'the server of the test above');
    // The gauge reads 0 until the history shard has made its cache, a moment after start.
    let size = 0;
    for (const deadline = Date.now() + 30_000; size === 0 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 500))) {
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const gauge = /^cache_size\{cache_type="events",service_name="history"\} (\S+)$/m.exec(metrics);
      size = gauge ? Number(gauge[1]) : 0;
    }
    assert.equal(size, DEV_SERVER_EVENTS_CACHE_BYTES, 'the events cache the server reports (cache_size{cache_type="events"})');
    assert.equal(DEV_SERVER_EVENTS_CACHE_BYTES, 64 * 1024 * 1024);
  });
});
