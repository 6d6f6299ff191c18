// The device's production node_modules for one architecture: `npm install --omit=dev` of exactly
// the packages the device's code requires, at the versions of the project's package-lock.json,
// with npm choosing that architecture's optional native packages (--os/--cpu/--libc) — then the
// files no device process can load are removed (other platforms' native binaries, native
// sources, type declarations), each group's size measured. Cached per input hash: npm is slow.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
  const declarations: string[] = [];
  walk(nodeModules, (f) => {
    if (/\.d\.[cm]?ts$|\.d\.ts\.map$|\.js\.map$|\.tsbuildinfo$/.test(f)) declarations.push(f);
  });
  steps.push({ what: 'type declarations and source maps', why: 'node never reads .d.ts; source maps are read only with --enable-source-maps, which the units do not set', bytes: removeAll(declarations) });
  return steps;
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
  const pruneSource = readFileSync(__filename);
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
