// The ownership invariant, checked against the devices themselves after every batch:
// - each device serves what its latest completed deployment reports, or (no such deployment)
//   what it served before the deployments that did not complete;
// - every report's "serves" for a device it changed equals that device's /healthz;
// - the device's owner record agrees, holds no lease and has nobody waiting;
// - no deployment lost its staged file (ArtifactNotStaged) and no rollback failed;
// - backups/ keeps the configured number of distinct versions, each file intact.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import { readDeviceRecord } from '../../clients/deviceRecords';
import type { DeploymentReport } from '../../workflows/report';

export interface LedgerDevice {
  id: string;
  baselineSha256: string;
  healthUrl: string;
  modelDir: string;
  keepBackups: number;
}

/** What the runs so far say each device should serve. */
export class Ledger {
  private readonly completed = new Map<string, Array<{ sha256: string; finishedAt: string; deploymentId: string }>>();
  private readonly replaced = new Map<string, Set<string>>();
  readonly reports: DeploymentReport[] = [];

  constructor(readonly devices: LedgerDevice[]) {
    for (const d of devices) {
      this.completed.set(d.id, []);
      this.replaced.set(d.id, new Set());
    }
  }

  add(report: DeploymentReport): void {
    this.reports.push(report);
    for (const d of report.devices) {
      if (d.backup) this.replaced.get(d.deviceId)?.add(d.backup.sha256);
      if (d.restore?.outcome === 'restored' && d.restore.restoredSha256) this.replaced.get(d.deviceId)?.add(d.restore.restoredSha256);
      if (report.status === 'completed' && report.artifact && report.finishedAt) {
        this.completed.get(d.deviceId)?.push({ sha256: report.artifact.sha256, finishedAt: report.finishedAt, deploymentId: report.deploymentId });
      }
    }
  }

  expected(deviceId: string): { sha256: string; why: string } {
    const runs = [...(this.completed.get(deviceId) ?? [])].sort((a, b) => a.finishedAt.localeCompare(b.finishedAt));
    const last = runs.at(-1);
    if (last) return { sha256: last.sha256, why: `latest completed deployment ${last.deploymentId}` };
    const baseline = this.devices.find((d) => d.id === deviceId)?.baselineSha256 ?? '';
    return { sha256: baseline, why: 'the baseline (no deployment completed on it)' };
  }

  replacedVersions(deviceId: string): number {
    return this.replaced.get(deviceId)?.size ?? 0;
  }
}

async function healthzSha(url: string): Promise<string | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { ok?: boolean; hef_sha256?: string };
    return body.ok && body.hef_sha256 ? body.hef_sha256 : null;
  } catch {
    return null;
  }
}

const BACKUP = /^\d{8}T\d{9}Z-([0-9a-f]{64})\.(onnx|hef)$/;

function backupVersions(modelDir: string): { shas: Set<string>; corrupt: string[] } {
  const shas = new Set<string>();
  const corrupt: string[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(path.join(modelDir, 'backups'));
  } catch {
    return { shas, corrupt };
  }
  for (const name of names) {
    const m = BACKUP.exec(name);
    if (!m) continue;
    const actual = createHash('sha256').update(readFileSync(path.join(modelDir, 'backups', name))).digest('hex');
    if (actual !== m[1]) corrupt.push(name);
    shas.add(m[1]);
  }
  return { shas, corrupt };
}

/**
 * A run's release is a signal its device's owner applies in its next workflow task; with the GPU
 * worker just killed that task waits for a worker. Give the owners that long before judging.
 */
async function ownersSettled(client: Client, deviceIds: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const records = await Promise.all(deviceIds.map((id) => readDeviceRecord(client, id)));
    if (records.every((r) => !r || (r.holder === null && r.queue.length === 0))) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Violations after a batch, each a sentence naming the device and the runs involved. */
export async function checkInvariants(client: Client, ledger: Ledger, batchReports: DeploymentReport[]): Promise<string[]> {
  const violations: string[] = [];
  await ownersSettled(client, ledger.devices.map((d) => d.id), 60_000);
  for (const r of batchReports) {
    if (r.status === 'rollback-failed') violations.push(`${r.deploymentId} (${r.runId}) ended rollback-failed: ${r.failure?.type}: ${r.failure?.message}`);
    const lost = [r.failure, ...r.devices.map((d) => d.error)].find((f) => f?.type === 'ArtifactNotStaged');
    if (lost) violations.push(`${r.deploymentId} (${r.runId}) lost its staged file on ${lost.deviceId ?? '?'}: ${lost.message}`);
  }
  for (const device of ledger.devices) {
    const served = await healthzSha(device.healthUrl);
    const expected = ledger.expected(device.id);
    if (served !== expected.sha256.slice(0, 16)) violations.push(`${device.id} serves ${served ?? 'nothing'}, expected ${expected.sha256.slice(0, 16)} (${expected.why})`);

    // The last report of this batch that changed the device must say what it serves now.
    const changed = batchReports
      .filter((r) => r.devices.some((d) => d.deviceId === device.id && (d.phase === 'validated' || (d.phase === 'restored' && d.restore?.outcome !== 'already-restored'))))
      .sort((a, b) => (a.finishedAt ?? '').localeCompare(b.finishedAt ?? ''));
    const last = changed.at(-1);
    const said = last?.devices.find((d) => d.deviceId === device.id)?.servedSha256Prefix;
    if (last && said !== served) violations.push(`${last.deploymentId} (${last.runId}) reports ${device.id} serving ${said ?? 'nothing'}, /healthz says ${served ?? 'nothing'}`);

    const record = await readDeviceRecord(client, device.id);
    if (record) {
      if (record.holder) violations.push(`${device.id} is still held by ${record.holder.deploymentId} 60 s after every run closed`);
      if (record.queue.length) violations.push(`${device.id} still has ${record.queue.length} waiting 60 s after every run closed`);
      if (record.serves?.verified && record.serves.sha256 !== null && record.serves.sha256.slice(0, 16) !== served) {
        violations.push(`${device.id}'s owner record says it serves ${record.serves.sha256.slice(0, 16)}, /healthz says ${served ?? 'nothing'}`);
      }
    }

    const { shas, corrupt } = backupVersions(device.modelDir);
    for (const name of corrupt) violations.push(`${device.id}: backup ${name} does not hold the sha its name says`);
    const want = Math.min(device.keepBackups, ledger.replacedVersions(device.id));
    if (shas.size > device.keepBackups || shas.size < want) violations.push(`${device.id} keeps ${shas.size} distinct backup versions, expected ${want} (keep ${device.keepBackups}, ${ledger.replacedVersions(device.id)} replaced so far)`);
  }
  return violations;
}
