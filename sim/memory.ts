// Memory of the processes a simulated fleet started, read from /proc (Linux): VmRSS (now),
// VmHWM (the process's own peak RSS) and Pss (RSS with shared pages divided among the processes
// that share them, from smaps_rollup; what the fleet really costs the machine). Sums of RSS or HWM
// count the pages every Node process shares (libnode, onnxruntime's .so) once per process, so
// they over-state the fleet; Pss does not.
import { readFileSync } from 'node:fs';

export interface ProcMemory {
  pid: number;
  rssKiB: number;
  hwmKiB: number;
  /** Undefined where smaps_rollup is not readable. */
  pssKiB?: number;
}

function kib(text: string, field: string): number | undefined {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

/** The process's memory, or undefined once it is gone (or on a system without /proc). */
export function readProcMemory(pid: number): ProcMemory | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const rssKiB = kib(status, 'VmRSS');
  const hwmKiB = kib(status, 'VmHWM');
  if (rssKiB === undefined || hwmKiB === undefined) return undefined; // a zombie has neither
  let pssKiB: number | undefined;
  try {
    pssKiB = kib(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss');
  } catch {
    pssKiB = undefined;
  }
  return { pid, rssKiB, hwmKiB, pssKiB };
}

export interface KindMemory {
  kind: string;
  processes: number;
  rssKiB: number;
  hwmKiB: number;
  pssKiB: number;
}

export interface FleetMemory {
  kinds: KindMemory[];
  total: Omit<KindMemory, 'kind'>;
}

/** Sums per kind (sshd, runtime, edge-worker, …) over the given live pids; a pid counts once. */
export function fleetMemory(pidsByKind: Record<string, Iterable<number>>): FleetMemory {
  const seen = new Set<number>();
  const kinds: KindMemory[] = [];
  for (const [kind, pids] of Object.entries(pidsByKind)) {
    const k: KindMemory = { kind, processes: 0, rssKiB: 0, hwmKiB: 0, pssKiB: 0 };
    for (const pid of pids) {
      if (seen.has(pid)) continue;
      seen.add(pid);
      const m = readProcMemory(pid);
      if (!m) continue;
      k.processes++;
      k.rssKiB += m.rssKiB;
      k.hwmKiB += m.hwmKiB;
      k.pssKiB += m.pssKiB ?? m.rssKiB;
    }
    kinds.push(k);
  }
  const total = kinds.reduce((t, k) => ({ processes: t.processes + k.processes, rssKiB: t.rssKiB + k.rssKiB, hwmKiB: t.hwmKiB + k.hwmKiB, pssKiB: t.pssKiB + k.pssKiB }), { processes: 0, rssKiB: 0, hwmKiB: 0, pssKiB: 0 });
  return { kinds, total };
}

export function mib(kiB: number): string {
  return `${(kiB / 1024).toFixed(0)} MiB`;
}

/** Human lines: per kind and the total, peak (sum of VmHWM) first. */
export function formatFleetMemory(m: FleetMemory): string[] {
  const line = (name: string, k: Omit<KindMemory, 'kind'>) =>
    `  ${name.padEnd(12)} ${String(k.processes).padStart(3)} proc  peak (ΣVmHWM) ${mib(k.hwmKiB).padStart(9)}  now ΣVmRSS ${mib(k.rssKiB).padStart(9)}  ΣPss ${mib(k.pssKiB).padStart(9)}${k.processes ? `  (${mib(k.hwmKiB / k.processes)} peak each)` : ''}`;
  return [...m.kinds.map((k) => line(k.kind, k)), line('total', m.total)];
}
