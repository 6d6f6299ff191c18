// common/ holds what workflow code may import: the modules named in common/workflowImports.json
// (which eslint.config.mjs lets workflows/ import at run time) load no Node built-in and no zod,
// themselves or through anything they import; no common/ module loads a Node built-in or a package
// other than the workflow-safe ones (`packages`): Node-only helpers live in lib/.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import { resolveProjectImport, runtimeImports } from '../helpers/importGraph';

const ROOT = path.resolve(__dirname, '..', '..');
const listed = JSON.parse(readFileSync(path.join(ROOT, 'common', 'workflowImports.json'), 'utf8')) as { mayImport: string[]; packages: string[] };
const allowed = listed.mayImport;
const COMMON_MODULES = readdirSync(path.join(ROOT, 'common')).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3));
const NODE = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
/** Packages workflow code must not run: zod's schemas, and the SDK parts that are not the workflow sandbox's. */
const FORBIDDEN_PACKAGES = [/^zod(\/|$)/, /^@temporalio\/(worker|client|activity|testing)(\/|$)/];

/** What a file loads at run time, transitively: each outside module with the project file that loads it. */
function loads(file: string, seen = new Set<string>()): Array<{ module: string; by: string }> {
  if (seen.has(file)) return [];
  seen.add(file);
  const out: Array<{ module: string; by: string }> = [];
  for (const spec of runtimeImports(file, readFileSync(file, 'utf8'))) {
    const local = resolveProjectImport(file, spec);
    if (local) out.push(...loads(local, seen));
    else if (!spec.startsWith('.')) out.push({ module: spec, by: path.relative(ROOT, file) });
  }
  return out;
}

describe('what workflow code may import from common/', () => {
  it('reads runtime imports only: type-only imports and re-exports are erased', () => {
    const text = [
      "import type { A } from './a';",
      "import { type B, type C } from './bc';",
      "import { d, type E } from './de';",
      "export type { F } from './f';",
      "export { g } from './g';",
      "import 'zod';",
    ].join('\n');
    assert.deepEqual(runtimeImports('x.ts', text), ['./de', './g', 'zod']);
  });

  it('names modules that exist', () => {
    for (const name of allowed) assert.ok(resolveProjectImport(path.join(ROOT, 'common', 'x.ts'), `./${name}`), `common/${name}.ts`);
  });

  it('every module on the list loads no Node built-in and no zod, however deep', () => {
    const offending = allowed.flatMap((name) =>
      loads(path.join(ROOT, 'common', `${name}.ts`))
        .filter((l) => NODE.has(l.module) || FORBIDDEN_PACKAGES.some((p) => p.test(l.module)))
        .map((l) => `common/${name}.ts loads ${l.module} (in ${l.by})`));
    assert.deepEqual(offending, []);
  });

  it('the modules left off the list are the ones that need Node or zod (so the list is not merely short)', () => {
    const leftOff = COMMON_MODULES.filter((name) => !allowed.includes(name));
    assert.deepEqual(leftOff.sort(), ['gateSchemas', 'request']);
    for (const name of leftOff) {
      assert.ok(!allowed.includes(name), name);
      const found = loads(path.join(ROOT, 'common', `${name}.ts`)).filter((l) => NODE.has(l.module) || FORBIDDEN_PACKAGES.some((p) => p.test(l.module)));
      assert.ok(found.length > 0, `common/${name}.ts should need Node or zod`);
    }
  });

  it('no common/ module loads a Node built-in or a Node-only package, however deep (those helpers live in lib/)', () => {
    const packageOf = (spec: string): string => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
    const offending = COMMON_MODULES.flatMap((name) =>
      loads(path.join(ROOT, 'common', `${name}.ts`))
        .filter((l) => NODE.has(l.module) || !listed.packages.includes(packageOf(l.module)))
        .map((l) => `common/${name}.ts loads ${l.module} (in ${l.by})`));
    assert.deepEqual(offending, []);
    assert.ok(COMMON_MODULES.length > 10, `read ${COMMON_MODULES.length} modules`);
  });

  it('no common/ module imports outside common/', () => {
    const outside = COMMON_MODULES.flatMap((name) => {
      const file = path.join(ROOT, 'common', `${name}.ts`);
      return runtimeImports(file, readFileSync(file, 'utf8'))
        .map((spec) => resolveProjectImport(file, spec))
        .filter((f): f is string => f !== undefined && path.dirname(f) !== path.join(ROOT, 'common'))
        .map((f) => `common/${name}.ts imports ${path.relative(ROOT, f)}`);
    });
    assert.deepEqual(outside, []);
  });
});
