// No import cycles: every relative import of the project, read with TypeScript's parser, forms a
// graph without cycles (a cycle is named file by file when one appears). And the dev scripts and
// the tests stay apart: nothing in scripts/ imports test/, nothing in test/ imports scripts/; and
// product code (sim/ included) imports none of the dev scripts, benchmarks and tests.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { findCycles, readImportGraph, staticImports, type ImportGraph } from '../helpers/importGraph';

const ROOT = path.resolve(__dirname, '..', '..');
/** The folders tsconfig.json includes. */
const FOLDERS = (JSON.parse(readFileSync(path.join(ROOT, 'tsconfig.json'), 'utf8')) as { include: string[] }).include;

describe('import graph', () => {
  it('reads static imports, re-exports and import = require, type-only ones too; not dynamic loads', () => {
    const text = [
      "import { a } from './a';",
      "import type { B } from '../b';",
      "export { c } from './c';",
      "import d = require('./d');",
      "import * as fs from 'node:fs';",
      "const e = require('./e');",
      "async function f() { return import('./f'); }",
    ].join('\n');
    assert.deepEqual(staticImports('x.ts', text), ['./a', '../b', './c', './d']);
  });

  it('finds and names a cycle, and a file importing itself', () => {
    const graph: ImportGraph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts', 'd.ts']],
      ['d.ts', []],
      ['e.ts', ['e.ts']],
    ]);
    assert.deepEqual(findCycles(graph), [['a.ts', 'b.ts', 'c.ts', 'a.ts'], ['e.ts', 'e.ts']]);
    assert.deepEqual(findCycles(new Map([['a.ts', ['b.ts']], ['b.ts', []]])), []);
  });

  it('the project has no import cycle', () => {
    const graph = readImportGraph(ROOT, FOLDERS);
    assert.ok(graph.size > 200, `read ${graph.size} files`);
    assert.ok(graph.get('workflows/deployModel.ts')?.includes('workflows/saga.ts'), 'relative imports are resolved to files');
    const cycles = findCycles(graph);
    assert.deepEqual(cycles.map((c) => c.join(' → ')), [], `import cycles:\n${cycles.map((c) => `  ${c.join(' → ')}`).join('\n')}`);
  });

  it('scripts/ and test/ import nothing of each other', () => {
    const graph = readImportGraph(ROOT, FOLDERS);
    const across = [...graph].flatMap(([file, targets]) => targets
      .filter((t) => (file.startsWith('scripts/') && t.startsWith('test/')) || (file.startsWith('test/') && t.startsWith('scripts/')))
      .map((t) => `${file} → ${t}`));
    assert.deepEqual(across, []);
  });

  it('product code imports nothing from scripts/, bench/ or test/', () => {
    const tooling = ['scripts/', 'bench/', 'test/'];
    const graph = readImportGraph(ROOT, FOLDERS);
    const reaching = [...graph].filter(([file]) => !tooling.some((t) => file.startsWith(t)))
      .flatMap(([file, targets]) => targets.filter((t) => tooling.some((d) => t.startsWith(d))).map((t) => `${file} → ${t}`));
    assert.deepEqual(reaching, []);
    assert.ok([...graph.keys()].some((f) => f.startsWith('sim/')) && [...graph.keys()].some((f) => f.startsWith('lib/')), 'sim/ and lib/ are read');
  });
});
