// The device's production node_modules for one architecture: `npm install --omit=dev` of exactly
// the packages the device's code requires, at the versions of the project's package-lock.json,
// with npm choosing that architecture's optional native packages (--os/--cpu/--libc) — then the
// files no device process can load are removed (other platforms' native binaries, native
// sources, type declarations), each group's size measured. Cached per input hash: npm is slow.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

export type DebArch = 'arm64' | 'amd64';
export const NODE_CPU: Record<DebArch, string> = { arm64: 'arm64', amd64: 'x64' };
const CORE_BRIDGE_TRIPLE: Record<DebArch, string> = { arm64: 'aarch64-unknown-linux-gnu', amd64: 'x86_64-unknown-linux-gnu' };

export function treeBytes(p: string): number {
  if (!existsSync(p)) return 0;
  const st = statSync(p, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  return readdirSync(p).reduce((sum, e) => sum + treeBytes(path.join(p, e)), 0);
}

export interface PruneStep {
  what: string;
  why: string;
  bytes: number;
}

function walk(dir: string, visit: (file: string) => void): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, visit);
    else visit(p);
  }
}

function removeAll(paths: string[]): number {
  let bytes = 0;
  for (const p of paths) {
    bytes += treeBytes(p);
    rmSync(p, { recursive: true, force: true });
  }
  return bytes;
}

/**
 * Removes what no device process loads. Each group says why it cannot be loaded; the packaged
 * worker and runtime starting and serving from the result (test/integration/device-package.test.ts)
 * is the proof that nothing needed went.
 */
export function prune(nodeModules: string, arch: DebArch): PruneStep[] {
  const steps: PruneStep[] = [];
  const ort = path.join(nodeModules, 'onnxruntime-node', 'bin', 'napi-v6');
  if (existsSync(ort)) {
    const other = readdirSync(ort).flatMap((platform) => (platform === 'linux' ? readdirSync(path.join(ort, platform)).filter((cpu) => cpu !== NODE_CPU[arch]).map((cpu) => path.join(ort, platform, cpu)) : [path.join(ort, platform)]));
    steps.push({ what: 'onnxruntime-node: other platforms\' binaries', why: `onnxruntime-node loads bin/napi-v6/linux/${NODE_CPU[arch]} only`, bytes: removeAll(other) });
  }
  const bridge = path.join(nodeModules, '@temporalio', 'core-bridge');
  if (existsSync(bridge)) {
    const releases = path.join(bridge, 'releases');
    const other = readdirSync(releases).filter((t) => t !== CORE_BRIDGE_TRIPLE[arch]).map((t) => path.join(releases, t));
    steps.push({ what: '@temporalio/core-bridge: other platforms\' binaries', why: `index.js loads releases/${CORE_BRIDGE_TRIPLE[arch]}/index.node only`, bytes: removeAll(other) });
    steps.push({ what: '@temporalio/core-bridge: Rust sources', why: 'sdk-core/, src/, bridge-macros/, Cargo.* are for building the bridge from source', bytes: removeAll(['sdk-core', 'src', 'bridge-macros', 'Cargo.toml', 'Cargo.lock', 'scripts'].map((p) => path.join(bridge, p))) });
  }
  // @swc/core (a native compiler, per platform) is loaded only by swc-loader, and swc-loader only
  // by webpack while bundling workflow code (bundler.js names it by require.resolve, a path, when
  // it builds a webpack config). The device's worker registers activities only and never bundles.
  steps.push({ what: '@swc/* and swc-loader', why: 'loaded only when a worker bundles workflow code; the edge worker registers activities only', bytes: removeAll([path.join(nodeModules, '@swc'), path.join(nodeModules, 'swc-loader')]) });
  steps.push(...replaceWorkflowBundler(nodeModules));
  const declarations: string[] = [];
  walk(nodeModules, (f) => {
    if (/\.d\.[cm]?ts$|\.d\.ts\.map$|\.js\.map$|\.tsbuildinfo$/.test(f)) declarations.push(f);
  });
  steps.push({ what: 'type declarations and source maps', why: 'node never reads .d.ts; source maps are read only with --enable-source-maps, which the units do not set', bytes: removeAll(declarations) });
  return steps;
}

