// Release sequence numbers: monotonic per model name, kept in the artifact store.
//
//   <store>/sequences/<modelName>.json   {"modelName", "last"}: the highest sequence handed out
//   <store>/sequences/<modelName>.lock   held while a number is taken (O_EXCL create; "<host> <pid>" inside)
//
// Two compiles at once (one worker's parallel activities, or two workers on one store) never get
// the same number: the lock is taken with an exclusive create, and the counter is written
// atomically (temp + rename) before the lock goes. A lock whose holder process on this host is
// gone is stale and broken (a holder on another host sharing the store is waited for); a crash after the counter moved but before the manifest was written only skips a
// number, which is harmless (the device only compares).
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic } from '../../lib/durableFs';
import { MODEL_NAME_PATTERN } from '../../common/ids';

const LOCK_WAIT_MS = 60_000;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function acquire(lock: string): Promise<void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const handle = await open(lock, 'wx', 0o600);
      await handle.writeFile(`${hostname()} ${process.pid}\n`);
      await handle.close();
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const [host, pidText] = (await readFile(lock, 'utf8').catch(() => '')).trim().split(' ');
    const holder = Number.parseInt(pidText ?? '', 10);
    // A lock file still being written names no holder yet: only a named, dead holder on this host is stale.
    if (host === hostname() && Number.isInteger(holder) && holder > 0 && holder !== process.pid && !pidAlive(holder)) {
      await rm(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${lock} is still held (pid ${holder || 'unknown'}) after ${LOCK_WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 20 + Math.random() * 30));
  }
}

export class ReleaseSequences {
  constructor(private readonly storeRoot: string) {}

  private files(modelName: string): { counter: string; lock: string } {
    if (!MODEL_NAME_PATTERN.test(modelName)) throw new Error(`not a model name: ${JSON.stringify(modelName)}`);
    const dir = path.join(this.storeRoot, 'sequences');
    return { counter: path.join(dir, `${modelName}.json`), lock: path.join(dir, `${modelName}.lock`) };
  }

  /** The highest sequence handed out for this model name (0: none yet). */
  async last(modelName: string): Promise<number> {
    try {
      const record = JSON.parse(await readFile(this.files(modelName).counter, 'utf8')) as { last?: unknown };
      if (typeof record.last !== 'number' || !Number.isInteger(record.last) || record.last < 0) throw new Error(`${this.files(modelName).counter} is corrupt`);
      return record.last;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
  }

  /**
   * Runs `work` holding the model name's lock. `take()` hands out the next number: the counter
   * is moved (durably) before it returns, so whatever `work` writes with it afterwards can never
   * share the number with anyone. `work` may also find finished work and take nothing.
   */
  async withLock<T>(modelName: string, work: (take: () => Promise<number>) => Promise<T>): Promise<T> {
    const { counter, lock } = this.files(modelName);
    await mkdir(path.dirname(counter), { recursive: true });
    await acquire(lock);
    try {
      return await work(async () => {
        const next = (await this.last(modelName)) + 1;
        await writeFileAtomic(counter, JSON.stringify({ modelName, last: next }) + '\n');
        return next;
      });
    } finally {
      await rm(lock, { force: true });
    }
  }
}
