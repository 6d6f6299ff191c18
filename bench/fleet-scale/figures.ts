// What bench:fleet-scale measures the same way for edgeship and for the bare-engine program:
// devices per second through the waves (first wave's start → last wave's close, from the
// server's own timestamps), and what the whole run cost the engine — every history in the
// namespace (each program runs on a dev server of its own), counted per device.
import { readdirSync, readFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { counterLines } from './serverMetrics';

export interface ProgramFigures {
  program: 'edgeship' | 'bare engine';
  devices: number;
  /** First wave's start → last wave's close. */
  wavesMs: number;
  devicesPerSecond: number;
  /** The start call → the parent's result. */
  wallMs: number;
  workflows: number;
  eventsPerDevice: number;
  /** Every history's size (encoded as the server sends it), per device. */
  historyKiBPerDevice: number;
  workflowTasksPerDevice: number;
  activitiesPerDevice: number;
  /** CPU time (user + system) during the rollout, per device: the process running the Workers, and the dev server. */
  workerCpuMsPerDevice: number;
  serverCpuMsPerDevice: number;
  /** VmHWM of the process running the Workers (and the client, and the in-memory stand-ins) when the rollout ended. */
  peakRssKiB: number;
  /** The dev server's counters during the rollout, per device (persistence by operation, matching). */
  serverCountersPerDevice: Record<string, number>;
  /** The worker process's CPU per device by thread (the main thread, the workflow thread, the SDK core's, V8's). */
  workerThreadsCpuMsPerDevice: Record<string, number>;
}

/** A /proc `stat` line (a process's or a thread's): its name, and its CPU time (user + system) in ms. */
function parseStat(stat: string): { name: string; ms: number } {
  // Fields after the name (which may hold spaces and parentheses): utime is the 12th, stime the 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), ms: ((Number(fields[11]) + Number(fields[12])) * 1000) / 100 }; // USER_HZ is 100 on Linux
}

/** CPU time (user + system, all threads) a process has used so far, in ms; Linux /proc. */
export function cpuMs(pid: number): number {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).ms;
  } catch {
    return Number.NaN;
  }
}

/** CPU time (user + system) of each thread of a process so far, in ms, by thread id, with the thread's name. */
export function threadCpuMs(pid: number): Map<number, { name: string; ms: number }> {
  const threads = new Map<number, { name: string; ms: number }>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return threads;
  }
  for (const tid of tids) {
    try {
      threads.set(Number(tid), parseStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')));
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return threads;
}

/** CPU used since `before`, per device, by thread name (threads of one name summed; threads that ended since are not counted). */
export function threadCpuPerDevice(pid: number, before: Map<number, { name: string; ms: number }>, after: Map<number, { name: string; ms: number }>, devices: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [tid, t] of after) {
    // Names that differ only by a number (e.g. several pools) are one group.
    const name = tid === pid ? `${t.name} (main thread)` : t.name.replace(/[\s_-]*\d+$/, '');
    out[name] = (out[name] ?? 0) + (t.ms - (before.get(tid)?.ms ?? 0)) / devices;
  }
  return out;
}

const EventType = temporal.api.enums.v1.EventType;

/** The waves' span, from the server's start and close times of the wave workflows. */
export async function wavesSpanMs(client: Client, waveWorkflowIds: string[]): Promise<number> {
  const spans = await Promise.all(waveWorkflowIds.map(async (id) => {
    const d = await client.workflow.getHandle(id).describe();
    return { start: d.startTime.getTime(), close: d.closeTime?.getTime() };
  }));
  const closes = spans.map((s) => s.close);
  if (closes.some((c) => c === undefined)) throw new Error('a wave is still open: no span to measure');
  return Math.max(...(closes as number[])) - Math.min(...spans.map((s) => s.start));
}

/** Every workflow in the namespace: its events, workflow tasks completed and activities scheduled. */
export interface HistoryCounts {
  workflows: number;
  events: number;
  bytes: number;
  workflowTasks: number;
  activities: number;
  /** The same per workflow type, and the events by type (where the difference between two programs lies). */
  byType: Record<string, { workflows: number; events: number; bytes: number; workflowTasks: number; activities: number; eventTypes: Record<string, number> }>;
}

export async function countNamespace(client: Client, onProgress?: (fetched: number) => void): Promise<HistoryCounts> {
  const executions: Array<{ workflowId: string; runId: string; type: string }> = [];
  for await (const w of client.workflow.list()) executions.push({ workflowId: w.workflowId, runId: w.runId, type: w.type });
  const counts: HistoryCounts = { workflows: executions.length, events: 0, bytes: 0, workflowTasks: 0, activities: 0, byType: {} };
  let next = 0;
  let fetched = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < executions.length) {
      const { workflowId, runId, type } = executions[next++];
      const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
      const t = (counts.byType[type] ??= { workflows: 0, events: 0, bytes: 0, workflowTasks: 0, activities: 0, eventTypes: {} });
      t.workflows += 1;
      t.bytes += temporal.api.history.v1.History.encode(history).finish().length;
      for (const e of history.events ?? []) {
        const name = (EventType[e.eventType ?? 0] ?? String(e.eventType)).replace(/^EVENT_TYPE_/, '');
        t.eventTypes[name] = (t.eventTypes[name] ?? 0) + 1;
        t.events += 1;
        if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) t.workflowTasks += 1;
        else if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) t.activities += 1;
      }
      if (++fetched % 1000 === 0) onProgress?.(fetched);
    }
  }));
  for (const t of Object.values(counts.byType)) {
    counts.events += t.events;
    counts.bytes += t.bytes;
    counts.workflowTasks += t.workflowTasks;
    counts.activities += t.activities;
  }
  return counts;
}

