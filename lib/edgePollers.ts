// Which edge workers poll a device's task queue now, and whether this GPU side may hand them its
// edge activities. Read from Temporal (DescribeTaskQueue), never from the device: the identity of
// each poller carries its package version and edge API (common/edgeVersion.ts). Used by the lease
// step and the push (refuse an old device before anything is staged), `edgeship devices` (VERSION)
// and `edgeship devices check`. Not for workflow code (talks to Temporal).
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { edgeApiProblem, parseEdgeWorkerIdentity, type EdgeWorkerIdentity } from '../common/edgeVersion';
import { edgeTaskQueue } from '../common/queues';

/**
 * A poller last seen longer ago than this is not polling now. The server keeps a poller in the
 * task queue's description for minutes after it stopped, and a live worker's long poll refreshes
 * its entry at least every 60 s (the server's default long-poll expiry) — hence 75 s.
 */
export const DEFAULT_POLLER_LIVE_WINDOW_MS = 75_000;

export interface EdgePoller {
  identity: string;
  /** null: the identity does not parse (an edge worker from before versioned identities, edge API 1). */
  parsed: EdgeWorkerIdentity | null;
  /** Why this GPU side cannot drive it, or null when it can. */
  problem: string | null;
  /** When the server last saw it poll (ISO), if it said. */
  lastSeen?: string;
  /** Seconds since then, by this machine's clock. */
  ageSeconds?: number;
  /** Seen within the live window. */
  live: boolean;
}

/** The parts of a Client this needs: tests pass a fake-free real client, the CLI its own. */
export type TaskQueueDescriber = Pick<Client, 'workflowService'> & { options: { namespace: string } };

function timestampMs(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): number | undefined {
  if (!ts || ts.seconds === undefined || ts.seconds === null) return undefined;
  return Number(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

/** Interprets DescribeTaskQueue's pollers (pure, for unit tests). */
export function edgePollersFrom(pollers: Array<{ identity?: string | null; lastAccessTime?: { seconds?: unknown; nanos?: number | null } | null }>, nowMs: number, liveWindowMs = DEFAULT_POLLER_LIVE_WINDOW_MS): EdgePoller[] {
  return pollers.map((p) => {
    const identity = p.identity ?? '';
    const seenMs = timestampMs(p.lastAccessTime);
    const ageMs = seenMs === undefined ? undefined : Math.max(0, nowMs - seenMs);
    return {
      identity,
      parsed: parseEdgeWorkerIdentity(identity),
      problem: edgeApiProblem(identity),
      ...(seenMs !== undefined ? { lastSeen: new Date(seenMs).toISOString(), ageSeconds: Math.round((ageMs ?? 0) / 100) / 10 } : {}),
      // Without a time the server listed it as polling: count it.
      live: ageMs === undefined || ageMs <= liveWindowMs,
    };
  }).sort((a, b) => (a.ageSeconds ?? 0) - (b.ageSeconds ?? 0));
}

/** Every poller of `edge.<deviceId>` the server lists (live or not), newest first. */
export async function describeEdgePollers(client: TaskQueueDescriber, deviceId: string, opts: { nowMs?: number; liveWindowMs?: number } = {}): Promise<EdgePoller[]> {
  const res = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: edgeTaskQueue(deviceId), kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  });
  return edgePollersFrom(res.pollers ?? [], opts.nowMs ?? Date.now(), opts.liveWindowMs);
}

/**
 * Why a deployment must not touch this device, or null. Any live poller that cannot run this GPU
 * side's edge activities refuses the device: Temporal may hand a task to any worker polling the
 * queue. A device with no live poller (offline) is not refused here: the deployment's own
 * deadlines decide what happens to it.
 */
export function edgeVersionRefusal(deviceId: string, pollers: EdgePoller[]): string | null {
  const old = pollers.find((p) => p.live && p.problem);
  if (!old) return null;
  const seen = old.ageSeconds !== undefined ? ` (polling edge.${deviceId}, seen ${old.ageSeconds} s ago)` : ` (polling edge.${deviceId})`;
  return `device ${deviceId}: ${old.problem}${seen}; nothing was staged`;
}

/** The package version to show for a device: newest live poller's, '-' without one, 'old' when its identity does not parse. */
export function edgeVersionLabel(pollers: EdgePoller[]): string {
  const newest = pollers.find((p) => p.live);
  if (!newest) return '-';
  if (!newest.parsed) return 'old';
  return newest.problem ? `${newest.parsed.version} (api ${newest.parsed.api}: too old)` : newest.parsed.version;
}
