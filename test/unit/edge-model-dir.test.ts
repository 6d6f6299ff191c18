// The model directory helpers: atomic `current` switch, real copies, backup naming and pruning,
// and the refusal to build paths from anything but validated parts.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { newJournal, readJournal, scanJournals, writeJournal } from '../../activities/edge/journal';
import {
  backupPath, checkArtifactId, copyDurable, distinctShas, journalPath, listBackups, parseBackupPath, pruneBackups, readCurrent, releasePath,
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

  it('names journals by a hash of the deployment run (workflow id + run id), so no id can escape the directory', () => {
    const p = journalPath(dir, '../../etc/cron.d/x', 'run-1');
    assert.equal(path.dirname(p), path.join(dir, 'journal'));
    assert.match(path.basename(p), /^[0-9a-f]{64}\.json$/);
    assert.notEqual(journalPath(dir, 'deploy-a', 'run-1'), journalPath(dir, 'deploy-b', 'run-1'));
    assert.notEqual(journalPath(dir, 'deploy-a', 'run-1'), journalPath(dir, 'deploy-a', 'run-2'), 'a re-run has its own journal');
    const invalid = (err: unknown): boolean => err instanceof ApplicationFailure && err.type === 'InvalidRequest' && err.nonRetryable === true;
    // A run id never holds a newline, so "a\nb" + "c" and "a" + "b\nc" cannot name the same run.
    assert.throws(() => journalPath(dir, 'a', 'b\nc'), invalid);
    assert.throws(() => journalPath(dir, 'a', ''), invalid);
    assert.throws(() => journalPath(dir, '', 'r'), invalid);
  });

  it('reads only its own run\'s v2 journal; a v1 journal (keyed by workflow id only) is ignored', async () => {
    const at = new Date('2026-01-01T00:00:00Z');
    const backup = { sha256: SHA_A, backupPath: backupPath(dir, SHA_A, 'onnx', at), releasePath: releasePath(dir, SHA_A, 'onnx') };
    const written = await writeJournal(dir, newJournal({ deploymentId: 'deploy-x', runId: 'run-1' }, 'dev', SHA_B, 'onnx', backup, at), 'prepared', at);
    assert.deepEqual(await readJournal(dir, 'deploy-x', 'run-1'), written);
    assert.equal(written.schema, 'edgeship.swap-journal/2');
    assert.equal(await readJournal(dir, 'deploy-x', 'run-2'), null, 'a re-run does not see the earlier run\'s journal');
    const v1 = { ...written, schema: 'edgeship.swap-journal/1', runId: undefined };
    await writeFile(journalPath(dir, 'deploy-y', 'run-1'), JSON.stringify(v1));
    assert.equal(await readJournal(dir, 'deploy-y', 'run-1'), null);
    const scan = await scanJournals(dir);
    assert.deepEqual([scan.journals.map((j) => j.runId), scan.unreadable], [['run-1'], []]);
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

  it('prunes to the newest N distinct versions, one intact copy each, never a protected version', async () => {
    const shaOf = (text: string): string => createHash('sha256').update(text).digest('hex');
    /** A backup holding `text` (so it hashes to the sha in its name), stamped at second `i`. */
    const makeBackup = async (text: string, i: number): Promise<string> => {
      const p = backupPath(dir, shaOf(text), 'onnx', new Date(Date.UTC(2026, 0, 1, 0, 0, i)));
      await writeFile(p, text);
      await writeFile(`${p}.meta.json`, '{}');
      return p;
    };
    // Oldest first: D, A, B, A, C, B: what repeated swaps left before one copy per version.
    const [d, a1, b1, a2, c, b2] = await Promise.all(['D', 'A', 'B', 'A', 'C', 'B'].map((t, i) => makeBackup(t, i)));
    await writeFile(b2, 'damaged'); // the newest copy of B is corrupt: the older one must stay
    await writeFile(path.join(dir, 'backups', 'notes.txt'), 'not a backup');
    assert.deepEqual(distinctShas(await listBackups(dir)), ['B', 'C', 'A', 'D'].map(shaOf));

    const removed = await pruneBackups(dir, 3, new Set());
    assert.deepEqual(removed.sort(), [d, a1, b2].sort(), 'D is beyond the newest three versions; the older A and the corrupt B are duplicates');
    const left = (await readdir(path.join(dir, 'backups'))).sort();
    assert.deepEqual(left, [b1, a2, c].flatMap((p) => [path.basename(p), `${path.basename(p)}.meta.json`]).concat('notes.txt').sort());

    // A protected version (a journal may still restore it) survives beyond N.
    assert.deepEqual(await pruneBackups(dir, 1, new Set([shaOf('A')])), [b1]);
    assert.deepEqual(distinctShas(await listBackups(dir)), ['C', 'A'].map(shaOf));
  });

  it('refuses a model directory it did not make: `current` as a plain file, or an edited swap journal (non-retryable DeviceStateCorrupt)', async () => {
    const corrupt = (err: unknown): boolean => err instanceof ApplicationFailure && err.type === 'DeviceStateCorrupt' && err.nonRetryable === true;
    await writeFile(path.join(dir, 'current'), 'not a link');
    await assert.rejects(readCurrent(dir), corrupt);
    const journal = journalPath(dir, 'deploy-x', 'run-1');
    await mkdir(path.dirname(journal), { recursive: true });
    await writeFile(journal, '{ half a journal');
    await assert.rejects(readJournal(dir, 'deploy-x', 'run-1'), corrupt);
    await writeFile(journal, JSON.stringify({ deploymentId: 'deploy-y' }));
    await assert.rejects(readJournal(dir, 'deploy-x', 'run-1'), corrupt);
    // A well-formed journal of another run under this run's name was moved or edited by hand.
    const other = newJournal({ deploymentId: 'deploy-x', runId: 'run-2' }, 'dev', SHA_A, 'onnx', null, new Date());
    await writeFile(journal, JSON.stringify(other));
    await assert.rejects(readJournal(dir, 'deploy-x', 'run-1'), corrupt);
  });
});
