// Reads a systemd service unit the way systemd does for the parts the arm64 proof mirrors in a
// chroot (where systemd is not PID 1): ExecStartPre/ExecStart (quoting, prefixes), User, Group,
// SupplementaryGroups, Environment, EnvironmentFile, WorkingDirectory, NoNewPrivileges, Restart,
// RestartSec. Every other [Service] directive is listed as not mirrored (the sandboxing ones are
// what `systemd-analyze verify/security` checks on the real unit file instead).

export interface ServiceUnit {
  /** ExecStartPre command lines in order; `ignoreFailure` for the `-` prefix. */
  execStartPre: Array<{ argv: string[]; ignoreFailure: boolean }>;
  execStart: string[];
  user?: string;
  group?: string;
  supplementaryGroups: string[];
  /** Environment= assignments in order (later ones win). */
  environment: Record<string, string>;
  /** EnvironmentFile= paths; `optional` for the `-` prefix. */
  environmentFiles: Array<{ path: string; optional: boolean }>;
  workingDirectory?: string;
  noNewPrivileges: boolean;
  restart: string;
  restartSecMs: number;
  /** RestartPreventExitStatus= exit codes after which it is not restarted (e.g. 2: a bad config file). */
  restartPreventExitStatus: number[];
  /** UMask= (default 0022, systemd's). */
  umask: number;
  /** TimeoutStopSec=: SIGTERM, then SIGKILL after this long (default 90 s, systemd's). */
  timeoutStopMs: number;
  /** [Unit] ConditionPathExists= paths: systemd skips the unit when one is missing (`!` negates). */
  conditionPathExists: string[];
  /** `[Section] Key=value` lines of directives this mirror does not apply. */
  notMirrored: string[];
}

export class UnitFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnitFileError';
  }
}

const RESTART_VALUES = ['no', 'always', 'on-success', 'on-failure', 'on-abnormal', 'on-abort'];
const MIRRORED = new Set(['UMask', 'TimeoutStopSec', 'RestartPreventExitStatus', 'ExecStartPre', 'ExecStart', 'User', 'Group', 'SupplementaryGroups', 'Environment', 'EnvironmentFile', 'WorkingDirectory', 'NoNewPrivileges', 'Restart', 'RestartSec', 'Type']);
// [Unit]/[Install] keys that only order or describe a unit: nothing to mirror in a process.
const DESCRIPTIVE = new Set(['Description', 'Documentation', 'After', 'Before', 'Wants', 'Requires', 'WantedBy', 'PartOf']);

/** Splits a systemd command line or Environment= value into words (systemd.syntax "Quoting"). */
export function splitUnitWords(text: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i])) i++;
    if (i >= text.length) break;
    let word = '';
    while (i < text.length && !/\s/.test(text[i])) {
      const c = text[i];
      if (c === '"' || c === "'") {
        let end = i + 1;
        while (end < text.length && text[end] !== c) end += text[end] === '\\' ? 2 : 1;
        if (end >= text.length) throw new UnitFileError(`unbalanced ${c} in: ${text}`);
        word += unescape(text.slice(i + 1, end));
        i = end + 1;
      } else if (c === '\\' && i + 1 < text.length) {
        word += unescape(text.slice(i, i + 2));
        i += 2;
      } else {
        word += c;
        i++;
      }
    }
    words.push(word);
  }
  return words;
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, (_m, ch: string) => ({ n: '\n', t: '\t', '"': '"', "'": "'", '\\': '\\', ' ': ' ' } as Record<string, string>)[ch] ?? ch);
}

/** `%%` → `%`; any other specifier is refused rather than passed on literally. */
function specifiers(word: string, unitName: string): string {
  return word.replace(/%(.)/g, (_m, s: string) => {
    if (s === '%') return '%';
    if (s === 'n') return unitName;
    throw new UnitFileError(`${unitName}: specifier %${s} is not mirrored; extend sim/arm64/unitFile.ts`);
  });
}

function execLine(value: string, unitName: string): { argv: string[]; ignoreFailure: boolean } {
  let rest = value.trim();
  let ignoreFailure = false;
  // Prefixes: "-" ignore failure; "@" argv[0] differs; ":" "+" "!" "!!" privilege tweaks.
  for (;;) {
    const m = /^(-|@|:|\+|!!|!)/.exec(rest);
    if (!m) break;
    if (m[1] === '-') ignoreFailure = true;
    else throw new UnitFileError(`${unitName}: the ExecStart prefix ${m[1]} is not mirrored`);
    rest = rest.slice(m[1].length);
  }
  const argv = splitUnitWords(rest).map((w) => specifiers(w, unitName));
  if (argv.length === 0 || !argv[0].startsWith('/')) throw new UnitFileError(`${unitName}: ExecStart must name an absolute path: ${value}`);
  return { argv, ignoreFailure };
}

function parseBool(value: string): boolean {
  return /^(1|yes|true|on)$/i.test(value.trim());
}

