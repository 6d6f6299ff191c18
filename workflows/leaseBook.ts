// The lease rules of one device, as pure state transitions (no Temporal calls), so they are
// unit-tested directly and the deviceOwner workflow only wires messages to them.
//
// One holder at a time; others wait in arrival order; a run asks at most once (asking again
// returns its current standing, so a retried request is harmless); only the holder's release
// changes the device record, and it hands the lease to the next in line.
import {
  DEVICE_HISTORY_LIMIT,
  type DesiredModelSignal,
  type DeviceHistoryEntry,
  type DeviceOutcome,
  type DeviceRecord,
  type LeaseAnswer,
  type LeaseEntry,
  type LeaseRelease,
  type LeaseRequest,
} from '../common/ownership';

export type RequestResult = { kind: 'answer'; answer: LeaseAnswer } | { kind: 'busy'; answer: LeaseAnswer };

const sameRun = (a: { deploymentId: string; runId: string }, b: { deploymentId: string; runId: string }): boolean =>
  a.deploymentId === b.deploymentId && a.runId === b.runId;

export function emptyRecord(deviceId: string, at: string): DeviceRecord {
  return { schema: 'edgeship.device/1', deviceId, serves: null, backups: [], holder: null, queue: [], history: [], updatedAt: at };
}

export class LeaseBook {
  constructor(readonly record: DeviceRecord) {}

  private answer(granted: boolean, position: number): LeaseAnswer {
    const h = this.record.holder;
    return {
      deviceId: this.record.deviceId,
      granted,
      position,
      holder: h ? { deploymentId: h.deploymentId, runId: h.runId, modelName: h.modelName, since: h.grantedAt ?? h.requestedAt } : null,
    };
  }

  /** Where this run stands: 0 = holds the lease, n ≥ 1 = n-th in the queue, -1 = unknown here. */
  standing(run: { deploymentId: string; runId: string }): number {
    if (this.record.holder && sameRun(this.record.holder, run)) return 0;
    const i = this.record.queue.findIndex((e) => sameRun(e, run));
    return i < 0 ? -1 : i + 1;
  }

  request(req: LeaseRequest, at: string): RequestResult {
    const standing = this.standing(req);
    if (standing >= 0) return { kind: 'answer', answer: this.answer(standing === 0, standing) };
    if (!this.record.holder) {
      this.record.holder = { deploymentId: req.deploymentId, runId: req.runId, modelName: req.modelName, requestedAt: at, grantedAt: at };
      this.touch(at);
      return { kind: 'answer', answer: this.answer(true, 0) };
    }
    if (req.onBusy === 'fail') return { kind: 'busy', answer: this.answer(false, this.record.queue.length + 1) };
    this.record.queue.push({ deploymentId: req.deploymentId, runId: req.runId, modelName: req.modelName, requestedAt: at });
    this.touch(at);
    return { kind: 'answer', answer: this.answer(false, this.record.queue.length) };
  }

  /**
   * Applies a release. Returns the run that now holds the lease and must be told, if any.
   * A release from a run that neither holds nor waits changes nothing (a duplicate, or a run
   * whose lease was already taken back because it vanished).
   */
  release(rel: LeaseRelease, at: string): { granted: LeaseEntry | null; applied: boolean } {
    const holder = this.record.holder;
    if (holder && sameRun(holder, rel)) {
      if (rel.outcome) this.applyOutcome(holder, rel.outcome, at);
      if (this.record.desired && sameRun(this.record.desired, rel)) delete this.record.desired;
      return { granted: this.grantNext(at), applied: true };
    }
    const i = this.record.queue.findIndex((e) => sameRun(e, rel));
    if (i >= 0) {
      this.record.queue.splice(i, 1);
      this.touch(at);
      return { granted: null, applied: true };
    }
    return { granted: null, applied: false };
  }

  /**
   * The holder ended without releasing (terminated, timed out, or gone before its grant
   * arrived). What it did to the device is unknown, so the record says so.
   */
  abandonHolder(reason: string, at: string): LeaseEntry | null {
    const holder = this.record.holder;
    if (!holder) return null;
    this.pushHistory({ deploymentId: holder.deploymentId, runId: holder.runId, modelName: holder.modelName, outcome: 'abandoned', deploymentStatus: 'unknown', at, reason });
    if (this.record.desired && sameRun(this.record.desired, holder)) delete this.record.desired;
    // A holder that never got its grant never touched the device.
    if (holder.grantedAt !== undefined && this.record.serves) {
      this.record.serves = { ...this.record.serves, verified: false, note: `${holder.deploymentId} ended without reporting: ${reason}` };
    }
    return this.grantNext(at);
  }

  /**
   * A fleet rollout holding the lease records the model a device that was offline should get
   * when its edge worker comes back (or clears it). Only the holder may; returns whether applied.
   */
  setDesired(sig: DesiredModelSignal, at: string): boolean {
    const holder = this.record.holder;
    if (!holder || !sameRun(holder, sig)) return false;
    if (sig.desired) this.record.desired = { deploymentId: sig.deploymentId, runId: sig.runId, ...sig.desired, since: at };
    else if (this.record.desired && sameRun(this.record.desired, sig)) delete this.record.desired;
    this.touch(at);
    return true;
  }

  private grantNext(at: string): LeaseEntry | null {
    const next = this.record.queue.shift() ?? null;
    this.record.holder = next ? { ...next, grantedAt: at } : null;
    this.touch(at);
    return this.record.holder;
  }

  private applyOutcome(run: LeaseEntry, outcome: DeviceOutcome, at: string): void {
    const serves = this.record.serves;
    switch (outcome.kind) {
      case 'deployed':
        this.record.serves = { sha256: outcome.servesSha256 ?? null, deploymentId: run.deploymentId, runId: run.runId, modelName: run.modelName, since: at, verified: true };
        break;
      case 'rolled-back': {
        const sha = outcome.servesSha256 ?? null;
        // Restored to what the record already named: keep who put it there.
        this.record.serves = serves && serves.sha256 === sha
          ? { ...serves, verified: true, note: undefined }
          : { sha256: sha, since: at, verified: true, note: `restored by ${run.deploymentId} (rolled back)` };
        if (this.record.serves.note === undefined) delete this.record.serves.note;
        break;
      }
      case 'untouched':
      case 'skipped-offline':
        break;
      case 'unknown':
        this.record.serves = { ...(serves ?? { sha256: null, since: at }), verified: false, note: `${run.deploymentId}: ${outcome.reason ?? 'the device state could not be proven'}` };
        break;
    }
    if (outcome.backups) this.record.backups = [...outcome.backups];
    this.pushHistory({
      deploymentId: run.deploymentId,
      runId: run.runId,
      modelName: run.modelName,
      outcome: outcome.kind,
      deploymentStatus: outcome.deploymentStatus,
      ...(outcome.servesSha256 !== undefined ? { servesSha256: outcome.servesSha256 } : {}),
      at,
      ...(outcome.reason ? { reason: outcome.reason } : {}),
    });
  }

  private pushHistory(entry: DeviceHistoryEntry): void {
    this.record.history.push(entry);
    if (this.record.history.length > DEVICE_HISTORY_LIMIT) this.record.history.splice(0, this.record.history.length - DEVICE_HISTORY_LIMIT);
  }

  private touch(at: string): void {
    this.record.updatedAt = at;
  }
}
