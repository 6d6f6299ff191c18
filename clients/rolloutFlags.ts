// `edgeship start`'s fleet-rollout flags → the request's `rollout` (common/request.ts). Pure: the
// flags are checked for shape here (a number where a number goes, a duration where a duration
// goes) and merged over the request file's rollout; the request schema judges the values (ranges,
// canary ids in `devices`, percentages), so a flag and a request file are refused alike.
import { msToNumber } from '@temporalio/common/lib/time';
import { OFFLINE_POLICIES, ON_HALT } from '../common/rollout';

/** The flags as commander hands them over (every value a string). */
export interface RolloutFlags {
  canary?: string;
  waves?: string;
  maxParallel?: string;
  soak?: string;
  haltMaxFailed?: string;
  haltMaxFailedPercent?: string;
  haltMinDone?: string;
  onHalt?: string;
  approveEachWave?: boolean;
  offline?: string;
  offlineAfter?: string;
  rolloutDeadline?: string;
}

/** Flag name → the request field it sets (for help, errors and the schema's issues). */
export const ROLLOUT_FLAGS: Record<keyof RolloutFlags, { flag: string; field: string }> = {
  canary: { flag: '--canary', field: 'rollout.canary' },
  waves: { flag: '--waves', field: 'rollout.waves' },
  maxParallel: { flag: '--max-parallel', field: 'rollout.maxParallel' },
  soak: { flag: '--soak', field: 'rollout.soak' },
  haltMaxFailed: { flag: '--halt-max-failed', field: 'rollout.halt.maxFailed' },
  haltMaxFailedPercent: { flag: '--halt-max-failed-percent', field: 'rollout.halt.maxFailedPercent' },
  haltMinDone: { flag: '--halt-min-done', field: 'rollout.halt.minDoneForPercent' },
  onHalt: { flag: '--on-halt', field: 'rollout.onHalt' },
  approveEachWave: { flag: '--approve-each-wave', field: 'rollout.approval' },
  offline: { flag: '--offline', field: 'rollout.offline' },
  offlineAfter: { flag: '--offline-after', field: 'rollout.offlineAfter' },
  rolloutDeadline: { flag: '--rollout-deadline', field: 'rollout.deadline' },
};

/** A rollout flag whose value has the wrong shape: the message names the flag and the value. */
export class RolloutFlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RolloutFlagError';
  }
}

const KEYS = Object.keys(ROLLOUT_FLAGS) as Array<keyof RolloutFlags>;

export function hasRolloutFlags(flags: RolloutFlags): boolean {
  return KEYS.some((k) => flags[k] !== undefined && flags[k] !== false);
}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const show = (v: string): string => JSON.stringify(v);

function wholeNumber(key: keyof RolloutFlags, value: string): number {
  const v = value.trim();
  if (!/^\d+$/.test(v)) throw new RolloutFlagError(`${ROLLOUT_FLAGS[key].flag}: expected a whole number, got ${show(value)}`);
  return Number(v);
}

function decimal(key: keyof RolloutFlags, value: string): number {
  const v = value.trim().replace(/%$/, '');
  if (!/^\d+(\.\d+)?$/.test(v)) throw new RolloutFlagError(`${ROLLOUT_FLAGS[key].flag}: expected a number such as 10 or 2.5, got ${show(value)}`);
  return Number(v);
}

/**
 * A duration as the request takes it: digits are milliseconds, else an `ms` string ("90s",
 * "30m", "24h") left for the schema to turn into milliseconds. `zero`: "0" (or "0s") means none.
 */
function duration(key: keyof RolloutFlags, value: string, zero = false): number | string {
  const v = value.trim();
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n === 0 && !zero) throw new RolloutFlagError(`${ROLLOUT_FLAGS[key].flag}: expected a positive duration, got ${show(value)}`);
    return n;
  }
  let ms = Number.NaN;
  try {
    ms = msToNumber(v as Parameters<typeof msToNumber>[0]);
  } catch {
    // reported below
  }
  if (!Number.isFinite(ms) || ms < 0 || (ms === 0 && !zero)) {
    throw new RolloutFlagError(`${ROLLOUT_FLAGS[key].flag}: expected ${zero ? 'a duration (0 for none)' : 'a positive duration'} in milliseconds or such as 90s, 30m, 24h; got ${show(value)}`);
  }
  return ms === 0 ? 0 : v;
}

function choice<T extends string>(key: keyof RolloutFlags, value: string, choices: readonly T[]): T {
  const v = value.trim();
  if (!(choices as readonly string[]).includes(v)) throw new RolloutFlagError(`${ROLLOUT_FLAGS[key].flag}: expected one of ${choices.join(', ')}; got ${show(value)}`);
  return v as T;
}

