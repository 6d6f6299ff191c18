// Per-body parse cost of an /infer request on this machine: JSON.parse + nested-array validation
// (the previous path, still the fallback) against the byte scanner, on the same bodies.
import type { Normalizer } from '../../edge/requestParsing';
import { parseInferPayload, scanInferBody } from '../../edge/requestParsing';

export interface ParseCost {
  jsonParseUs: number;
  scannerUs: number;
  bodyBytes: number;
}

function timePerCall(fn: (i: number) => void, minMs: number): number {
  for (let i = 0; i < 200; i++) fn(i); // warm-up so both paths are optimized before timing
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < minMs) {
    for (let k = 0; k < 50; k++) fn(n++);
  }
  return ((performance.now() - t0) * 1000) / n;
}

export function measureParseCost(bodies: Buffer[], norm: Normalizer, minMs = 1000): ParseCost {
  const jsonParseUs = timePerCall((i) => {
    parseInferPayload(JSON.parse(bodies[i % bodies.length].toString('utf8')), norm, 1);
  }, minMs);
  const scannerUs = timePerCall((i) => {
    if (!scanInferBody(bodies[i % bodies.length], norm, 1)) throw new Error('the scanner refused a benchmark body');
  }, minMs);
  return { jsonParseUs, scannerUs, bodyBytes: Math.round(bodies.reduce((a, b) => a + b.length, 0) / bodies.length) };
}
