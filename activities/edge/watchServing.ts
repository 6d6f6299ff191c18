// watchServing: the soak watcher. For durationMs, every pollMs: GET /healthz (must be ready and
// name input.sha256), send probeRequestsPerPoll real /infer requests so there is traffic to judge,
// and read /metrics, summing the increase of the runtime's counters over each interval (a restart
// resets them: detected by the uptime going down). A degraded soak is a RESULT (healthy: false
// with the reasons), not a failure: the workflow decides what it means. Only bad input
// (InvalidRequest) and cancellation end it otherwise; it heartbeats every poll and stops at once
// when cancelled.
import { ApplicationFailure } from '@temporalio/common';
import * as path from 'node:path';
import type { ModelMetadata, SoakReport, WatchServingInput } from '../../common/contracts';
import { ErrorType } from '../../common/errors';
import { assertSha256 } from '../../common/ids';
import { readModelMetadata } from '../../edge/metadata';
import { cancellationSignal, heartbeat, sleep } from './activityContext';
import { probeHealth, servesSha, SHA_PREFIX_LENGTH, type HealthObservation } from './health';
import { LoadClient } from './loadTest';
import { intInRange, requestBodies, type ServingDevice } from './measurement';
import { metaPathOf, MODEL_EXTS, releasesDir } from './modelDir';
import { addIncrease, emptyIncrease, histogramP95Ms, metricsUrlOf, readMetrics, type MetricsReading } from './runtimeMetrics';

const HEALTH_TIMEOUT_MS = 2000;
const METRICS_TIMEOUT_MS = 2000;
const INFER_TIMEOUT_MS = 5000;
/** Longest sleep between heartbeats, so a long pollMs cannot starve the heartbeat timeout. */
const MAX_QUIET_MS = 5000;

interface WatchSettings {
  sha256: string;
  durationMs: number;
  pollMs: number;
  maxNewErrors: number;
  p95LatencyMs: number | undefined;
  probeRequestsPerPoll: number;
}

function settingsOf(input: WatchServingInput): WatchSettings {
  if (input === null || typeof input !== 'object') throw ApplicationFailure.nonRetryable('watchServing needs {sha256, durationMs, …}', ErrorType.InvalidRequest);
  try {
    assertSha256(input.sha256);
  } catch (err) {
    throw ApplicationFailure.nonRetryable((err as Error).message, ErrorType.InvalidRequest);
  }
  const p95 = input.p95LatencyMs;
  if (p95 !== undefined && !(typeof p95 === 'number' && Number.isFinite(p95) && p95 > 0)) {
    throw ApplicationFailure.nonRetryable(`p95LatencyMs must be a finite number > 0, got ${String(p95)}`, ErrorType.InvalidRequest);
  }
  return {
    sha256: input.sha256,
    durationMs: intInRange('durationMs', input.durationMs, NaN, 0, 7 * 24 * 3_600_000),
    pollMs: intInRange('pollMs', input.pollMs, 1000, 50, 3_600_000),
    maxNewErrors: intInRange('maxNewErrors', input.maxNewErrors, 0, 0, 1_000_000_000),
    p95LatencyMs: p95,
    probeRequestsPerPoll: intInRange('probeRequestsPerPoll', input.probeRequestsPerPoll, 5, 0, 1000),
  };
}

/** The release's metadata (its probe windows make the watcher's traffic); undefined when not usable. */
async function releaseMetadata(modelDir: string, sha256: string): Promise<ModelMetadata | undefined> {
  for (const ext of MODEL_EXTS) {
    try {
      const meta = await readModelMetadata(metaPathOf(path.join(releasesDir(modelDir), `${sha256}.${ext}`)));
      if (meta.sha256 === sha256) return meta;
    } catch {
      // missing or malformed: try the other extension, else synthetic traffic
    }
  }
  return undefined;
}

/** `work`, or a rejection with the cancellation reason as soon as the activity is cancelled. */
function unlessCancelled<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err as Error);
      },
    );
  });
}

function describe(obs: HealthObservation): string {
  if (obs.status === null) return obs.reason ?? 'unreachable';
  return `HTTP ${obs.status}${obs.reason ? `: ${obs.reason}` : ''}`;
}

