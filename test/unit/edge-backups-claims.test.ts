// Backups as one verified file per version, the journals that keep a backup from being pruned,
// and staging claims (one per deployment run) on a model directory in a temp dir.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createDiscardStaged } from '../../activities/edge/discardStaged';
import { backupsInUse, newJournal, scanJournals, writeJournal } from '../../activities/edge/journal';
import { backupPath, claimPath, journalPath, listBackups, readCurrent, releasePath, stagedPath, switchCurrent } from '../../activities/edge/modelDir';
import { backupCurrent, installRelease, reinstateBackup } from '../../activities/edge/releases';
import type { DeviceSpec } from '../../lib/inventory';

const shaOf = (bytes: string): string => createHash('sha256').update(bytes).digest('hex');
const RUN_A = { deploymentId: 'deploy-a', runId: 'run-1' };
const RUN_B = { deploymentId: 'deploy-b', runId: 'run-1' };

describe('edge backups and staging claims', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'edgeship-claims-'));
    for (const d of ['releases', 'staging', 'backups']) await mkdir(path.join(dir, d));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  /** releases/<sha>.onnx holding `bytes`, with metadata naming that sha. */
  async function release(bytes: string): Promise<string> {
    const file = releasePath(dir, shaOf(bytes), 'onnx');
    await writeFile(file, bytes);
    await writeFile(`${file}.meta.json`, JSON.stringify(metadata(bytes)));
    return file;
  }

  function metadata(bytes: string): Record<string, unknown> {
    return {
      schema: 'edgeship.model/1', modelName: 'm', format: 'onnx', target: 'cpu-fp32', sha256: shaOf(bytes), sizeBytes: bytes.length,
      input: { name: 'imu_window', shape: [1, 100, 9] }, output: { name: 'latent_embeddings', shape: [1, 64] },
      normalization: { mean: Array(9).fill(0), std: Array(9).fill(1) }, versions: {}, probes: [],
    };
  }

  async function stage(bytes: string, ...runs: Array<{ deploymentId: string; runId: string }>): Promise<string> {
    const staged = stagedPath(dir, shaOf(bytes), 'onnx');
    await writeFile(staged, bytes);
    await writeFile(`${staged}.meta.json`, JSON.stringify(metadata(bytes)));
    for (const r of runs) {
      await mkdir(path.dirname(claimPath(staged, r.deploymentId, r.runId)), { recursive: true });
      await writeFile(claimPath(staged, r.deploymentId, r.runId), JSON.stringify(r));
    }
    return staged;
  }

  it('a second backup of a version keeps one verified copy, renamed to the newer stamp', async () => {
    const a = await release('model A');
    await switchCurrent(dir, a);
    const first = await backupCurrent(dir, await readCurrent(dir), 'onnx', new Date('2026-01-01T00:00:00Z'));
    const inode = (await stat(first?.backupPath ?? '')).ino;
    const second = await backupCurrent(dir, await readCurrent(dir), 'onnx', new Date('2026-01-02T00:00:00Z'));
    assert.equal(second?.backupPath, backupPath(dir, shaOf('model A'), 'onnx', new Date('2026-01-02T00:00:00Z')));
    assert.equal((await stat(second?.backupPath ?? '')).ino, inode, 'the verified copy was renamed, not copied again');
    assert.deepEqual((await listBackups(dir)).map((b) => b.path), [second?.backupPath]);
    assert.ok((await readdir(path.join(dir, 'backups'))).includes(`${path.basename(second?.backupPath ?? '')}.meta.json`));

    // A damaged copy is no backup: a fresh one replaces it.
    await writeFile(second?.backupPath ?? '', 'damaged');
    const third = await backupCurrent(dir, await readCurrent(dir), 'onnx', new Date('2026-01-03T00:00:00Z'));
    assert.equal(await readFile(third?.backupPath ?? '', 'utf8'), 'model A');
    assert.deepEqual((await listBackups(dir)).map((b) => b.path), [third?.backupPath]);
  });

  it('a restore finds the version under its new name when a later backup renamed the journaled file', async () => {
    const a = await release('model A');
    await switchCurrent(dir, a);
    const journaled = await backupCurrent(dir, await readCurrent(dir), 'onnx', new Date('2026-01-01T00:00:00Z'));
    await backupCurrent(dir, await readCurrent(dir), 'onnx', new Date('2026-01-02T00:00:00Z'));
    await rm(a);
    await rm(`${a}.meta.json`);
    const sha = shaOf('model A');
    const restored = await reinstateBackup(dir, { path: journaled?.backupPath ?? '', stamp: '20260101T000000000Z', sha256: sha, ext: 'onnx' });
    assert.equal(restored, a);
    assert.equal(await readFile(a, 'utf8'), 'model A');
    assert.equal(JSON.parse(await readFile(`${a}.meta.json`, 'utf8')).sha256, sha);
  });

  it('a backup stays protected while a journal may still restore it', async () => {
    const [a, b] = [await release('model A'), await release('model B')];
    const at = new Date();
    const backup = { sha256: shaOf('model A'), backupPath: backupPath(dir, shaOf('model A'), 'onnx', at), releasePath: a };
    const journal = await writeJournal(dir, newJournal(RUN_A, 'dev', shaOf('model B'), 'onnx', backup, at), 'healthy', at);
    assert.deepEqual([...backupsInUse(dir, await scanJournals(dir), b)], [shaOf('model A')], 'B is live: its rollback needs A');
    assert.deepEqual([...backupsInUse(dir, await scanJournals(dir), a)], [], 'superseded: nothing to restore');
    await writeJournal(dir, journal, 'restored', at);
    assert.deepEqual([...backupsInUse(dir, await scanJournals(dir), b)], [], 'restored: done with it');
    await writeJournal(dir, journal, 'restoring', at);
    assert.deepEqual([...backupsInUse(dir, await scanJournals(dir), a)], [shaOf('model A')], 'a restore under way needs it');
    // A journal that does not parse: whatever it names is in use.
    await writeFile(journalPath(dir, 'deploy-x', 'run-1'), `{ "backup": "${shaOf('model C')}"`);
    assert.ok(backupsInUse(dir, await scanJournals(dir), null).has(shaOf('model C')));
  });

  it('installRelease copies a staged file another run claims, moves one only this run claims, and drops its claim', async () => {
    const shared = await stage('model S', RUN_A, RUN_B);
    const r = await installRelease(dir, shaOf('model S'), 'onnx', RUN_A);
    assert.equal(r.keptForOtherRuns, true);
    assert.equal(await readFile(r.release, 'utf8'), 'model S');
    assert.equal(await readFile(shared, 'utf8'), 'model S', 'kept for run b');
    assert.equal(JSON.parse(await readFile(`${shared}.meta.json`, 'utf8')).sha256, shaOf('model S'), 'metadata kept too');
    assert.deepEqual(await readdir(`${shared}.claims`), [path.basename(claimPath(shared, RUN_B.deploymentId, RUN_B.runId))]);

    const own = await stage('model T', RUN_A);
    const t = await installRelease(dir, shaOf('model T'), 'onnx', RUN_A);
    assert.equal(t.keptForOtherRuns, false);
    assert.deepEqual((await readdir(path.join(dir, 'staging'))).filter((n) => n.includes(path.basename(own))), [], 'moved; claims dir gone');
  });

  it('discardStaged drops only its own claim; the file goes with the last claim, or at once when unclaimed (older pushes)', async () => {
    const device = { id: 'dev', modelDir: dir } as DeviceSpec;
    const discard = createDiscardStaged(device);
    const sha256 = shaOf('model S');
    const staged = await stage('model S', RUN_A, RUN_B);
    const a = await discard({ ...RUN_A, sha256, ext: 'onnx' });
    assert.deepEqual([a.removed, a.otherClaims], [[claimPath(staged, RUN_A.deploymentId, RUN_A.runId)], 1]);
    assert.equal(await readFile(staged, 'utf8'), 'model S');
    const again = await discard({ ...RUN_A, sha256, ext: 'onnx' });
    assert.deepEqual([again.removed, again.otherClaims], [[], 1], 'idempotent');
    const b = await discard({ ...RUN_B, sha256, ext: 'onnx' });
    assert.deepEqual([b.removed, b.otherClaims], [[claimPath(staged, RUN_B.deploymentId, RUN_B.runId), staged, `${staged}.meta.json`], 0]);
    assert.deepEqual(await readdir(path.join(dir, 'staging')), []);

    const legacy = await stage('model L');
    const l = await discard({ ...RUN_A, sha256: shaOf('model L'), ext: 'onnx' });
    assert.deepEqual([l.removed, l.otherClaims], [[legacy, `${legacy}.meta.json`], 0]);
    assert.deepEqual(await readdir(path.join(dir, 'staging')), []);
  });
});
