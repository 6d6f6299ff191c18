// deviceOwner: the one owner of a device (workflow id `device-<deviceId>`, started by
// update-with-start the first time a deployment asks for the device). Temporal guarantees one
// open workflow per id, so the lease needs no lock file and no lock server.
//
// - requestLease (update): the lease now, a place in the queue, or DeviceBusy (onBusy "fail").
// - releaseLease (signal): the holder is done (with what it did to the device), or a waiting run
//   leaves the queue. The next in line is told with a `leaseGranted` signal.
// - A holder that ends without releasing (terminated, timed out) is noticed by a periodic check
//   while someone waits for the device, or at once by an onBusy "fail" request it would refuse;
//   its lease passes on and its record says the device state is unproven. An idle, held owner
//   runs no timer and no activity.
// - The record (what the device serves, which run put it there, backups, queue) is the query
//   result and the memo, so `edgeship devices` reads it without any worker.
// - continue-as-new keeps the history bounded; the record travels to the next run.
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  getExternalWorkflowHandle,
  log,
  makeContinueAsNewFunc,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SearchAttributePair } from '@temporalio/common';
import { ErrorType } from '../common/errors';
import { DEFAULT_HOLDER_CHECK_INTERVAL_MS, DEVICE_OWNER_CODE, IDLE_CHECK_FACTOR, ON_BUSY, type DeviceOwnerInput, type DeviceRecord, type LeaseEntry, type LeaseRequest, type OwnershipActivities } from '../common/ownership';
import { CONTROL_TASK_QUEUE } from '../common/queues';
import { SA_DEVICES, SA_SHA, SA_STATUS } from '../common/searchAttributes';
import { desiredModelSignal, deviceQuery, leaseGrantedSignal, releaseLeaseSignal, requestLeaseUpdate } from './deviceMessages';
import { escapeText } from './escapeText';
import { LeaseBook, emptyRecord } from './leaseBook';
import { isoAt, nowMs } from './clock';

/** Continue-as-new well before Temporal's 51,200-event limit; a lease change is ~10 events. */
const HISTORY_EVENTS_BEFORE_CONTINUE = 4_000;

/** Owners recorded before it checked their holder every IDLE_CHECK_FACTOR intervals even when nobody waited. */
const OWNER_CHECKS_HOLDER_ONLY_WHEN_ASKED_PATCH = 'edgeship-owner-checks-holder-only-when-asked';

const RUN_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// On the control plane: noticing an ended holder must not wait behind hours of compiles on `gpu`.
const { describeDeploymentRun } = proxyActivities<OwnershipActivities>({
  taskQueue: CONTROL_TASK_QUEUE,
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 3 },
});

function checkLeaseRequest(req: unknown): asserts req is LeaseRequest {
  const r = (req ?? {}) as Partial<Record<keyof LeaseRequest, unknown>>;
  const text = (v: unknown): boolean => typeof v === 'string' && v.length > 0 && v.length <= 1000;
  if (!text(r.deploymentId) || !text(r.modelName)) throw new Error('a lease request names deploymentId, runId and modelName');
  // The grant is a signal to exactly this run: an id that is not a run id could never get it.
  if (typeof r.runId !== 'string' || !RUN_ID_PATTERN.test(r.runId)) throw new Error(`runId must be a Temporal run id (a UUID), got ${JSON.stringify(r.runId)}`);
  if (!(ON_BUSY as readonly unknown[]).includes(r.onBusy)) throw new Error(`onBusy must be one of ${ON_BUSY.join(', ')}`);
}

