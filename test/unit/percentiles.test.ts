import assert from 'node:assert/strict';
import { cosineSimilarity, euclideanDistance, mean, percentile, summarizeLatencies, variance } from '../../common/percentiles';

describe('percentiles (sorted-sample, nearest rank)', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100

  it('returns observed samples at the nearest rank', () => {
    assert.equal(percentile(hundred, 0.5), 50);
    assert.equal(percentile(hundred, 0.95), 95);
    assert.equal(percentile(hundred, 0.99), 99);
    assert.equal(percentile(hundred, 1), 100);
    assert.equal(percentile(hundred, 0), 1);
    assert.equal(percentile([1, 2, 3], 0.5), 2);
    assert.equal(percentile([10, 20], 0.9), 20);
  });

  it('rejects empty samples and ranks outside [0, 1]', () => {
    assert.throws(() => percentile([], 0.5), RangeError);
    assert.throws(() => percentile([1], 95), RangeError);
    assert.throws(() => percentile([1], Number.NaN), RangeError);
  });

  it('summarizes unsorted samples without mutating them', () => {
    const samples = [5, 1, 4, 2, 3];
    const s = summarizeLatencies(samples);
    assert.deepEqual(samples, [5, 1, 4, 2, 3]);
    assert.deepEqual(s, { count: 5, p50: 3, p90: 5, p95: 5, p99: 5, mean: 3, max: 5 });
    assert.throws(() => summarizeLatencies([]), RangeError);
  });
});

describe('vector helpers', () => {
  it('computes mean and population variance', () => {
    assert.equal(mean([1, 2, 3, 4]), 2.5);
    assert.equal(variance([1, 2, 3, 4]), 1.25);
    assert.equal(variance([7, 7, 7]), 0);
  });

  it('computes cosine similarity, 0 for a zero vector, and checks lengths', () => {
    assert.equal(cosineSimilarity([1, 0], [2, 0]), 1);
    assert.equal(cosineSimilarity([1, 0], [-3, 0]), -1);
    assert.ok(Math.abs(cosineSimilarity([1, 0], [0, 5])) < 1e-12);
    assert.equal(cosineSimilarity([0, 0], [1, 1]), 0);
    assert.throws(() => cosineSimilarity([1], [1, 2]), RangeError);
  });

  it('computes euclidean distance', () => {
    assert.equal(euclideanDistance([0, 0], [3, 4]), 5);
    assert.throws(() => euclideanDistance([1], []), RangeError);
  });
});