/** One line per workflow type: executions, and per execution its events, workflow tasks and activities. */
export function byTypeLines(counts: HistoryCounts): string[] {
  return Object.entries(counts.byType).sort((a, b) => b[1].events - a[1].events).map(([type, t]) => {
    const per = (n: number): string => (n / t.workflows).toFixed(1);
    const top = Object.entries(t.eventTypes).sort((a, b) => b[1] - a[1]).slice(0, 6).map(([e, n]) => `${e} ${per(n)}`).join(', ');
    return `  ${type.padEnd(14)} ${String(t.workflows).padStart(5)} × ${per(t.events).padStart(6)} events (${(t.bytes / t.workflows / 1024).toFixed(1)} KiB), ${per(t.workflowTasks)} workflow tasks, ${per(t.activities)} activities (${top})`;
  });
}

const MiB = (kib: number): string => `${(kib / 1024).toFixed(0)} MiB`;

/** The side-by-side table and the ratio. */
export function comparisonLines(edgeship: ProgramFigures, bare: ProgramFigures): string[] {
  const row = (label: string, f: (p: ProgramFigures) => string): string => `  ${label.padEnd(34)}${f(edgeship).padStart(12)}${f(bare).padStart(14)}`;
  return [
    `  ${''.padEnd(34)}${'edgeship'.padStart(12)}${'bare engine'.padStart(14)}`,
    row('devices', (p) => String(p.devices)),
    row('devices/s through the waves', (p) => p.devicesPerSecond.toFixed(1)),
    row('waves (first start → last close)', (p) => `${(p.wavesMs / 1000).toFixed(1)} s`),
    row('start → result', (p) => `${(p.wallMs / 1000).toFixed(1)} s`),
    row('workflow executions', (p) => String(p.workflows)),
    row('events per device', (p) => p.eventsPerDevice.toFixed(1)),
    row('history per device', (p) => `${(p.historyKiBPerDevice ?? 0).toFixed(1)} KiB`),
    row('workflow tasks per device', (p) => p.workflowTasksPerDevice.toFixed(1)),
    row('activities per device', (p) => p.activitiesPerDevice.toFixed(2)),
    row('worker process CPU per device', (p) => `${p.workerCpuMsPerDevice.toFixed(1)} ms`),
    row('dev server CPU per device', (p) => `${p.serverCpuMsPerDevice.toFixed(1)} ms`),
    row('worker process peak RSS', (p) => MiB(p.peakRssKiB)),
    `  the dev server's counters per device (persistence requests by operation; tasks matched to a waiting poller, or stored and read back):`,
    ...counterLines(edgeship.serverCountersPerDevice ?? {}, bare.serverCountersPerDevice ?? {}),
    `  the worker process's CPU per device by thread, ms:`,
    ...counterLines(edgeship.workerThreadsCpuMsPerDevice ?? {}, bare.workerThreadsCpuMsPerDevice ?? {}),
    `  ratio edgeship / bare engine (devices/s): ${(edgeship.devicesPerSecond / bare.devicesPerSecond).toFixed(2)}×`,
  ];
}

/** One program's figures, once its rollout has closed. */
export async function programFigures(program: ProgramFigures['program'], client: Client, r: { devices: number; waveWorkflowIds: string[]; wallMs: number; peakRssKiB: number; workerCpuMs: number; serverCpuMs: number; serverCountersPerDevice: Record<string, number>; workerThreadsCpuMsPerDevice: Record<string, number> }, log: (line: string) => void): Promise<ProgramFigures> {
  const wavesMs = await wavesSpanMs(client, r.waveWorkflowIds);
  log(`${program}: counting every history in the namespace…`);
  const counted = await countNamespace(client, (n) => log(`  ${n} histories read`));
  log(`${program}: per workflow type`);
  for (const line of byTypeLines(counted)) log(line);
  return {
    program,
    devices: r.devices,
    wavesMs,
    devicesPerSecond: r.devices / (wavesMs / 1000),
    wallMs: r.wallMs,
    workflows: counted.workflows,
    eventsPerDevice: counted.events / r.devices,
    historyKiBPerDevice: counted.bytes / 1024 / r.devices,
    workflowTasksPerDevice: counted.workflowTasks / r.devices,
    activitiesPerDevice: counted.activities / r.devices,
    workerCpuMsPerDevice: r.workerCpuMs / r.devices,
    serverCpuMsPerDevice: r.serverCpuMs / r.devices,
    peakRssKiB: r.peakRssKiB,
    serverCountersPerDevice: r.serverCountersPerDevice,
    workerThreadsCpuMsPerDevice: r.workerThreadsCpuMsPerDevice,
  };
}
