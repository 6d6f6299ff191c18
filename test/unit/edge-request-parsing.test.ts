import assert from 'node:assert/strict';
import { createNormalizer, parseInferBody, parseInferPayload, RequestError, scanInferBody } from '../../edge/requestParsing';

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

describe('edge request parsing: the byte scanner', () => {
  // Deterministic pseudo-random numbers (no Math.random: failures must reproduce).
  let seed = 12345;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  /** Number spellings a client may send, each a valid JSON number. */
  const spellings = [
    (v: number) => String(v),
    (v: number) => v.toFixed(3),
    (v: number) => v.toExponential(6),
    (v: number) => v.toExponential(6).toUpperCase().replace('E+', 'E'),
    (v: number) => v.toPrecision(17),
    (v: number) => v.toPrecision(21),
    (v: number) => String(Math.round(v)),
    (v: number) => `${v.toFixed(20)}`,
    (v: number) => `${Math.trunc(v * 1e6)}e-6`,
    (v: number) => `${v.toExponential(3).replace(/e([+-])(\d)$/, 'e$10$2')}`,
  ];

  function windowText(pick: (t: number, c: number) => string, space = ''): string {
    const rows = Array.from({ length: 100 }, (_, t) => `[${Array.from({ length: 9 }, (_, c) => pick(t, c)).join(`,${space}`)}]`);
    return `[${rows.join(`,${space}\n`)}]`;
  }

  function viaJsonParse(text: string): Float32Array {
    return parseInferPayload(JSON.parse(text), norm, 4).input;
  }

  it('stores exactly the float32 values of the JSON.parse path, for every number spelling', () => {
    for (let round = 0; round < 30; round++) {
      const values = Array.from({ length: 900 }, (_, i) => MEAN[i % 9] + STD[i % 9] * (rand() * 8 - 4) * 10 ** Math.floor(rand() * 6 - 3));
      const text = `{ "x" : ${windowText((t, c) => spellings[(t * 9 + c + round) % spellings.length](values[t * 9 + c]), round % 2 ? ' ' : '')} }\n`;
      const fast = scanInferBody(Buffer.from(text), norm, 4);
      assert.ok(fast, `round ${round}: the scanner refused a well-formed body`);
      assert.deepEqual(Buffer.from(fast.input.buffer), Buffer.from(viaJsonParse(text).buffer), `round ${round}`);
    }
  });

  it('keeps -0, integers, long mantissas and wide exponents exact', () => {
    const odd = ['-0', '0', '-0.0', '123456789012345678', '0.1000000000000000055511151231257827', '1e-30', '-2.5E+2', '9.999999999999999e22', '1e23', '0.000001234', '4.9e-324'];
    const text = JSON.stringify({ x: 0 }).replace('0', windowText((t, c) => odd[(t * 9 + c) % odd.length]));
    const fast = scanInferBody(Buffer.from(text), norm, 4);
    assert.ok(fast);
    assert.deepEqual(Buffer.from(fast.input.buffer), Buffer.from(viaJsonParse(text).buffer));
  });

  it('takes the batch form and packs it in order', () => {
    const a = windowText((_, c) => String(MEAN[c]));
    const b = windowText((_, c) => String(MEAN[c] + STD[c]));
    const fast = scanInferBody(Buffer.from(`{"batch":[${a},${b}]}`), norm, 4);
    assert.ok(fast);
    assert.equal(fast.kind, 'batch');
    assert.equal(fast.count, 2);
    assert.equal(fast.input[0], 0);
    assert.ok(Math.abs(fast.input[1799] - 1) < 1e-6);
  });

  it('hands everything it does not accept to the JSON.parse path', () => {
    const w = windowText(() => '1');
    const refused = [
      `{"x":${w},"x":${w}}`, // duplicate key: JSON.parse keeps the last one
      `{"\\u0078":${w}}`, // escaped key
      `{"x":${w},"extra":1}`,
      `{"x":${w}} x`,
      `{"x":${w.replace('[1,', '[01,')}}`,
      `{"x":${w.replace('[1,', '[1.,')}}`,
      `{"x":${w.replace('[1,', '[1e,')}}`,
      `{"x":${w.replace('[1,', '[+1,')}}`,
      `{"x":${w.replace('[1,', '[1e999,')}}`,
      `{"x":${w.replace('[1,', '[1e300,')}}`,
      `{"x":${w.replace('[1,', '[1,1,')}}`,
      `{"batch":[]}`,
      `{"batch":[${w},${w},${w},${w},${w}]}`,
      `\ufeff{"x":${w}}`,
    ];
    for (const text of refused) assert.equal(scanInferBody(Buffer.from(text), norm, 4), null, text.slice(0, 30));
    // and the exact reasons still come from the slow path
    rejects(`{"x":${w.replace('[1,', '[1,1,')}}`, 400, /x\[0\] must be an array of 9 numbers \(got an array of length 10\)/);
    rejects(`{"batch":[${w},${w},${w},${w},${w}]}`, 400, /5 windows; the limit is 4/);
    assert.equal(parseInferBody(`{"x":${w},"x":${w.replace('[1,', '[2,')}}`, norm, 4).input[0], Math.fround((2 - MEAN[0]) * (1 / STD[0])));
  });

  it('reads a Buffer body the same as its string', () => {
    const text = JSON.stringify({ x: window((t, c) => t + c / 10) });
    assert.deepEqual(parseInferBody(Buffer.from(text), norm, 4).input, parseInferBody(text, norm, 4).input);
  });
});