export async function deviceOwner(input: DeviceOwnerInput): Promise<void> {
  const deviceId = input.deviceId;
  const checkEveryMs = input.holderCheckIntervalMs ?? DEFAULT_HOLDER_CHECK_INTERVAL_MS;
  const continueAfter = input.continueAfterEvents ?? HISTORY_EVENTS_BEFORE_CONTINUE;
  const book = new LeaseBook(input.record ?? emptyRecord(deviceId, isoAt(nowMs())));
  /** Runs granted the lease that have not been told yet (the signal is sent from the main loop). */
  const toNotify: LeaseEntry[] = [];
  /** Started by code that says what it does (DEVICE_OWNER_CODE): no patch marker decides. */
  const code = input.code ?? 0;
  // A new owner's empty record is not published: the request that started it changes it in the
  // same workflow task. A continued one got its memo and attributes from continue-as-new.
  let changed = code < 1;
  const publish = code >= 1 ? changesPublisher(input.record) : publisher();

  /**
   * Recorded owners checked their holder every few minutes even when nobody waited: a timer, an
   * activity and two workflow tasks per device, in bursts across a fleet. Now an idle, held owner
   * costs nothing; the holder is checked while someone waits, and at once when an onBusy "fail"
   * request would be refused by it.
   */
  const checkOnlyWhenAsked = code >= 1 || patched(OWNER_CHECKS_HOLDER_ONLY_WHEN_ASKED_PATCH);

  /** Ends the lease of a holder whose run closed without releasing; true when it did. */
  async function abandonIfClosed(holder: LeaseEntry): Promise<boolean> {
    const run = await describeDeploymentRun({ workflowId: holder.deploymentId, runId: holder.runId }).catch((err: unknown) => {
      log.warn('could not check the lease holder; will try again', { deviceId, error: String(err) });
      return { open: true, status: 'unknown' };
    });
    if (run.open || book.record.holder !== holder) return false;
    const next = book.abandonHolder(`the run closed as ${run.status} without releasing the device`, isoAt(nowMs()));
    if (next) toNotify.push(next);
    changed = true;
    return true;
  }

  setHandler(
    requestLeaseUpdate,
    async (req) => {
      let result = book.request(req, isoAt(nowMs()));
      const holder = book.record.holder;
      if (result.kind === 'busy' && checkOnlyWhenAsked && holder && (await abandonIfClosed(holder))) result = book.request(req, isoAt(nowMs()));
      if (result.kind === 'busy') {
        const h = result.answer.holder;
        throw ApplicationFailure.create({
          type: ErrorType.DeviceBusy,
          message: `device ${deviceId} is held by ${h?.deploymentId ?? '?'} (${h?.modelName ?? '?'}) since ${h?.since ?? '?'} and the request says onBusy: "fail"`,
          nonRetryable: true,
          details: [result.answer],
        });
      }
      changed = true;
      return result.answer;
    },
    { validator: (req) => checkLeaseRequest(req) },
  );
  setHandler(releaseLeaseSignal, (rel) => {
    if (!rel || typeof rel.deploymentId !== 'string' || typeof rel.runId !== 'string') {
      log.warn('ignored a malformed release', { deviceId });
      return;
    }
    const { granted, applied } = book.release(rel, isoAt(nowMs()));
    if (!applied) log.info('release from a run that neither holds nor waits', { deviceId, deploymentId: rel.deploymentId, runId: rel.runId });
    if (granted) toNotify.push(granted);
    changed = true;
  });
  setHandler(desiredModelSignal, (sig) => {
    if (!sig || typeof sig.deploymentId !== 'string' || typeof sig.runId !== 'string') return;
    if (book.setDesired(sig, isoAt(nowMs()))) changed = true;
    else log.info('desired model from a run that does not hold the device', { deviceId, deploymentId: sig.deploymentId });
  });
  setHandler(deviceQuery, () => book.record);

  for (;;) {
    publish(book.record, changed);
    changed = false;
    const holder = book.record.holder;
    const someoneWaits = book.record.queue.length > 0;
    const interval = someoneWaits ? checkEveryMs : checkEveryMs * IDLE_CHECK_FACTOR;
    const wakeUp = (): boolean => toNotify.length > 0 || changed || workflowInfo().historyLength > continueAfter;
    const checkHolder = holder !== null && (someoneWaits || !checkOnlyWhenAsked);
    const woke = checkHolder ? await condition(wakeUp, interval) : (await condition(wakeUp), true);

    while (toNotify.length > 0) {
      const run = toNotify.shift() as LeaseEntry;
      try {
        await getExternalWorkflowHandle(run.deploymentId, run.runId).signal(leaseGrantedSignal, { deviceId });
      } catch (err) {
        // The run ended while it waited: it will never use the lease.
        log.info('lease holder is gone before its grant', { deviceId, deploymentId: run.deploymentId, error: String(err) });
        const next = book.abandonHolder(`ended before the lease came up (${(err as Error).message})`, isoAt(nowMs()));
        if (next) toNotify.push(next);
      }
      changed = true;
    }

    if (!woke && holder && book.record.holder === holder) await abandonIfClosed(holder);

    if (workflowInfo().historyLength > continueAfter && toNotify.length === 0) {
      await condition(allHandlersFinished);
      if (toNotify.length === 0) {
        if (code < 1) publish(book.record, true);
        // The next run starts with this one's memo and attributes, and with today's owner code.
        await makeContinueAsNewFunc<typeof deviceOwner>({ memo: { edgeshipDevice: book.record }, typedSearchAttributes: ownerSearchAttributes(book.record) })({
          ...input,
          record: book.record,
          code: DEVICE_OWNER_CODE,
        });
      }
    }
  }
}

