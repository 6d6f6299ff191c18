// The fleet view: every device's record as its owner workflow keeps it in its memo, read from the
// visibility store — no worker, no SSH. A device no deployment has asked for yet has no owner
// workflow and so no record.
import type { Client } from '@temporalio/client';
import { describeEdgePollers, edgeVersionLabel, type TaskQueueDescriber } from '../lib/edgePollers';
import { DEVICE_OWNER_WORKFLOW_TYPE, deviceOwnerWorkflowId, parseDeviceOwnerWorkflowId, type DeviceRecord } from '../common/ownership';

export interface DeviceView {
  deviceId: string;
  record: DeviceRecord | null;
  /** Temporal execution status of the owner workflow (RUNNING normally). */
  owner: string;
  /**
   * The device package version its edge worker reports (from the pollers of edge.<id>): '-' when
   * no worker polls, 'old' when its identity predates versions. Absent when not looked up.
   */
  edgeVersion?: string;
}

const isRecord = (v: unknown): v is DeviceRecord => !!v && typeof v === 'object' && (v as { schema?: unknown }).schema === 'edgeship.device/1';

export async function listDeviceRecords(client: Client, filter?: string[]): Promise<DeviceView[]> {
  const query = `WorkflowType = '${DEVICE_OWNER_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'`;
  const views: DeviceView[] = [];
  for await (const info of client.workflow.list({ query })) {
    const record = info.memo?.edgeshipDevice;
    const deviceId = isRecord(record) ? record.deviceId : (parseDeviceOwnerWorkflowId(info.workflowId) ?? info.workflowId);
    if (filter && !filter.includes(deviceId)) continue;
    views.push({ deviceId, record: isRecord(record) ? record : null, owner: info.status.name });
  }
  return views.sort((a, b) => a.deviceId.localeCompare(b.deviceId));
}

/** One device's record straight from its owner workflow's description (fresher than visibility). */
export async function readDeviceRecord(client: Client, deviceId: string): Promise<DeviceRecord | null> {
  try {
    const d = await client.workflow.getHandle(deviceOwnerWorkflowId(deviceId)).describe();
    const record = d.memo?.edgeshipDevice;
    return isRecord(record) ? record : null;
  } catch {
    return null;
  }
}

export function renderDevices(views: DeviceView[]): string {
  if (views.length === 0) return 'no device has an owner yet (a device gets one when a deployment first asks for it)';
  const withVersion = views.some((v) => v.edgeVersion !== undefined);
  const header = ['DEVICE', ...(withVersion ? ['VERSION'] : []), 'STATE', 'SERVES', 'PUT THERE BY', 'HOLDER', 'QUEUE', 'BACKUPS', 'DESIRED (CATCH-UP)'];
  const rows = views.map(({ deviceId, record: r, edgeVersion }) => {
    const first = [deviceId, ...(withVersion ? [edgeVersion ?? '?'] : [])];
    if (!r) return [...first, '?', '?', '?', '?', '?', '?', '?'];
    const serves = r.serves ? `${r.serves.sha256?.slice(0, 12) ?? 'no model'}${r.serves.verified ? '' : ' (unverified)'}` : 'not reported';
    return [
      ...first,
      r.holder ? 'held' : 'idle',
      serves,
      r.serves?.deploymentId ?? (r.serves?.note ? r.serves.note.slice(0, 40) : '—'),
      r.holder?.deploymentId ?? '—',
      r.queue.length ? r.queue.map((q, i) => `${i + 1}:${q.deploymentId}`).join(' ') : '—',
      r.backups.length ? r.backups.map((b) => b.slice(0, 8)).join(',') : '—',
      // A fleet rollout waits for this offline device to come back and bring it to this model.
      r.desired ? `${r.desired.sha256.slice(0, 12)} until ${r.desired.until.slice(0, 16).replace('T', ' ')}` : '—',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((c) => c[i].length)));
  return [header, ...rows].map((c) => c.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

/**
 * Fills in each view's edgeVersion from the pollers of its edge queue (one DescribeTaskQueue per
 * device, a few at a time). A device whose queue cannot be described shows '?'.
 */
export async function addEdgeVersions(client: TaskQueueDescriber, views: DeviceView[], opts: { concurrency?: number; liveWindowMs?: number } = {}): Promise<DeviceView[]> {
  const concurrency = opts.concurrency ?? 8;
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < views.length) {
      const view = views[next++];
      try {
        view.edgeVersion = edgeVersionLabel(await describeEdgePollers(client, view.deviceId, { liveWindowMs: opts.liveWindowMs }));
      } catch {
        view.edgeVersion = '?';
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, views.length) }, lane));
  return views;
}
