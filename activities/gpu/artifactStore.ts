// The GPU server's content-addressed artifact store.
//
//   <root>/<sha256>/<filename>             a blob, named by its content
//   <root>/<sha256>/<filename>.meta.json   ModelMetadata beside model files
//   <root>/jobs/<jobKey>.json              finished stage results, keyed by stage + input hashes + options
//   <root>/.work/<stage>-XXXX/             scratch space of running stages (removed when done)
//
// Every file becomes visible by rename from a temp name in the same directory, so a crash at any
// moment leaves either nothing or the complete file. Job records are written last: a job is
// finished only when all its blobs are in place.
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { canonicalJson } from '../../common/canonicalJson';
import { fsyncFile, tempSibling, writeFileAtomic } from '../../lib/durableFs';
import { sha256File } from '../../lib/hashing';
import type { ArtifactRef } from '../../common/contracts';
import { SHA256_PATTERN } from '../../common/ids';
import { artifactStoreDir } from '../../lib/paths';

const FILENAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const STALE_WORK_MS = 24 * 3600 * 1000;

export { sha256File };

export { canonicalJson };

export function jobKey(stage: string, inputHashes: Record<string, string>, options: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson({ stage, inputHashes, options })).digest('hex');
}

export { writeFileAtomic };

interface JobRecord<T> {
  stage: string;
  finishedAt: string;
  artifacts: ArtifactRef[];
  result: T;
}

export class ArtifactStore {
  constructor(readonly root: string = artifactStoreDir()) {}

  blobPath(sha256: string, filename: string): string {
    if (!SHA256_PATTERN.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
    if (!FILENAME.test(filename)) throw new Error(`not a plain file name: ${filename}`);
    return path.join(this.root, sha256, filename);
  }

  /** Copies `src` into the store under its content hash; a blob already there is kept. */
  async commitFile(src: string, filename: string): Promise<ArtifactRef> {
    const sha256 = await sha256File(src);
    const dest = this.blobPath(sha256, filename);
    const { size } = await stat(src);
    if (await this.holds({ path: dest, sha256, sizeBytes: size })) return { path: dest, sha256, sizeBytes: size };
    await mkdir(path.dirname(dest), { recursive: true });
    const tmp = tempSibling(dest);
    try {
      await copyFile(src, tmp);
      await fsyncFile(tmp);
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return { path: dest, sha256, sizeBytes: size };
  }

  /** True when the file exists with exactly this size and content. */
  async holds(ref: ArtifactRef): Promise<boolean> {
    try {
      const st = await stat(ref.path);
      if (!st.isFile() || st.size !== ref.sizeBytes) return false;
      return (await sha256File(ref.path)) === ref.sha256;
    } catch {
      return false;
    }
  }

  /**
   * The blob with this content, wherever a stage committed it (`<root>/<sha256>/<filename>`),
   * verified by hashing, with its `.meta.json` sidecar when there is one (a model file's
   * ModelMetadata). Among several names for the same bytes, one with a sidecar is preferred.
   * undefined when no file there has this content.
   */
  async findBySha256(sha256: string): Promise<{ model: ArtifactRef; metadataPath?: string } | undefined> {
    if (!SHA256_PATTERN.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
    let names: string[];
    try {
      names = await readdir(path.join(this.root, sha256));
    } catch {
      return undefined;
    }
    const sidecars = new Set(names.filter((n) => n.endsWith('.meta.json')));
    const blobs = names
      .filter((n) => FILENAME.test(n) && !n.startsWith('.tmp-') && !n.endsWith('.meta.json'))
      .sort((a, b) => Number(sidecars.has(`${b}.meta.json`)) - Number(sidecars.has(`${a}.meta.json`)) || a.localeCompare(b));
    for (const name of blobs) {
      const file = this.blobPath(sha256, name);
      try {
        const st = await stat(file);
        if (!st.isFile() || (await sha256File(file)) !== sha256) continue;
        const model: ArtifactRef = { path: file, sha256, sizeBytes: st.size };
        return sidecars.has(`${name}.meta.json`) ? { model, metadataPath: `${file}.meta.json` } : { model };
      } catch {
        // Removed while we looked.
      }
    }
    return undefined;
  }

  private jobPath(key: string): string {
    if (!SHA256_PATTERN.test(key)) throw new Error(`not a job key: ${key}`);
    return path.join(this.root, 'jobs', `${key}.json`);
  }

  /** The finished result for this key, if every artifact it names is still intact. */
  async lookupJob<T>(key: string): Promise<T | undefined> {
    let record: JobRecord<T>;
    try {
      record = JSON.parse(await readFile(this.jobPath(key), 'utf8')) as JobRecord<T>;
    } catch {
      return undefined;
    }
    for (const ref of record.artifacts ?? []) {
      if (!(await this.holds(ref))) return undefined;
    }
    return record.result;
  }

  async recordJob<T>(key: string, stage: string, artifacts: ArtifactRef[], result: T): Promise<void> {
    const record: JobRecord<T> = { stage, finishedAt: new Date().toISOString(), artifacts, result };
    await writeFileAtomic(this.jobPath(key), JSON.stringify(record, null, 2));
  }

  /** A fresh scratch directory; stale ones left by crashed workers are swept on the way. */
  async workDir(stage: string): Promise<string> {
    const base = path.join(this.root, '.work');
    await mkdir(base, { recursive: true });
    await this.sweepStaleWork(base);
    return mkdtemp(path.join(base, `${stage}-`));
  }

  private async sweepStaleWork(base: string): Promise<void> {
    const now = Date.now();
    for (const name of await readdir(base)) {
      const dir = path.join(base, name);
      try {
        if (now - (await stat(dir)).mtimeMs > STALE_WORK_MS) await rm(dir, { recursive: true, force: true });
      } catch {
        // Another worker swept it first.
      }
    }
  }
}