export function createWatchServing(device: ServingDevice): (input: WatchServingInput) => Promise<SoakReport> {
  return async function watchServing(input: WatchServingInput): Promise<SoakReport> {
    const s = settingsOf(input);
    const started = performance.now();
    const signal = cancellationSignal();
    const expected = s.sha256.slice(0, SHA_PREFIX_LENGTH);
    const metricsUrl = metricsUrlOf(device.healthUrl);
    const bodies = requestBodies(await releaseMetadata(device.modelDir, s.sha256));

    let polls = 0;
    let notReadyPolls = 0;
    let wrongShaPolls = 0;
    let unreachablePolls = 0;
    const last: { notReady?: string; unreachable?: string; wrongSha?: string } = {};
    const watcher = { sent: 0, failed: 0, firstFailure: undefined as string | undefined };
    const increase = emptyIncrease();
    let previous: MetricsReading | null = null;
    let metricsError: string | undefined;

    const readAndAdd = async (): Promise<void> => {
      const r = await unlessCancelled(readMetrics(metricsUrl, METRICS_TIMEOUT_MS, signal), signal);
      if ('error' in r) {
        metricsError ??= r.error;
        return;
      }
      if (previous) addIncrease(increase, previous, r.reading);
      previous = r.reading;
    };

    /**
     * Real /infer traffic. 5xx answers are judged through the runtime's counters (maxNewErrors);
     * any other failure here. A client per poll: an idle keep-alive socket the runtime closed
     * between polls must not turn into a failed request.
     */
    const sendProbes = async (): Promise<void> => {
      const client = new LoadClient(1, INFER_TIMEOUT_MS);
      try {
        for (let i = 0; i < s.probeRequestsPerPoll; i++) {
          signal?.throwIfAborted();
          const body = bodies[watcher.sent % bodies.length];
          watcher.sent += 1;
          let failure: string | undefined;
          let answered = true;
          try {
            const res = await unlessCancelled(client.send('POST', device.inferenceUrl, body), signal);
            if (res.status !== 200 && res.status < 500) failure = `HTTP ${res.status}: ${res.body.slice(0, 200)}`;
          } catch (err) {
            signal?.throwIfAborted();
            failure = (err as Error).message;
            answered = false;
          }
          if (failure !== undefined) {
            watcher.failed += 1;
            watcher.firstFailure ??= failure;
          }
          heartbeat({ deviceId: device.id, stage: 'soak: traffic', polls, sent: watcher.sent });
          // No answer: the rest of this poll's requests would only wait out their timeouts too.
          if (!answered) break;
        }
      } finally {
        client.close();
      }
    };

    const deadline = started + s.durationMs;
    let nextAt = started;
    await readAndAdd();
    for (;;) {
      // Sleep until the next poll, heartbeating at least every MAX_QUIET_MS.
      for (let wait = nextAt - performance.now(); wait > 0; wait = nextAt - performance.now()) {
        await sleep(Math.max(1, Math.ceil(Math.min(wait, MAX_QUIET_MS))), signal);
        if (nextAt - performance.now() > 0) heartbeat({ deviceId: device.id, stage: 'soak', polls, waitingMs: Math.round(nextAt - performance.now()) });
      }
      const obs = await unlessCancelled(probeHealth(device.healthUrl, HEALTH_TIMEOUT_MS), signal);
      polls += 1;
      if (obs.status === null) {
        unreachablePolls += 1;
        last.unreachable = describe(obs);
      } else if (!obs.healthy) {
        notReadyPolls += 1;
        last.notReady = describe(obs);
      } else if (!servesSha(obs, s.sha256)) {
        wrongShaPolls += 1;
        last.wrongSha = obs.sha256Prefix ?? '(no sha reported)';
      }
      if (obs.healthy) await sendProbes();
      if (obs.status !== null) await readAndAdd();
      heartbeat({
        deviceId: device.id, stage: 'soak', polls, notReadyPolls, wrongShaPolls, unreachablePolls,
        elapsedMs: Math.round(performance.now() - started), of: s.durationMs, last: describe(obs),
      });
      signal?.throwIfAborted();
      nextAt = Math.max(nextAt + s.pollMs, performance.now());
      if (nextAt > deadline) break;
    }

    const p95 = histogramP95Ms(increase.inferenceBuckets);
    const degraded: string[] = [];
    if (unreachablePolls) degraded.push(`${unreachablePolls} of ${polls} polls could not reach the runtime (last: ${last.unreachable})`);
    if (notReadyPolls) degraded.push(`${notReadyPolls} of ${polls} polls found the runtime not ready (last: ${last.notReady})`);
    if (wrongShaPolls) degraded.push(`${wrongShaPolls} of ${polls} polls found it serving ${last.wrongSha} instead of ${expected}`);
    if (increase.resets) degraded.push(`the runtime restarted during the soak (its counters went back to zero ${increase.resets} time(s))`);
    if (increase.intervals === 0) degraded.push(`no two /metrics readings to compare (${metricsError ?? 'no reading'}): requests, errors and p95 unknown`);
    if (increase.errors > s.maxNewErrors) degraded.push(`${increase.errors} new error responses (5xx) from /infer > maxNewErrors ${s.maxNewErrors}`);
    if (s.p95LatencyMs !== undefined && p95 && (p95.overflow || p95.p95Ms > s.p95LatencyMs)) {
      degraded.push(`inference p95 ${p95.overflow ? `above ${p95.p95Ms}` : p95.p95Ms} ms (histogram bucket bound) > ${s.p95LatencyMs} ms`);
    }
    if (watcher.failed) degraded.push(`${watcher.failed} of ${watcher.sent} of the watcher's inference requests failed (first: ${watcher.firstFailure})`);
    return {
      deviceId: device.id,
      sha256: s.sha256,
      healthy: degraded.length === 0,
      degraded,
      polls,
      notReadyPolls,
      wrongShaPolls,
      unreachablePolls,
      requests: increase.requests,
      errors: increase.errors,
      p95LatencyMs: p95?.p95Ms ?? null,
      durationMs: Math.round(performance.now() - started),
    };
  };
}
