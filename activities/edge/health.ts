// Asks the device's runtime which model it serves. The only proof a swap (or a restore) took
// effect is /healthz naming the expected sha: a file on disk proves nothing about what is loaded.
//
// Waiting rules, both bounded by a deadline and heartbeating on every poll:
// - waitForServedSha: a 503, an unreachable runtime or a healthy runtime with another sha all
//   keep waiting (the runtime may still be loading, or the old process still answering while it
//   stops). At the deadline: HealthCheckFailed when the runtime was last seen healthy but serving
//   another model (the switch did not take effect: a config that ignores `current`, a restart
//   that did not restart), otherwise HealthCheckTimeout with the last status and reason (e.g.
//   the runtime's "onnxruntime cannot load …"). Both are retryable per common/errors.ts: a slow
//   device can pass on retry, and the workflow's retry policy bounds the attempts.
//   The failure reports the last REAL observation: a probe cut short only because the deadline
//   clipped its timeout tells nothing about the runtime, so it never hides the HTTP answer before.
// - waitForNoModel: success only on an HTTP answer that says "not serving" (non-200 or ok:false),
//   which proves the runtime is up and holds no model; an unreachable runtime proves nothing.
import { ErrorType } from '../../common/errors';
import { heartbeat, sleep } from './activityContext';
import { edgeFailure } from './failures';
import { httpGet, HttpGetError, type HttpGetResult } from './httpGet';

export interface HealthObservation {
  status: number | null; // null: no HTTP answer
  healthy: boolean; // 200 and ok:true
  sha256Prefix: string | null; // hef_sha256
  sha256: string | null; // full sha, when the runtime reports it
  reason: string | null; // the runtime's reason for a 503, or the network error
  /** The request was aborted by its own timeout (no answer within it). */
  timedOut?: boolean;
}

export interface WaitOptions {
  healthUrl: string;
  timeoutMs: number;
  pollIntervalMs?: number;
  /** Per-request bound, so one hung connection cannot eat the whole wait. */
  requestTimeoutMs?: number;
  deviceId?: string;
}

export interface WaitResult {
  observation: HealthObservation;
  waitedMs: number;
  polls: number;
}

export const SHA_PREFIX_LENGTH = 16;

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** AbortSignal.timeout() and setTimeout() want whole milliseconds (a fraction is ERR_OUT_OF_RANGE). */
export function wholeMs(ms: number): number {
  return Number.isFinite(ms) ? Math.max(1, Math.ceil(ms)) : 1;
}

export async function probeHealth(healthUrl: string, requestTimeoutMs = 2000): Promise<HealthObservation> {
  const timeoutMs = wholeMs(requestTimeoutMs);
  let res: HttpGetResult;
  try {
    res = await httpGet(healthUrl, { timeoutMs, headers: { accept: 'application/json' } });
  } catch (err) {
    if (err instanceof HttpGetError && err.kind === 'timeout') {
      return { status: null, healthy: false, sha256Prefix: null, sha256: null, reason: `unreachable: no answer within ${timeoutMs} ms`, timedOut: true };
    }
    return { status: null, healthy: false, sha256Prefix: null, sha256: null, reason: `unreachable: ${(err as HttpGetError).code ?? (err as Error).message}` };
  }
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(res.body);
    if (parsed && typeof parsed === 'object') body = parsed as Record<string, unknown>;
  } catch {
    // A non-JSON body is reported through the status alone.
  }
  return {
    status: res.status,
    healthy: res.status === 200 && body.ok === true,
    sha256Prefix: str(body.hef_sha256),
    sha256: str(body.sha256),
    reason: str(body.reason) ?? (res.status === 200 ? null : `HTTP ${res.status}`),
  };
}

/** True when the observation proves the runtime serves exactly `sha256`. */
export function servesSha(obs: HealthObservation, sha256: string): boolean {
  if (!obs.healthy || obs.sha256Prefix !== sha256.slice(0, SHA_PREFIX_LENGTH)) return false;
  // The prefix is the contract; a runtime that also reports the full sha must agree on all of it.
  return obs.sha256 === null || obs.sha256 === sha256;
}

