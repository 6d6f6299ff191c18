// Files that become visible only when complete: write or copy to a hidden temp name in the same
// directory, fsync, rename over the final name, fsync the directory. A crash at any moment leaves
// the old file or the new one, never half of one. Used by the GPU artifact store and by the edge
// activities on the device's model directory. Not for workflow code.
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import * as path from 'node:path';

/** `.tmp-<random>-<name>` beside `file`: same file system, so the final rename is atomic. */
export function tempSibling(file: string): string {
  return path.join(path.dirname(file), `.tmp-${randomBytes(6).toString('hex')}-${path.basename(file)}`);
}

export async function fsyncFile(file: string): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes a rename in `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // Some file systems cannot fsync a directory; the rename is still atomic there.
  } finally {
    await handle.close();
  }
}

/** Writes a (small) file atomically and durably: temp file, fsync, rename, fsync the directory. */
export async function writeFileAtomic(file: string, data: string | Buffer): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = tempSibling(file);
  try {
    const handle = await open(tmp, 'wx', 0o644);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(path.dirname(file));
}
