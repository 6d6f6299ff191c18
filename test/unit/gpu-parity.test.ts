import * as assert from 'node:assert/strict';
import { computeParity, cosine, maxAbsDiff, normalizeWindow } from '../../activities/gpu/parity';

describe('gpu parity math', () => {
  it('cosine is 1 for scaled copies, 0 for orthogonal, -1 for opposite vectors', () => {
    assert.ok(Math.abs(cosine([1, 2, 3], [2, 4, 6]) - 1) < 1e-12);
    assert.equal(cosine([1, 0], [0, 5]), 0);
    assert.ok(Math.abs(cosine([1, -2], [-1, 2]) + 1) < 1e-12);
  });

  it('treats two zero vectors as identical and one zero vector as unrelated', () => {
    assert.equal(cosine([0, 0, 0], [0, 0, 0]), 1);
    assert.equal(cosine([0, 0, 0], [1, 0, 0]), 0);
  });

  it('rejects vectors of different lengths', () => {
    assert.throws(() => cosine([1, 2], [1, 2, 3]), /length/);
    assert.throws(() => maxAbsDiff([1], [1, 2]), /length/);
  });

  it('reports the worst probe: min cosine and max abs diff across probes', () => {
    const p = computeParity([
      { name: 'a', output: [1, 0, 0], reference: [1, 0, 0] },
      { name: 'b', output: [1, 1, 0], reference: [1, 0.9, 0] },
      { name: 'c', output: [0, 1, 0], reference: [0.1, 1, 0] },
    ], 0.9999);
    assert.equal(p.probes.length, 3);
    assert.equal(p.probes[0].cosine, 1);
    assert.equal(p.minCosine, Math.min(...p.probes.map((x) => x.cosine)));
    assert.ok(p.minCosine < 0.9999);
    assert.ok(Math.abs(p.maxAbsDiff - 0.1) < 1e-12);
    assert.equal(p.gate, 0.9999);
  });

  it('z-scores a raw window per channel into row-major [100*9] float32', () => {
    const window = Array.from({ length: 100 }, (_, t) => Array.from({ length: 9 }, (_, c) => t + c));
    const norm = { mean: [0, 1, 2, 3, 4, 5, 6, 7, 8], std: [1, 1, 1, 1, 1, 1, 1, 1, 2] };
    const x = normalizeWindow(window, norm);
    assert.equal(x.length, 900);
    assert.equal(x[0], 0);
    assert.equal(x[9 * 3 + 1], 3); // t=3, c=1: (3+1-1)/1
    assert.equal(x[9 * 10 + 8], 5); // t=10, c=8: (10+8-8)/2
  });
});
