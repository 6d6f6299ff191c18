// The dev servers edgeship starts keep their SQLite file in WAL mode with synchronous=NORMAL
// (lib/temporalCli.ts DEV_SERVER_SQLITE_PRAGMAS): a rollback journal with synchronous=FULL made
// the dev server the bottleneck of large fleets.
import { strict as assert } from 'node:assert';
import { mkdtempSync, openSync, readSync, closeSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as net from 'node:net';
import { startDevServer, type DevServer } from '../../lib/devServer';

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

  it('keeps its SQLite file in WAL mode (a -wal file beside it, header version 2)', async () => {
    server = await startDevServer({ dbFile, port: await freePort(), uiPort: await freePort(), headless: true });
    assert.equal(server.reused, false);
    assert.ok(existsSync(`${dbFile}-wal`), 'no -wal file beside the database');
    assert.deepEqual(headerJournalVersions(dbFile), [2, 2]);
  });
});
