// The amd64 device package for tests and benches: built once and reused while no source it is
// made from has changed (a build costs minutes on a shared machine), then extracted with
// `dpkg-deb -x` into a scratch root whose usr/bin/edgeship-device runs in place.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildDevicePackage } from '../build-deb';
import type { DebArch } from './nodeModules';

const ROOT = path.resolve(__dirname, '..', '..');
const SOURCES = ['device', 'edge', 'activities/edge', 'workers', 'common', 'lib', 'packaging', 'docs/install-device.md', 'package.json', 'package-lock.json', '.npmrc', 'tsconfig.json', 'tsconfig.build.json'];

function newestMtime(p: string): number {
  const st = statSync(p, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.mtimeMs;
  return readdirSync(p).reduce((m, e) => Math.max(m, newestMtime(path.join(p, e))), st.mtimeMs);
}

/** EDGESHIP_DEVICE_DEB if set; else test-artifacts/device-package/<deb>, rebuilt when a source is newer. */
export function ensureDevicePackage(arch: DebArch = 'amd64', log: (line: string) => void = () => undefined): string {
  if (process.env.EDGESHIP_DEVICE_DEB) return process.env.EDGESHIP_DEVICE_DEB;
  const out = path.join(ROOT, 'test-artifacts', 'device-package');
  mkdirSync(out, { recursive: true });
  const existing = readdirSync(out).find((f) => f.endsWith(`_${arch}.deb`));
  const sourcesAt = Math.max(...SOURCES.map((s) => newestMtime(path.join(ROOT, s))));
  if (existing && statSync(path.join(out, existing)).mtimeMs > sourcesAt) return path.join(out, existing);
  log(`building the ${arch} device package (sources changed since the last build)`);
  return buildDevicePackage({ arch, out, log }).deb;
}

/** `dpkg-deb -x` into a fresh directory; returns that root (root/usr/bin/edgeship-device runs from it). */
export function extractPackage(deb: string, parent = tmpdir()): string {
  const root = mkdtempSync(path.join(parent, 'edgeship-device-root-'));
  execFileSync('dpkg-deb', ['-x', deb, root]);
  if (!existsSync(path.join(root, 'usr/bin/edgeship-device'))) throw new Error(`${deb} has no usr/bin/edgeship-device`);
  return root;
}

/** How a unit starts its process: ExecStart's argv (rooted at `root`) and its Environment= settings. */
export function unitCommand(root: string, unit: string): { argv: string[]; env: Record<string, string> } {
  const text = readFileSync(path.join(root, 'lib/systemd/system', unit), 'utf8');
  const line = /^ExecStart=(.+)$/m.exec(text);
  if (!line) throw new Error(`${unit} has no ExecStart`);
  const argv = line[1].trim().split(/\s+/);
  const env: Record<string, string> = {};
  // Environment=A=1 "B=2 3": whitespace-separated assignments, one with spaces in double quotes
  // (what our units use; systemd's full rules, escapes included: sim/arm64/unitFile.ts).
  for (const m of text.matchAll(/^Environment=(.+)$/gm)) {
    for (const word of m[1].trim().match(/"[^"]*"|\S+/g) ?? []) {
      const pair = word.startsWith('"') ? word.slice(1, -1) : word;
      const eq = pair.indexOf('=');
      if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return { argv: [path.join(root, argv[0]), ...argv.slice(1)], env };
}