/**
 * Owner code 1: the memo when the record changed (`edgeship devices` reads it) and EdgeshipSha
 * when the served model changed (an operator's filter). Each upsert is a history event and a
 * visibility write, per device and per lease.
 */
function changesPublisher(carried: DeviceRecord | undefined): (record: DeviceRecord, changed: boolean) => void {
  let lastMemo = carried ? JSON.stringify(carried) : '';
  let lastSha = carried?.serves?.sha256 ?? undefined;
  return (record, changed) => {
    setCurrentDetails(details(record));
    if (!changed) return;
    const memo = JSON.stringify(record);
    if (memo !== lastMemo) {
      lastMemo = memo;
      upsertMemo({ edgeshipDevice: record });
    }
    const sha = record.serves?.sha256 ?? undefined;
    if (sha && sha !== lastSha) {
      lastSha = sha;
      upsertSearchAttributes([{ key: SA_SHA, value: sha }]);
    }
  };
}

/** What a continued owner starts with (its starter set EdgeshipDevices; the sha came later). */
function ownerSearchAttributes(record: DeviceRecord): SearchAttributePair[] {
  return [{ key: SA_DEVICES, value: [record.deviceId] }, ...(record.serves?.sha256 ? [{ key: SA_SHA, value: record.serves.sha256 }] : [])];
}

/** Owners without a code: memo and search attributes only when something changed (as recorded). */
function publisher(): (record: DeviceRecord, changed: boolean) => void {
  let lastMemo = '';
  return (record, changed) => {
    setCurrentDetails(details(record));
    if (!changed) return;
    const memo = JSON.stringify(record);
    if (memo === lastMemo) return;
    lastMemo = memo;
    upsertMemo({ edgeshipDevice: record });
    upsertSearchAttributes([
      { key: SA_DEVICES, value: [record.deviceId] },
      { key: SA_STATUS, value: record.holder ? 'held' : 'idle' },
      ...(record.serves?.sha256 ? [{ key: SA_SHA, value: record.serves.sha256 }] : []),
    ]);
  };
}

function details(r: DeviceRecord): string {
  const lines = [`**device ${escapeText(r.deviceId)}** · ${r.holder ? 'held' : 'idle'}`];
  const s = r.serves;
  lines.push(s ? `serves \`${s.sha256?.slice(0, 16) ?? 'no model'}\`${s.deploymentId ? ` from ${escapeText(s.deploymentId)}` : ''}${s.verified ? '' : ' (unverified)'}` : 'serves: not reported yet');
  if (r.holder) lines.push(`holder: ${escapeText(r.holder.deploymentId)} (${escapeText(r.holder.modelName)}) since ${r.holder.grantedAt ?? r.holder.requestedAt}`);
  if (r.desired) lines.push(`desired: \`${r.desired.sha256.slice(0, 16)}\` (${escapeText(r.desired.modelName)}) from ${escapeText(r.desired.deploymentId)} when the device is back, until ${r.desired.until}`);
  r.queue.forEach((q, i) => lines.push(`${i + 1}. ${escapeText(q.deploymentId)} (${escapeText(q.modelName)}) waiting since ${q.requestedAt}`));
  return lines.join('\n');
}
