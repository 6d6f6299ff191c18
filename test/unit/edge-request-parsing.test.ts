import assert from 'node:assert/strict';
import { createNormalizer, parseInferBody, RequestError } from '../../edge/requestParsing';

const MEAN = [0.12, -0.08, 9.78, 0.002, -0.001, 0.003, 22.4, -8.7, 43.2];
const STD = [3.92, 3.87, 2.45, 1.24, 1.31, 0.98, 28.5, 31.2, 24.8];
const norm = createNormalizer({ mean: MEAN, std: STD });

const window = (v: (t: number, c: number) => number = () => 1): number[][] =>
  Array.from({ length: 100 }, (_, t) => Array.from({ length: 9 }, (_, c) => v(t, c)));

function rejects(body: string, status: number, pattern: RegExp): void {
  assert.throws(() => parseInferBody(body, norm, 4), (err: unknown) => {
    assert.ok(err instanceof RequestError, `expected RequestError, got ${String(err)}`);
    assert.equal(err.status, status);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('edge request parsing', () => {
  it('z-scores a single window per channel', () => {
    const w = window((t, c) => MEAN[c] + STD[c] * (t % 3));
    const r = parseInferBody(JSON.stringify({ x: w }), norm, 4);
    assert.equal(r.kind, 'single');
    assert.equal(r.count, 1);
    assert.equal(r.input.length, 900);
    for (let t = 0; t < 100; t++) {
      for (let c = 0; c < 9; c++) assert.ok(Math.abs(r.input[t * 9 + c] - (t % 3)) < 1e-5, `t=${t} c=${c}`);
    }
  });

  it('packs a batch contiguously in order', () => {
    const r = parseInferBody(JSON.stringify({ batch: [window(() => MEAN[0]), window((_, c) => MEAN[c] + STD[c])] }), norm, 4);
    assert.equal(r.kind, 'batch');
    assert.equal(r.count, 2);
    assert.equal(r.input[0], 0);
    assert.ok(Math.abs(r.input[900] - 1) < 1e-6);
    assert.ok(Math.abs(r.input[1799] - 1) < 1e-6);
  });

  it('rejects bad JSON and non-object bodies', () => {
    rejects('{"x": [', 400, /not valid JSON/);
    rejects('[1,2]', 400, /JSON object/);
    rejects('null', 400, /JSON object/);
    rejects('{}', 400, /exactly one of/);
    rejects(JSON.stringify({ x: window(), batch: [window()] }), 400, /exactly one of/);
  });

  it('rejects wrong shapes with the position', () => {
    rejects(JSON.stringify({ x: window().slice(0, 99) }), 400, /x must be an array of 100 rows.*length 99/);
    const w = window();
    w[42] = [1, 2, 3];
    rejects(JSON.stringify({ x: w }), 400, /x\[42\] must be an array of 9 numbers/);
    rejects(JSON.stringify({ x: 'abc' }), 400, /got a string/);
  });

  it('rejects non-numbers and non-finite values', () => {
    const w = window() as unknown[][];
    w[3][4] = '1.5';
    rejects(JSON.stringify({ x: w }), 400, /x\[3\]\[4\] must be a finite number \(got a string\)/);
    w[3][4] = null;
    rejects(JSON.stringify({ x: w }), 400, /x\[3\]\[4\].*null/);
    // JSON cannot spell NaN; 1e999 is the way Infinity arrives.
    rejects(JSON.stringify({ x: window() }).replace('[[1,', '[[1e999,'), 400, /x\[0\]\[0\] must be a finite number \(got Infinity\)/);
    rejects(JSON.stringify({ x: window() }).replace('[[1,', '[[NaN,'), 400, /not valid JSON/);
    rejects(JSON.stringify({ x: window() }).replace('[[1,', '[[1e300,'), 400, /out of float32 range/);
  });

  it('rejects empty and oversized batches', () => {
    rejects(JSON.stringify({ batch: [] }), 400, /non-empty/);
    rejects(JSON.stringify({ batch: Array.from({ length: 5 }, () => window()) }), 400, /5 windows; the limit is 4/);
    const b = [window(), window()] as unknown[];
    b[1] = 7;
    rejects(JSON.stringify({ batch: b }), 400, /batch\[1\] must be an array of 100 rows/);
  });

  it('refuses normalization without 9 channels', () => {
    assert.throws(() => createNormalizer({ mean: [0], std: [1] }), RangeError);
  });
});
