// A small validator for the device's JSON files (device.json, model metadata, release manifests,
// swap journals): every problem, each with the path of its field, and the value with defaults
// applied. It replaces zod on the device: requiring zod costs about 12 MiB of RSS in each device
// process (95 modules), a tenth of the memory goal (docs/install-device.md, Memory); this file
// costs next to nothing. Plain data in, typed data out, no I/O.
//
// A schema checks a value and returns it (objects stripped of unknown fields, or for strict objects
// each unknown field reported). As in zod, a value of the wrong type stops the checks of what
// contains it (BAD), while a value of the right type that breaks a rule (a pattern, a range, a
// length) is reported and checking goes on, so an object's own rules still run and every problem
// of a file is listed at once.

export type Path = (string | number)[];

export interface Issue {
  path: Path;
  message: string;
  /** Set for a strict object's unknown fields (the device config words those specially). */
  unknownKeys?: string[];
}

const BAD: unique symbol = Symbol('invalid');
type Bad = typeof BAD;

export interface Schema<T> {
  /** The checked value (possibly with issues added), or BAD after a type error. */
  check(value: unknown, path: Path, issues: Issue[]): T | Bad;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; issues: Issue[] };

export function parse<T>(schema: Schema<T>, value: unknown): ParseResult<T> {
  const issues: Issue[] = [];
  const out = schema.check(value, [], issues);
  if (out === BAD || issues.length > 0) return { ok: false, issues };
  return { ok: true, value: out };
}

