// The model directory helpers: atomic `current` switch, real copies, backup naming and pruning,
// and the refusal to build paths from anything but validated parts.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { readJournal } from '../../activities/edge/journal';
import {
  backupPath, checkArtifactId, copyDurable, journalPath, parseBackupPath, pruneBackups, readCurrent, releasePath,
  removeCurrent, sha256File, switchCurrent,
} from '../../activities/edge/modelDir';

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

describe('edge model directory', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'edgeship-modeldir-'));
    await mkdir(path.join(dir, 'releases'));
    await mkdir(path.join(dir, 'backups'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('rejects malformed sha256 and extensions as non-retryable InvalidRequest', () => {
    for (const [sha, ext] of [['../etc/passwd', 'onnx'], [SHA_A.toUpperCase(), 'onnx'], [SHA_A, 'exe'], [SHA_A, 'onnx/../x']]) {
      assert.throws(() => checkArtifactId(sha, ext), (err: unknown) => err instanceof ApplicationFailure && err.type === 'InvalidRequest' && err.nonRetryable);
    }
    assert.equal(releasePath(dir, SHA_A, 'onnx'), path.join(dir, 'releases', `${SHA_A}.onnx`));
  });

  it('names journals by a hash of the deployment id, so no id can escape the directory', () => {
    const p = journalPath(dir, '../../etc/cron.d/x');
    assert.equal(path.dirname(p), path.join(dir, 'journal'));
    assert.match(path.basename(p), /^[0-9a-f]{64}\.json$/);
    assert.notEqual(journalPath(dir, 'deploy-a'), journalPath(dir, 'deploy-b'));
  });

  it('switches `current` atomically: readers never see it missing, no temp links remain', async () => {
    for (const sha of [SHA_A, SHA_B]) await writeFile(releasePath(dir, sha, 'onnx'), sha);
    assert.equal(await readCurrent(dir), null);
    await switchCurrent(dir, releasePath(dir, SHA_A, 'onnx'));
    let stop = false;
    let misses = 0;
    let reads = 0;
    const reader = (async () => {
      while (!stop) {
        try {
          await readlink(path.join(dir, 'current'));
        } catch {
          misses += 1;
        }
        reads += 1;
        await new Promise((r) => setImmediate(r));
      }
    })();
    for (let i = 0; i < 200; i += 1) await switchCurrent(dir, releasePath(dir, i % 2 ? SHA_A : SHA_B, 'onnx'));
    stop = true;
    await reader;
    assert.ok(reads > 10, `reader ran ${reads} times`);
    assert.equal(misses, 0);
    const current = await readCurrent(dir);
    assert.equal(current?.link, path.join('releases', `${SHA_A}.onnx`)); // relative: the dir can move
    assert.equal(current?.file, releasePath(dir, SHA_A, 'onnx'));
    assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('current')), ['current']);
    assert.equal(await removeCurrent(dir), true);
    assert.equal(await removeCurrent(dir), false);
  });

  it('refuses to point `current` outside the model directory', async () => {
    await assert.rejects(switchCurrent(dir, '/etc/passwd'), /outside/);
  });

  it('copies for real: a new inode with the same bytes, and reports the sha of what it copied', async () => {
    const src = releasePath(dir, SHA_A, 'onnx');
    await writeFile(src, Buffer.alloc(3 * 1024 * 1024, 7));
    const dest = backupPath(dir, SHA_A, 'onnx', new Date('2026-01-02T03:04:05.678Z'));
    const copied = await copyDurable(src, dest);
    assert.equal(copied, await sha256File(src));
    assert.equal(await sha256File(dest), copied);
    assert.notEqual((await stat(src)).ino, (await stat(dest)).ino);
    assert.equal(path.basename(dest), `20260102T030405678Z-${SHA_A}.onnx`);
    assert.equal(await sha256File(path.join(dir, 'nope')), null);
  });

  it('accepts only backup paths directly inside backups/ with the backup naming', () => {
    const good = backupPath(dir, SHA_A, 'onnx', new Date(0));
    assert.deepEqual(parseBackupPath(dir, good), { path: good, stamp: '19700101T000000000Z', sha256: SHA_A, ext: 'onnx' });
    for (const bad of [
      path.join(dir, 'releases', `${SHA_A}.onnx`),
      `${dir}/backups/../backups/${path.basename(good)}`,
      path.join(dir, 'backups', `x-${SHA_A}.onnx`),
      `/tmp/backups/${path.basename(good)}`,
      42,
    ]) {
      assert.equal(parseBackupPath(dir, bad), null, String(bad));
    }
  });

  it('prunes to the newest N backups (with metadata) but never the protected ones', async () => {
    const made: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const p = backupPath(dir, i % 2 ? SHA_A : SHA_B, 'onnx', new Date(Date.UTC(2026, 0, 1, 0, 0, i)));
      await writeFile(p, String(i));
      await writeFile(`${p}.meta.json`, '{}');
      made.push(p);
    }
    await writeFile(path.join(dir, 'backups', 'notes.txt'), 'not a backup');
    const removed = await pruneBackups(dir, 2, [made[0]]);
    assert.deepEqual(removed, [made[1], made[2]]);
    const left = (await readdir(path.join(dir, 'backups'))).sort();
    assert.deepEqual(left, [made[0], `${made[0]}.meta.json`, made[3], `${made[3]}.meta.json`, made[4], `${made[4]}.meta.json`].map((p) => path.basename(p)).concat('notes.txt').sort());
  });

  it('refuses a model directory it did not make: `current` as a plain file, or an edited swap journal (non-retryable DeviceStateCorrupt)', async () => {
    const corrupt = (err: unknown): boolean => err instanceof ApplicationFailure && err.type === 'DeviceStateCorrupt' && err.nonRetryable === true;
    await writeFile(path.join(dir, 'current'), 'not a link');
    await assert.rejects(readCurrent(dir), corrupt);
    const journal = journalPath(dir, 'deploy-x');
    await mkdir(path.dirname(journal), { recursive: true });
    await writeFile(journal, '{ half a journal');
    await assert.rejects(readJournal(dir, 'deploy-x'), corrupt);
    await writeFile(journal, JSON.stringify({ deploymentId: 'deploy-y' }));
    await assert.rejects(readJournal(dir, 'deploy-x'), corrupt);
  });
});