function parseSeconds(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|sec|min)?$/.exec(value.trim());
  if (!m) throw new UnitFileError(`RestartSec=${value}: not a duration this mirror reads`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'min' ? n * 60_000 : n * 1000;
}

export function parseServiceUnit(text: string, unitName: string): ServiceUnit {
  const unit: ServiceUnit = { execStartPre: [], execStart: [], supplementaryGroups: [], environment: {}, environmentFiles: [], noNewPrivileges: false, restart: 'no', restartSecMs: 100, restartPreventExitStatus: [], umask: 0o022, timeoutStopMs: 90_000, conditionPathExists: [], notMirrored: [] };
  let section = '';
  let execStarts = 0;
  // Continuation lines end in a backslash.
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
  for (const raw of lines) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      section = sec[1];
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) throw new UnitFileError(`${unitName}: not a Key=value line: ${line}`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (section === 'Unit' && key === 'ConditionPathExists') {
      unit.conditionPathExists.push(value);
      continue;
    }
    if (section !== 'Service') {
      if (!DESCRIPTIVE.has(key)) unit.notMirrored.push(`[${section}] ${key}=${value}`);
      continue;
    }
    switch (key) {
      case 'ExecStartPre':
        if (value) unit.execStartPre.push(execLine(value, unitName));
        else unit.execStartPre = [];
        break;
      case 'ExecStart': {
        const { argv, ignoreFailure } = execLine(value, unitName);
        if (ignoreFailure) throw new UnitFileError(`${unitName}: "-" on ExecStart is not mirrored`);
        unit.execStart = argv;
        execStarts++;
        break;
      }
      case 'User': unit.user = value; break;
      case 'Group': unit.group = value; break;
      case 'SupplementaryGroups': unit.supplementaryGroups.push(...value.split(/\s+/).filter(Boolean)); break;
      case 'Environment':
        for (const word of splitUnitWords(value)) {
          const i = word.indexOf('=');
          if (i <= 0) throw new UnitFileError(`${unitName}: Environment= assignment without a name: ${word}`);
          unit.environment[word.slice(0, i)] = specifiers(word.slice(i + 1), unitName);
        }
        break;
      case 'EnvironmentFile':
        unit.environmentFiles.push(value.startsWith('-') ? { path: value.slice(1), optional: true } : { path: value, optional: false });
        break;
      case 'WorkingDirectory': unit.workingDirectory = value.replace(/^-/, ''); break;
      case 'NoNewPrivileges': unit.noNewPrivileges = parseBool(value); break;
      case 'Restart':
        if (!RESTART_VALUES.includes(value)) throw new UnitFileError(`${unitName}: Restart=${value} is not mirrored (${RESTART_VALUES.join(', ')})`);
        unit.restart = value;
        break;
      case 'RestartSec': unit.restartSecMs = parseSeconds(value); break;
      case 'UMask':
        if (!/^[0-7]{1,4}$/.test(value)) throw new UnitFileError(`${unitName}: UMask=${value} is not an octal mask`);
        unit.umask = parseInt(value, 8);
        break;
      case 'TimeoutStopSec': unit.timeoutStopMs = parseSeconds(value); break;
      case 'RestartPreventExitStatus':
        for (const w of value.split(/\s+/).filter(Boolean)) {
          if (!/^\d+$/.test(w)) throw new UnitFileError(`${unitName}: RestartPreventExitStatus=${w}: only exit codes are mirrored`);
          unit.restartPreventExitStatus.push(Number(w));
        }
        break;
      case 'Type':
        if (!['simple', 'exec'].includes(value)) throw new UnitFileError(`${unitName}: Type=${value} is not mirrored (simple or exec only)`);
        break;
      default:
        if (!MIRRORED.has(key)) unit.notMirrored.push(`[Service] ${key}=${value}`);
    }
  }
  if (execStarts !== 1) throw new UnitFileError(`${unitName}: expected exactly one ExecStart= in [Service], found ${execStarts}`);
  return unit;
}

/** An EnvironmentFile's assignments (KEY=VALUE lines, # comments, quoted values). */
export function parseEnvironmentFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new UnitFileError(`environment file line is not KEY=VALUE: ${line}`);
    const value = m[2];
    env[m[1]] = /^(["']).*\1$/.test(value) ? unescape(value.slice(1, -1)) : value;
  }
  return env;
}

/** Whether systemd would start the process again after it exited with `code`. */
export function restartsAfter(unit: ServiceUnit, code: number | null): boolean {
  if (code !== null && unit.restartPreventExitStatus.includes(code)) return false;
  switch (unit.restart) {
    case 'always': return true;
    case 'on-success': return code === 0;
    case 'on-failure': return code !== 0;
    // Killed by a signal (exit code null here), not a clean or unclean exit.
    case 'on-abnormal': case 'on-abort': return code === null;
    case 'no': return false;
    default: throw new UnitFileError(`Restart=${unit.restart} is not mirrored`);
  }
}