export const BUNDLER_STUB = path.join(__dirname, 'workflowBundlerStub.js');
/** What only the SDK's workflow bundler requires (@temporalio/worker's package.json dependencies). */
const BUNDLER_ONLY = ['webpack', 'memfs', 'unionfs', 'swc-loader', 'source-map-loader', '@swc/core'];

interface PackageJson {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/**
 * The top-level packages of `nodeModules` that `roots` need, following package.json dependencies
 * (a dependency nested under its dependent's own node_modules is part of that package), except
 * the edges `cut` names as "dependent>dependency".
 */
export function reachablePackages(nodeModules: string, roots: string[], cut: Set<string>): Set<string> {
  const seen = new Set<string>();
  const visit = (dir: string, name: string): void => {
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as PackageJson;
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies, ...pkg.peerDependencies })) {
      if (cut.has(`${name}>${dep}`)) continue;
      const nested = path.join(dir, 'node_modules', dep);
      if (existsSync(path.join(nested, 'package.json'))) {
        visit(nested, dep);
        continue;
      }
      if (seen.has(dep) || !existsSync(path.join(nodeModules, dep, 'package.json'))) continue;
      seen.add(dep);
      visit(path.join(nodeModules, dep), dep);
    }
  };
  for (const r of roots) {
    if (!existsSync(path.join(nodeModules, r, 'package.json'))) continue;
    seen.add(r);
    visit(path.join(nodeModules, r), r);
  }
  return seen;
}

function topLevelPackages(nodeModules: string): string[] {
  return readdirSync(nodeModules).filter((e) => !e.startsWith('.')).flatMap((e) => (e.startsWith('@') ? readdirSync(path.join(nodeModules, e)).map((s) => `${e}/${s}`) : [e]));
}