function describe(obs: HealthObservation): string {
  if (obs.status === null) return obs.reason ?? 'unreachable';
  if (obs.healthy) return `healthy, serving ${obs.sha256Prefix ?? '(no sha reported)'}`;
  return `HTTP ${obs.status}${obs.reason ? `: ${obs.reason}` : ''}`;
}

async function poll(opts: WaitOptions, stage: string, done: (obs: HealthObservation) => boolean): Promise<WaitResult & { met: boolean }> {
  const start = performance.now();
  const deadline = start + opts.timeoutMs;
  const interval = wholeMs(opts.pollIntervalMs ?? 250);
  const requestTimeoutMs = wholeMs(opts.requestTimeoutMs ?? 2000);
  let polls = 0;
  let last: HealthObservation | null = null;
  for (;;) {
    // The last probe gets what is left of the wait (at least 100 ms, so it can still answer).
    const slice = Math.min(requestTimeoutMs, Math.max(100, Math.floor(deadline - performance.now())));
    const observation = await probeHealth(opts.healthUrl, slice);
    polls += 1;
    // A probe aborted only because the deadline shortened its timeout says nothing about the
    // runtime: it must not replace the answer seen before it.
    const clipped = observation.timedOut === true && slice < requestTimeoutMs;
    if (!clipped || last === null) last = observation;
    const waitedMs = Math.round(performance.now() - start);
    heartbeat({ deviceId: opts.deviceId, stage, polls, waitedMs, last: describe(last) });
    if (done(observation)) return { observation, waitedMs, polls, met: true };
    if (performance.now() + interval > deadline) return { observation: last, waitedMs, polls, met: false };
    await sleep(interval);
  }
}

export async function waitForServedSha(opts: WaitOptions & { sha256: string }): Promise<WaitResult> {
  const r = await poll(opts, 'health: waiting for the new model', (obs) => servesSha(obs, opts.sha256));
  if (r.met) return r;
  const obs = r.observation;
  const details = { deviceId: opts.deviceId, healthUrl: opts.healthUrl, expectedSha256Prefix: opts.sha256.slice(0, SHA_PREFIX_LENGTH), lastStatus: obs.status, lastReason: obs.reason, lastSha256Prefix: obs.sha256Prefix, waitedMs: r.waitedMs, polls: r.polls };
  if (obs.healthy) {
    throw edgeFailure(ErrorType.HealthCheckFailed, `${opts.healthUrl} stayed healthy but serves ${obs.sha256Prefix ?? '(no sha)'} instead of ${details.expectedSha256Prefix} after ${r.waitedMs} ms: the runtime did not load the switched model`, details);
  }
  throw edgeFailure(ErrorType.HealthCheckTimeout, `${opts.healthUrl} did not report ${details.expectedSha256Prefix} within ${opts.timeoutMs} ms; last: ${describe(obs)}`, details);
}

export async function waitForNoModel(opts: WaitOptions): Promise<WaitResult> {
  const r = await poll(opts, 'health: waiting for the runtime to serve no model', (obs) => obs.status !== null && !obs.healthy);
  if (r.met) return r;
  const obs = r.observation;
  const details = { deviceId: opts.deviceId, healthUrl: opts.healthUrl, lastStatus: obs.status, lastReason: obs.reason, lastSha256Prefix: obs.sha256Prefix, waitedMs: r.waitedMs, polls: r.polls };
  if (obs.healthy) {
    throw edgeFailure(ErrorType.HealthCheckFailed, `${opts.healthUrl} still serves ${obs.sha256Prefix ?? '(no sha)'} after its model was removed (${r.waitedMs} ms)`, details);
  }
  throw edgeFailure(ErrorType.HealthCheckTimeout, `${opts.healthUrl} did not answer "no model" within ${opts.timeoutMs} ms; last: ${describe(obs)}`, details);
}
