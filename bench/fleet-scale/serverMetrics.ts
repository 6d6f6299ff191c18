// The dev server's own counters (`temporal server start-dev --metrics-port`), read before and after
// a rollout: what each program made the server's persistence do per device (SQLite transactions
// by operation, visibility writes), and how its task queues matched tasks to pollers. A task that
// finds no poller waiting is written to the database and read back later (`CreateTasks`,
// `GetTasks`): the counters show whether a program's tasks waited for its Workers.

/** Counter name (with its operation or task type) → value, summed over every other label. */
export type Counters = Map<string, number>;

/**
 * The counters worth comparing between two programs: persistence by operation, matching, and the
 * history service's events cache (an event it wrote and had to read back from the database:
 * `cache_miss events EventsCacheGetEvent`; entries it dropped for want of room:
 * `cache_entry_age_on_eviction_count events`), and how often its task processors found a
 * workflow locked and had to try again later (`acquire_lock_failed`, against `task_requests` per
 * task type: a wave's 200 child starts all need the wave's lock).
 */
const KEPT = /^(persistence_requests|visibility_persistence_requests|poll_success|poll_success_sync|poll_timeouts|forwarded|no_poller_tasks|asyncmatch_latency_count|syncmatch_latency_count|cache_miss|cache_entry_age_on_eviction_count|acquire_lock_failed|task_requests)$/;

/** The id every Temporal server gives its `temporal-system` namespace, as metric labels spell it. */
const TEMPORAL_SYSTEM_NAMESPACE_ID = '32049b68_7872_4094_8e63_d0dd59896a83';

export function parseCounters(text: string): Counters {
  const counters: Counters = new Map();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || !KEPT.test(m[1])) continue;
    const labels = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    // The server's own system namespace is not the program's (cache counters name it by its fixed id).
    if ((labels.namespace !== undefined && labels.namespace !== 'default') || labels.namespace_id === TEMPORAL_SYSTEM_NAMESPACE_ID) continue;
    // Qualified by what tells its counts apart: cache and operation, persistence operation, or task type.
    const qualifiers = labels.cache_type ? [labels.cache_type, labels.operation] : m[1].includes('persistence') ? [labels.operation] : [labels.task_type];
    const key = [m[1], ...qualifiers].filter(Boolean).join(' ');
    counters.set(key, (counters.get(key) ?? 0) + Number(m[4]));
  }
  return counters;
}

export async function readCounters(metricsUrl: string): Promise<Counters> {
  const response = await fetch(metricsUrl);
  if (!response.ok) throw new Error(`${metricsUrl}: HTTP ${response.status}`);
  return parseCounters(await response.text());
}

/** after − before, per device, for every counter that moved. */
export function perDevice(before: Counters, after: Counters, devices: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of after) {
    const delta = value - (before.get(key) ?? 0);
    if (delta > 0) out[key] = delta / devices;
  }
  return out;
}

/** Side by side, largest first: the counters per device of two programs. */
export function counterLines(a: Record<string, number>, b: Record<string, number>): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort((x, y) => Math.max(b[y] ?? 0, a[y] ?? 0) - Math.max(b[x] ?? 0, a[x] ?? 0));
  return keys.map((k) => `  ${k.padEnd(58)}${(a[k] ?? 0).toFixed(2).padStart(10)}${(b[k] ?? 0).toFixed(2).padStart(12)}`);
}