/** The names a TypeScript-emitted CommonJS module exports (`exports.X =` before its first require). */
export function declaredExports(js: string): string[] {
  const firstRequire = js.search(/\brequire\(/);
  const header = firstRequire < 0 ? js : js.slice(0, firstRequire);
  return [...new Set([...header.matchAll(/\bexports\.(\w+)\s*=/g)].map((m) => m[1]))].sort();
}

/**
 * Replaces @temporalio/worker's workflow bundler with workflowBundlerStub.js (same exports; it
 * throws WorkflowBundlingNotInPackage instead of bundling) and removes what only the bundler
 * needed: webpack, memfs, unionfs and their own dependencies. Refuses, failing the build, an SDK
 * whose bundler exports other names than the stub (a new SDK version must be looked at again).
 */
export function replaceWorkflowBundler(nodeModules: string): PruneStep[] {
  const bundler = path.join(nodeModules, '@temporalio', 'worker', 'lib', 'workflow', 'bundler.js');
  if (!existsSync(bundler)) return [];
  // The original is read, not loaded: it loads the core bridge, whose binary for another
  // architecture cannot load here. TypeScript declares every export before the first require().
  const original = declaredExports(readFileSync(bundler, 'utf8'));
  writeFileSync(bundler, readFileSync(BUNDLER_STUB));
  // The stub loads nothing but node:module (and resolves a path), so it is loaded to be sure.
  const load = createRequire(bundler);
  delete load.cache[bundler];
  const replaced = Object.keys(load(bundler) as Record<string, unknown>).sort();
  delete load.cache[bundler];
  if (original.length === 0 || original.join() !== replaced.join()) {
    throw new Error(`@temporalio/worker's workflow/bundler.js exports [${original.join(', ')}], the device package's stub (${BUNDLER_STUB}) [${replaced.join(', ')}]: update the stub for this SDK version`);
  }
  const manifest = JSON.parse(readFileSync(path.join(nodeModules, '..', 'package.json'), 'utf8')) as PackageJson;
  const keep = reachablePackages(nodeModules, Object.keys(manifest.dependencies ?? {}), new Set(BUNDLER_ONLY.map((d) => `@temporalio/worker>${d}`)));
  const unused = topLevelPackages(nodeModules).filter((p) => !keep.has(p));
  const bytes = removeAll([...unused.map((p) => path.join(nodeModules, p)), path.join(path.dirname(bundler), 'bundler')]);
  for (const scope of readdirSync(nodeModules).filter((e) => e.startsWith('@'))) {
    if (readdirSync(path.join(nodeModules, scope)).length === 0) rmSync(path.join(nodeModules, scope), { recursive: true });
  }
  return [{ what: `workflow bundler: ${unused.length} packages (webpack, memfs, unionfs and what only they need)`, why: 'the edge worker registers activities only; @temporalio/worker/lib/workflow/bundler.js is replaced by a stub that says bundling is not in the package', bytes }];
}

export interface StagedModules {
  dir: string;
  installedBytes: number;
  prunedBytes: number;
  steps: PruneStep[];
  cached: boolean;
}

/** node_modules for `deps` on `arch`, from cache when the same inputs were installed before. */
export function stageNodeModules(opts: { projectRoot: string; cacheDir: string; arch: DebArch; manifest: Record<string, unknown>; log: (line: string) => void }): StagedModules {
  const lock = readFileSync(path.join(opts.projectRoot, 'package-lock.json'));
  const npmrc = readFileSync(path.join(opts.projectRoot, '.npmrc'));
  const pruneSource = Buffer.concat([readFileSync(__filename), readFileSync(BUNDLER_STUB)]);
  const key = createHash('sha256').update(JSON.stringify(opts.manifest)).update(lock).update(npmrc).update(pruneSource).update(opts.arch).digest('hex').slice(0, 16);
  const dir = path.join(opts.cacheDir, `node_modules-${opts.arch}-${key}`);
  const reportFile = `${dir}.json`;
  if (existsSync(dir) && existsSync(reportFile)) {
    return { ...(JSON.parse(readFileSync(reportFile, 'utf8')) as Omit<StagedModules, 'dir' | 'cached'>), dir, cached: true };
  }
  const work = `${dir}.tmp-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  writeFileSync(path.join(work, 'package.json'), `${JSON.stringify(opts.manifest, null, 2)}\n`);
  writeFileSync(path.join(work, 'package-lock.json'), lock);
  // Keeps onnxruntime-node-install=skip: its install script would fetch CUDA libraries.
  writeFileSync(path.join(work, '.npmrc'), npmrc);
  opts.log(`npm install --omit=dev --os=linux --cpu=${NODE_CPU[opts.arch]} (locked versions) in ${work}`);
  // --ignore-scripts: no package the device uses needs one (the native ones ship prebuilt binaries),
  // and a script built for the build host's architecture would be wrong for the target anyway.
  execFileSync('npm', ['install', '--omit=dev', '--os=linux', `--cpu=${NODE_CPU[opts.arch]}`, '--libc=glibc', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: work, stdio: ['ignore', 'inherit', 'inherit'] });
  const nodeModules = path.join(work, 'node_modules');
  const installedBytes = treeBytes(nodeModules);
  const steps = prune(nodeModules, opts.arch);
  const prunedBytes = treeBytes(nodeModules);
  rmSync(dir, { recursive: true, force: true });
  renameSync(nodeModules, dir);
  rmSync(work, { recursive: true, force: true });
  const report = { installedBytes, prunedBytes, steps };
  writeFileSync(reportFile, JSON.stringify(report, null, 2));
  return { ...report, dir, cached: false };
}

export function copyTree(from: string, to: string): void {
  cpSync(from, to, { recursive: true, verbatimSymlinks: true });
}
