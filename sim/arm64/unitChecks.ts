// What the chroot cannot mirror of a unit (its sandboxing: ProtectSystem=, SystemCallFilter=, …)
// is checked on the installed unit file itself by this machine's systemd-analyze (Debian's
// systemd): `verify` (the file parses, its binaries exist in the root) and `security --offline`
// (the exposure score systemd computes from those directives).
import { spawnSync } from 'node:child_process';
import { findExecutable } from '../keys';

export interface UnitCheck {
  unit: string;
  /** verify's complaints about this unit (empty: none). */
  verifyProblems: string[];
  /** `security --offline`'s overall exposure (0 = most locked down, 10 = least) and its word. */
  exposure: number;
  rating: string;
  systemdVersion: string;
}

export function findSystemdAnalyze(): string | undefined {
  return findExecutable('systemd-analyze');
}

export function checkInstalledUnit(rootDir: string, unit: string, analyze: string): UnitCheck {
  const systemdVersion = spawnSync(analyze, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0].trim();
  const verify = spawnSync(analyze, ['verify', `--root=${rootDir}`, unit], { encoding: 'utf8' });
  // verify also loads the root's other units (and warns about keys newer than this systemd): only
  // lines about this unit count.
  const base = unit.replace(/\.service$/, '');
  const verifyProblems = `${verify.stdout}\n${verify.stderr}`.split('\n').filter((l) => l.includes(base));
  if (verify.status !== 0 && verifyProblems.length === 0) verifyProblems.push(`systemd-analyze verify exited ${verify.status}: ${verify.stderr.trim().slice(-500)}`);
  const security = spawnSync(analyze, ['security', '--offline=true', `--root=${rootDir}`, '--no-pager', unit], { encoding: 'utf8' });
  const m = /Overall exposure level for \S+: ([\d.]+) (\w+)/.exec(security.stdout);
  if (!m) throw new Error(`systemd-analyze security gave no exposure for ${unit} (exit ${security.status}): ${security.stderr.trim().slice(-500)}`);
  return { unit, verifyProblems, exposure: Number(m[1]), rating: m[2], systemdVersion };
}
