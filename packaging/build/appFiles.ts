// Which compiled files the device needs: the require() closure of the edgeship-device entry point
// (and the inference worker thread's entry, loaded by path), computed from the emitted JavaScript.
// Nothing is listed by hand, so GPU-side code cannot slip in, and the npm packages the closure
// requires are exactly the device's production dependencies.
import { readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';

export interface AppClosure {
  /** Paths relative to the dist root, e.g. device/cli.js. */
  files: string[];
  /** Top-level npm packages required by those files, e.g. @temporalio/worker, zod. */
  packages: string[];
}

const REQUIRE = /\brequire\((['"])([^'"]+)\1\)/g;
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

function resolveRelative(fromFile: string, spec: string): string | null {
  const base = path.resolve(path.dirname(fromFile), spec);
  for (const candidate of [base, `${base}.js`, path.join(base, 'index.js')]) {
    if (statSync(candidate, { throwIfNoEntry: false })?.isFile()) return candidate;
  }
  return null;
}

export function appClosure(distDir: string, entries: string[]): AppClosure {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = entries.map((e) => path.join(distDir, e));
  while (queue.length > 0) {
    const file = queue.pop() as string;
    const rel = path.relative(distDir, file);
    if (files.has(rel)) continue;
    files.add(rel);
    if (!file.endsWith('.js')) continue; // package.json
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(REQUIRE)) {
      const spec = m[2];
      if (builtins.has(spec)) continue;
      if (spec.startsWith('.')) {
        const target = resolveRelative(file, spec);
        if (!target) throw new Error(`${rel} requires ${spec}, which is not in ${distDir}`);
        if (!path.relative(distDir, target).startsWith('..')) queue.push(target);
        continue;
      }
      packages.add(packageName(spec));
    }
  }
  return { files: [...files].sort(), packages: [...packages].sort() };
}