/** "a.b[2].c" as the device's messages name fields. */
export function pathText(path: Path): string {
  return path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${p}` : p), '');
}

const describe = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'string' ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v) : typeof v === 'object' ? 'an object' : String(v));

function schema<T>(check: Schema<T>['check']): Schema<T> {
  return { check };
}

type Rule<T> = [test: (v: T) => boolean, message: string];

function applyRules<T>(v: T, rules: Rule<T>[], path: Path, issues: Issue[]): T {
  for (const [test, message] of rules) if (!test(v)) issues.push({ path, message });
  return v;
}

export function string(opts: { min?: number; max?: number; pattern?: RegExp; patternMessage?: string; rules?: Rule<string>[]; typeMessage?: string } = {}): Schema<string> {
  return schema((v, path, issues) => {
    if (typeof v !== 'string') {
      issues.push({ path, message: opts.typeMessage ?? `expected a string, got ${v === undefined ? 'nothing' : describe(v)}` });
      return BAD;
    }
    const { min, max } = opts;
    if (min !== undefined && v.length < min) issues.push({ path, message: min === 1 ? 'must not be empty' : `must have at least ${min} characters` });
    if (max !== undefined && v.length > max) issues.push({ path, message: `must have at most ${max} characters` });
    if (opts.pattern && !opts.pattern.test(v)) issues.push({ path, message: opts.patternMessage ?? `must match ${opts.pattern}` });
    return applyRules(v, opts.rules ?? [], path, issues);
  });
}

export function number(opts: { int?: boolean; min?: number; max?: number; rules?: Rule<number>[]; typeMessage?: string } = {}): Schema<number> {
  return schema((v, path, issues) => {
    if (typeof v !== 'number' || Number.isNaN(v)) {
      issues.push({ path, message: opts.typeMessage ?? `expected a number, got ${v === undefined ? 'nothing' : describe(v)}` });
      return BAD;
    }
    const { min, max } = opts;
    const kind = opts.int ? 'an integer' : 'a number';
    const range = min !== undefined && max !== undefined ? ` from ${min} to ${max}` : min !== undefined ? ` ≥ ${min}` : max !== undefined ? ` ≤ ${max}` : '';
    if ((opts.int && !Number.isInteger(v)) || (min !== undefined && v < min) || (max !== undefined && v > max)) issues.push({ path, message: `must be ${kind}${range}, got ${v}` });
    return applyRules(v, opts.rules ?? [], path, issues);
  });
}

export const finiteNumber = (rules: Rule<number>[] = []): Schema<number> => number({ rules: [[Number.isFinite, 'must be a finite number'], ...rules] });

export function boolean(): Schema<boolean> {
  return schema((v, path, issues) => {
    if (typeof v === 'boolean') return v;
    issues.push({ path, message: `expected true or false, got ${v === undefined ? 'nothing' : describe(v)}` });
    return BAD;
  });
}

export function literal<const L extends string>(value: L): Schema<L> {
  return schema((v, path, issues) => {
    if (v === value) return value;
    issues.push({ path, message: `must be ${JSON.stringify(value)}, got ${v === undefined ? 'nothing' : describe(v)}` });
    return BAD;
  });
}

export function oneOf<const L extends string>(values: readonly L[], message?: string): Schema<L> {
  return schema((v, path, issues) => {
    if ((values as readonly unknown[]).includes(v)) return v as L;
    issues.push({ path, message: message ?? `must be one of ${values.join(', ')}, got ${v === undefined ? 'nothing' : describe(v)}` });
    return BAD;
  });
}

export function array<T>(item: Schema<T>, opts: { min?: number; max?: number; length?: number; minMessage?: string } = {}): Schema<T[]> {
  return schema((v, path, issues) => {
    if (!Array.isArray(v)) {
      issues.push({ path, message: `expected an array, got ${v === undefined ? 'nothing' : describe(v)}` });
      return BAD;
    }
    if (opts.length !== undefined && v.length !== opts.length) issues.push({ path, message: `must have exactly ${opts.length} items, got ${v.length}` });
    if (opts.min !== undefined && v.length < opts.min) issues.push({ path, message: opts.minMessage ?? `must have at least ${opts.min} item${opts.min === 1 ? '' : 's'}` });
    if (opts.max !== undefined && v.length > opts.max) issues.push({ path, message: `must have at most ${opts.max} items, got ${v.length}` });
    let ok = true;
    const out: T[] = [];
    for (let i = 0; i < v.length; i++) {
      const r = item.check(v[i], [...path, i], issues);
      if (r === BAD) ok = false;
      else out.push(r);
    }
    return ok ? out : BAD;
  });
}

export function record(value: Schema<string>): Schema<Record<string, string>> {
  return schema((v, path, issues) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      issues.push({ path, message: `expected an object, got ${v === undefined ? 'nothing' : describe(v)}` });
      return BAD;
    }
    let ok = true;
    const out: Record<string, string> = {};
    for (const [k, item] of Object.entries(v)) {
      const r = value.check(item, [...path, k], issues);
      if (r === BAD) ok = false;
      else out[k] = r;
    }
    return ok ? out : BAD;
  });
}

/** Absent (undefined) is allowed and stays absent. */
export function optional<T>(inner: Schema<T>): Schema<T | undefined> {
  return schema((v, path, issues) => (v === undefined ? undefined : inner.check(v, path, issues)));
}

/** Absent (undefined) becomes `fallback` (checked like any value, so an object's own defaults apply). */
export function withDefault<T>(inner: Schema<T>, fallback: unknown): Schema<T> {
  return schema((v, path, issues) => inner.check(v === undefined ? structuredClone(fallback) : v, path, issues));
}

export function nullable<T>(inner: Schema<T>): Schema<T | null> {
  return schema((v, path, issues) => (v === null ? null : inner.check(v, path, issues)));
}

type Shape = Record<string, Schema<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: undefined extends Infer<S[K]> ? K : never }[keyof S];
type Simplify<T> = { [K in keyof T]: T[K] } & unknown;
export type ObjectOf<S extends Shape> = Simplify<{ [K in Exclude<keyof S, OptionalKeys<S>>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Exclude<Infer<S[K]>, undefined> }>;

/**
 * An object with these fields. Unknown fields are dropped, or with `strict` reported.
 * `refine` sees the checked object (when every field has the right type) and adds issues of its own.
 */
export function object<S extends Shape>(shape: S, opts: { strict?: boolean; typeMessage?: string; refine?: (value: ObjectOf<S>, report: (path: Path, message: string) => void) => void } = {}): Schema<ObjectOf<S>> {
  return schema((v, path, issues) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      issues.push({ path, message: opts.typeMessage ?? `expected an object, got ${v === undefined ? 'nothing' : describe(v)}` });
      return BAD;
    }
    const input = v as Record<string, unknown>;
    let ok = true;
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(shape)) {
      const r = field.check(input[key], [...path, key], issues);
      if (r === BAD) ok = false;
      else if (r !== undefined) out[key] = r;
    }
    if (opts.strict) {
      const unknown = Object.keys(input).filter((k) => !Object.hasOwn(shape, k));
      if (unknown.length > 0) issues.push({ path, message: `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`, unknownKeys: unknown });
    }
    if (!ok) return BAD;
    opts.refine?.(out as ObjectOf<S>, (p, message) => issues.push({ path: [...path, ...p], message }));
    return out as ObjectOf<S>;
  });
}

/** One of several object shapes, chosen by the string in field `key`. */
export function tagged<K extends string, M extends Record<string, Schema<unknown>>>(key: K, variants: M, message: string): Schema<Infer<M[keyof M]>> {
  return schema((v, path, issues) => {
    const tag = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[key] : undefined;
    if (typeof tag !== 'string' || !Object.hasOwn(variants, tag)) {
      issues.push({ path: [...path, key], message });
      return BAD;
    }
    return variants[tag].check(v, path, issues) as Infer<M[keyof M]> | Bad;
  });
}