function list(key: keyof RolloutFlags, value: string): string[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.length === 0 || items.some((s) => s === '')) throw new RolloutFlagError(`${ROLLOUT_FLAGS[key].flag}: expected a comma-separated list without empty items, got ${show(value)}`);
  return items;
}

/** `--canary 2` → {count: 2}; `--canary pi-03,pi-07` → ["pi-03", "pi-07"]. */
export function canaryFlag(value: string): { count: number } | string[] {
  if (/^\s*\d+\s*$/.test(value)) return { count: Number(value.trim()) };
  return list('canary', value);
}

/** `--waves 2,25%,50%` → [2, "25%", "50%"]: device counts, or percentages of the whole fleet. */
export function wavesFlag(value: string): Array<number | string> {
  return list('waves', value).map((item) => {
    if (/^\d+$/.test(item)) return Number(item);
    if (/^\d+(\.\d+)?%$/.test(item)) return item;
    throw new RolloutFlagError(`--waves: each item is a device count or a percentage of the fleet such as 25%; got ${show(item)} in ${show(value)}`);
  });
}

/**
 * The request's `rollout` with the flags merged over the file's (`halt` field by field, like
 * the other sections); undefined when no rollout flag is given (the file's rollout, if any, stands).
 */
export function rolloutFromFlags(flags: RolloutFlags, fileRollout?: unknown): Record<string, unknown> | undefined {
  if (!hasRolloutFlags(flags)) return undefined;
  const rollout: Record<string, unknown> = isObject(fileRollout) ? { ...fileRollout } : {};
  if (flags.canary !== undefined) rollout.canary = canaryFlag(flags.canary);
  if (flags.waves !== undefined) rollout.waves = wavesFlag(flags.waves);
  if (flags.maxParallel !== undefined) rollout.maxParallel = wholeNumber('maxParallel', flags.maxParallel);
  if (flags.soak !== undefined) rollout.soak = duration('soak', flags.soak, true);
  if (flags.haltMaxFailed !== undefined || flags.haltMaxFailedPercent !== undefined || flags.haltMinDone !== undefined) {
    const halt: Record<string, unknown> = isObject(rollout.halt) ? { ...rollout.halt } : {};
    if (flags.haltMaxFailed !== undefined) halt.maxFailed = wholeNumber('haltMaxFailed', flags.haltMaxFailed);
    if (flags.haltMaxFailedPercent !== undefined) halt.maxFailedPercent = decimal('haltMaxFailedPercent', flags.haltMaxFailedPercent);
    if (flags.haltMinDone !== undefined) halt.minDoneForPercent = wholeNumber('haltMinDone', flags.haltMinDone);
    rollout.halt = halt;
  }
  if (flags.onHalt !== undefined) rollout.onHalt = choice('onHalt', flags.onHalt, ON_HALT);
  if (flags.approveEachWave) rollout.approval = 'every-wave';
  if (flags.offline !== undefined) rollout.offline = choice('offline', flags.offline, OFFLINE_POLICIES);
  if (flags.offlineAfter !== undefined) rollout.offlineAfter = duration('offlineAfter', flags.offlineAfter);
  if (flags.rolloutDeadline !== undefined) rollout.deadline = duration('rolloutDeadline', flags.rolloutDeadline);
  return rollout;
}

/**
 * Sets `raw.rollout` from the flags (over the file's), in place, and refuses flags that
 * contradict the rest of the request: --approve-each-wave when approval is turned off.
 */
export function applyRolloutFlags(raw: Record<string, unknown>, flags: RolloutFlags): Record<string, unknown> {
  const rollout = rolloutFromFlags(flags, raw.rollout);
  if (rollout === undefined) return raw;
  if (flags.approveEachWave && isObject(raw.approval) && raw.approval.required === false) {
    throw new RolloutFlagError('--approve-each-wave asks for a decision before every wave, but approval is turned off (--no-approval or approval.required false)');
  }
  raw.rollout = rollout;
  return raw;
}

/**
 * The schema's issue "rollout.maxParallel: Too small…" with the flag that set the field:
 * "rollout.maxParallel (--max-parallel): Too small…". Other issues come back as they are.
 */
export function withFlagName(issue: string, flags: RolloutFlags): string {
  let best: { flag: string; field: string } | undefined;
  for (const k of KEYS) {
    if (flags[k] === undefined || flags[k] === false) continue;
    const f = ROLLOUT_FLAGS[k];
    const hit = issue.startsWith(`${f.field}:`) || issue.startsWith(`${f.field}.`);
    if (hit && (!best || f.field.length > best.field.length)) best = f;
  }
  if (!best) return issue;
  const colon = issue.indexOf(':');
  return `${issue.slice(0, colon)} (${best.flag})${issue.slice(colon)}`;
}
