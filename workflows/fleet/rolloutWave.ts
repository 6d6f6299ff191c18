// rolloutWave: one wave of a fleet rollout (child of deployModel). Runs one deviceRollout child
// per device, at most maxParallel at once, and stops starting devices as soon as the failures so
// far (earlier waves + this one) cross the halt criteria. Devices already running finish (each
// undoes its own failure). A cancellation stops the wave the same way: running device children
// are cancelled, undo what they did, and report it. The wave's history grows with its devices;
// the parent's only with its waves.
import {
  ParentClosePolicy,
  condition,
  defineQuery,
  defineSignal,
  isCancellation,
  patched,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { DEVICE_ROLLOUT_CODE, deviceRolloutWorkflowId, deviceRow, type DeviceRolloutResult, type HaltTally, type WaveCounts, type WaveInput, type WaveResult, type WaveStatus } from '../../common/rollout';
import { SA_MODEL, SA_SHA, SA_STAGE, SA_STATUS } from '../../common/searchAttributes';
import { DEVICE_ROLLOUT_WORKFLOW_TYPE, MESSAGE_NAMES } from '../../common/workflowNames';
import { escapeText } from '../escapeText';
import { isoAt, nowMs } from '../clock';
import { closeWave, isDeviceRolloutResult, resultOfFailedChild } from './closeFailed';
// By its type name: a wave loads none of the device lifecycle's modules (npm run bench:workflow-heap).
import type { deviceRollout } from './deviceRollout';
import { SEARCH_ATTRIBUTES_AT_START_PATCH, deviceRolloutSearchAttributes } from './searchAttributesAtStart';
import { haltFigure, haltReason } from './plan';
import { WAVE_START_WINDOW, WAVE_START_WINDOW_PATCH } from './startWindow';

export const waveStatusQuery = defineQuery<WaveStatus>(MESSAGE_NAMES.rolloutWave.waveStatusQuery);
/** From the parent: the rollout was paused or resumed (a revert wave never pauses). */
export const wavePausedSignal = defineSignal<[{ paused: boolean }]>(MESSAGE_NAMES.rolloutWave.wavePausedSignal);

export function emptyCounts(total: number): WaveCounts {
  return { total, pending: total, running: 0, validated: 0, failed: 0, skipped: 0, reverted: 0, cancelled: 0 };
}

/** Adds one finished device to the wave's counts and the rollout's halt tally. */
export function countDevice(counts: WaveCounts, tally: HaltTally, r: DeviceRolloutResult, countOffline: boolean): void {
  counts.running -= 1;
  switch (r.outcome) {
    case 'validated':
      counts.validated += 1;
      tally.done += 1;
      break;
    case 'failed':
    case 'failed-unrestored':
    case 'revert-failed':
      counts.failed += 1;
      tally.done += 1;
      tally.failed += 1;
      break;
    case 'skipped-offline':
      counts.skipped += 1;
      tally.offline += 1;
      if (countOffline) tally.done += 1;
      break;
    case 'reverted':
      counts.reverted += 1;
      break;
    case 'cancelled':
      counts.cancelled += 1;
      break;
  }
}

export async function rolloutWave(input: WaveInput): Promise<WaveResult> {
  const startedAt = isoAt(nowMs());
  const counts = emptyCounts(input.devices.length);
  const tally: HaltTally = { ...(input.halt?.before ?? { done: 0, failed: 0, offline: 0 }) };
  const results: DeviceRolloutResult[] = [];
  const running = new Set<string>();
  let halted: WaveResult['halted'];
  let cancelled = false;
  const criteria = input.halt?.criteria;
  let paused = input.mode !== 'revert' && input.paused === true;

  const status = (): WaveStatus => ({
    name: input.name,
    mode: input.mode,
    counts,
    tally,
    ...(criteria ? { haltFigure: haltFigure(criteria, tally) } : {}),
    running: [...running],
    devices: results.map((r) => ({ deviceId: r.deviceId, outcome: r.outcome, ...(r.failedStep ? { failedStep: r.failedStep } : {}) })),
    ...(halted ? { halted } : {}),
    ...(paused ? { paused } : {}),
  });
  setHandler(waveStatusQuery, status);
  upsertSearchAttributes([
    { key: SA_MODEL, value: input.settings.modelName },
    { key: SA_SHA, value: input.settings.artifact.sha256 },
    { key: SA_STATUS, value: 'running' },
    { key: SA_STAGE, value: input.mode === 'deploy' ? input.name : input.mode },
  ]);
  const publish = (): void => {
    const c = counts;
    setCurrentDetails(
      [
        `**${escapeText(input.name)}** (${input.mode}) of ${escapeText(input.settings.deploymentId)}: ${c.validated} validated · ${c.running} running · ${c.failed} failed · ${c.skipped} offline · ${c.reverted} reverted · ${c.pending} pending`,
        ...(criteria ? [`halt: ${haltFigure(criteria, tally)}`] : []),
        ...(halted ? [`**halted**: ${escapeText(halted.reason)}`] : []),
        ...(paused ? ['**paused**: no new device starts until the rollout is resumed'] : []),
      ].join('\n'),
    );
  };
  publish();
  setHandler(wavePausedSignal, (signal) => {
    paused = input.mode !== 'revert' && signal?.paused === true;
    publish();
  });

  const childAttributesAtStart = patched(SEARCH_ATTRIBUTES_AT_START_PATCH);
  const startWindow = patched(WAVE_START_WINDOW_PATCH) ? WAVE_START_WINDOW : Infinity;
  /** Start commands sent whose child has not started (or failed to start) yet. */
  let starting = 0;
  const queue = [...input.devices];
  const inFlight: Array<Promise<void>> = [];
  try {
    while (queue.length > 0 && !halted) {
      await condition(() => running.size < input.maxParallel && starting < startWindow && !paused);
      if (halted) break;
      const deviceId = queue.shift() as string;
      counts.pending -= 1;
      counts.running += 1;
      running.add(deviceId);
      publish();
      // Not awaited here: every free slot in the start window gets its start command in the same workflow task.
      starting += 1;
      const started = startChild<typeof deviceRollout>(DEVICE_ROLLOUT_WORKFLOW_TYPE, {
        workflowId: deviceRolloutWorkflowId(input.settings.deploymentId, deviceId, input.mode),
        args: [{ ...input.settings, deviceId, mode: input.mode, wave: input.name, code: DEVICE_ROLLOUT_CODE }],
        ...(childAttributesAtStart ? { typedSearchAttributes: deviceRolloutSearchAttributes(deviceId, input.settings) } : {}),
        // The device's rollout undoes its own work when cancelled; the wave waits for that.
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        staticSummary: `${input.mode} ${deviceId} (${input.name})`,
      });
      const startSettled = (): void => void (starting -= 1);
      void started.then(startSettled, startSettled);
      inFlight.push(
        started.then((child) => child.result()).catch((err: unknown) => resultOfFailedChild(err, isDeviceRolloutResult)).then((r) => {
          running.delete(deviceId);
          results.push(r);
          countDevice(counts, tally, r, criteria?.countOffline ?? false);
          if (criteria && !halted) {
            const reason = haltReason(criteria, tally, input.halt?.canary ?? false);
            if (reason) halted = { wave: input.name, reason, tally: { ...tally } };
          }
          publish();
        }),
      );
    }
    await Promise.all(inFlight);
  } catch (err) {
    if (!isCancellation(err)) throw err;
    cancelled = true;
    // Running device rollouts were cancelled with this wave and are undoing their work: their
    // results still come back, so the parent knows what each device went through.
    await Promise.allSettled(inFlight);
  }
  const notReached = [...queue];
  const finishedAt = isoAt(nowMs());
  upsertSearchAttributes([{ key: SA_STATUS, value: halted ? 'halted' : cancelled ? 'cancelled' : 'done' }]);
  publish();
  // Results in the wave's device order, whichever finished first.
  const order = new Map(input.devices.map((id, i) => [id, i]));
  results.sort((a, b) => (order.get(a.deviceId) ?? 0) - (order.get(b.deviceId) ?? 0));
  return closeWave({ name: input.name, mode: input.mode, startedAt, finishedAt, counts, devices: results.map(deviceRow), notReached, ...(halted ? { halted } : {}), tally });
}
