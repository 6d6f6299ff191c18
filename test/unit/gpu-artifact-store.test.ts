import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ArtifactStore, canonicalJson, jobKey, writeFileAtomic } from '../../activities/gpu/artifactStore';
import { hashDataDir } from '../../activities/gpu/buildCalibrationSet';

describe('gpu artifact store', () => {
  let root: string;
  let src: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'edgeship-store-'));
    src = path.join(root, 'src.bin');
    writeFileSync(src, 'model bytes');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('job keys ignore key order and undefined fields but not values', () => {
    const a = jobKey('export', { checkpoint: 'aa', x: 'bb' }, { conv2d: false, opset: 17 });
    assert.equal(a, jobKey('export', { x: 'bb', checkpoint: 'aa' }, { opset: 17, conv2d: false, extra: undefined }));
    assert.notEqual(a, jobKey('export', { checkpoint: 'aa', x: 'bb' }, { conv2d: true, opset: 17 }));
    assert.notEqual(a, jobKey('calibrate', { checkpoint: 'aa', x: 'bb' }, { conv2d: false, opset: 17 }));
    assert.match(a, /^[0-9a-f]{64}$/);
    assert.equal(canonicalJson({ b: [1, { d: 1, c: 2 }], a: null }), '{"a":null,"b":[1,{"c":2,"d":1}]}');
  });

  it('commits a file under its sha256, once, with no temp file left behind', async () => {
    const store = new ArtifactStore(path.join(root, 'store'));
    const ref = await store.commitFile(src, 'demo.onnx');
    const sha = createHash('sha256').update('model bytes').digest('hex');
    assert.deepEqual(ref, { path: path.join(root, 'store', sha, 'demo.onnx'), sha256: sha, sizeBytes: 11 });
    assert.equal(readFileSync(ref.path, 'utf8'), 'model bytes');
    assert.deepEqual(await store.commitFile(src, 'demo.onnx'), ref);
    assert.deepEqual(readdirSync(path.dirname(ref.path)), ['demo.onnx']);
  });

  it('refuses names that would escape the blob directory', async () => {
    const store = new ArtifactStore(path.join(root, 'store'));
    await assert.rejects(store.commitFile(src, '../x.onnx'), /plain file name/);
    assert.throws(() => store.blobPath('not-a-sha', 'a.onnx'), /sha256/);
  });

  it('reuses a finished job only while its artifacts are intact', async () => {
    const store = new ArtifactStore(path.join(root, 'store'));
    const ref = await store.commitFile(src, 'demo.onnx');
    const key = jobKey('export', { checkpoint: ref.sha256 }, {});
    assert.equal(await store.lookupJob(key), undefined);
    await store.recordJob(key, 'export', [ref], { answer: 42 });
    assert.deepEqual(await store.lookupJob(key), { answer: 42 });
    writeFileSync(ref.path, 'model bytez'); // same size, other content
    assert.equal(await store.lookupJob(key), undefined);
    rmSync(ref.path);
    assert.equal(await store.lookupJob(key), undefined);
  });

  it('replaces a file atomically: readers see the old or the new content, never a mix', async () => {
    const file = path.join(root, 'meta.json');
    await writeFileAtomic(file, 'old');
    await writeFileAtomic(file, 'new content');
    assert.equal(readFileSync(file, 'utf8'), 'new content');
    assert.deepEqual(readdirSync(root).sort(), ['meta.json', 'src.bin']);
  });

  it('removes the temp file when a write fails', async () => {
    const file = path.join(root, 'sub', 'x.json');
    await assert.rejects(writeFileAtomic(file, 12345 as unknown as string));
    assert.deepEqual(readdirSync(path.join(root, 'sub')), []);
  });

  it('gives each running stage its own scratch directory', async () => {
    const store = new ArtifactStore(path.join(root, 'store'));
    const a = await store.workDir('export');
    const b = await store.workDir('export');
    assert.notEqual(a, b);
    assert.equal(path.dirname(a), path.join(root, 'store', '.work'));
  });

  it('hashes symlinked calibration windows through the link (calibrate.py reads them)', async () => {
    const shared = path.join(root, 'shared');
    const data = path.join(root, 'data', 'walking');
    mkdirSync(shared, { recursive: true });
    mkdirSync(data, { recursive: true });
    writeFileSync(path.join(shared, 'w1.csv'), '1,2,3,4,5,6,7,8,9\n');
    symlinkSync(path.join(shared, 'w1.csv'), path.join(data, 'w1.csv'));
    const before = await hashDataDir(path.join(root, 'data'));
    assert.equal(before.files, 1);
    writeFileSync(path.join(shared, 'w1.csv'), '9,8,7,6,5,4,3,2,1\n');
    const after = await hashDataDir(path.join(root, 'data'));
    assert.notEqual(after.sha256, before.sha256, 'a changed recording must be a new calibration job');
  });
});
