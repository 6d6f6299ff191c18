// The EdgeInfer-compatible HTTP runtime: routes, readiness and shutdown. It listens first and
// loads the model after, so a device with a broken model still answers /healthz with the reason
// (503) instead of being unreachable — and never answers /infer with anything made up.
// With reloadOnChange it also follows `current` by itself (edge/currentWatcher.ts): the new model
// is loaded and self-tested beside the old one, and only then served; a model that fails to load
// is never claimed — /healthz keeps naming the model actually served and adds `reload_error`.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { version as packageVersion } from '../package.json';
import { currentFingerprint, watchCurrent, type CurrentWatcher } from './currentWatcher';
import { InferenceError } from './encoder';
import { readBody } from './httpBody';
import { RuntimeMetrics, routeLabel } from './metrics';
import { loadModel, type LoadedModel } from './modelLoader';
import { parseInferBody, RequestError } from './requestParsing';
import type { DeviceTrust } from './trust';
import { currentHttpDate, isoTimestamp } from './utcTime';

export interface RuntimeOptions {
  modelDir: string;
  port: number;
  host?: string; // default 127.0.0.1
  deviceId?: string; // default: the host name
  maxBatch?: number; // default 64
  maxBodyBytes?: number; // default 1 MiB
  intraOpNumThreads?: number; // default 1
  /** Worker threads running the model (default 1); 0 runs it on the event loop. See workerPool.ts. */
  inferenceWorkers?: number;
  /** Requests admitted at once; beyond it /infer answers 503 rather than queueing without bound. */
  maxInFlight?: number; // default 256
  /** Trusted release keys (edge/trust.ts): with them, only a verified release is served; else 503 with the reason. */
  trust?: DeviceTrust;
  /** Reload when `<modelDir>/current` changes (the packaged device's restart method); default false. */
  reloadOnChange?: boolean;
  /** How often `current` is looked at when reloadOnChange is on (default 500 ms). */
  reloadPollMs?: number;
  /** Told about reloads (the CLI logs them as JSON lines). */
  onEvent?: (event: string, fields: Record<string, unknown>) => void;
}

export interface RuntimeHandle {
  url: string;
  port: number;
  /** Settles when the model load attempt has finished (either healthy or unhealthy with a reason). */
  ready: Promise<void>;
  /** What GET /healthz would answer right now. */
  health(): { status: number; body: Record<string, unknown> };
  close(): Promise<void>;
}

type State = { kind: 'loading' } | { kind: 'failed'; reason: string } | { kind: 'ready'; model: LoadedModel } | { kind: 'closing' };

const JSON_HEADERS = { 'content-type': 'application/json' };

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * JSON of latents without an intermediate number[] per window. Number-to-text is the same as
 * JSON.stringify's (ToString of a finite number; the encoder has checked every value is finite).
 */
function latentJson(l: Float32Array): string {
  return `[${Array.prototype.join.call(l, ',')}]`;
}

function sendJsonText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startRuntime(opts: RuntimeOptions): Promise<RuntimeHandle> {
  const host = opts.host ?? '127.0.0.1';
  const deviceId = opts.deviceId ?? hostname();
  const maxBatch = opts.maxBatch ?? 64;
  const maxBodyBytes = opts.maxBodyBytes ?? 1024 * 1024;
  const maxInFlight = opts.maxInFlight ?? 256;
  const startedAt = performance.now();
  const metrics = new RuntimeMetrics();
  let state: State = { kind: 'loading' };
  let inFlight = 0;
  /** The last reload that failed while an older model kept serving: shown in /healthz until a reload succeeds. */
  let reloadError: { reason: string; at: string } | null = null;
  // Requests using each model: a replaced model is released only when its last request is done.
  const users = new Map<LoadedModel, number>();
  const retiring = new Set<LoadedModel>();
  const releaseWhenIdle = async (model: LoadedModel): Promise<void> => {
    if ((users.get(model) ?? 0) > 0) {
      retiring.add(model);
      return;
    }
    await model.encoder.release();
  };

  const uptimeSeconds = (): number => Math.round((performance.now() - startedAt) / 10) / 100;

  /** The /healthz body: 200 with the served model's identity, or 503 with the reason. */
  function healthBody(): { status: number; body: Record<string, unknown> } {
    if (state.kind !== 'ready') {
      const reason = state.kind === 'failed' ? state.reason : state.kind === 'loading' ? 'model loading' : 'shutting down';
      return { status: 503, body: { ok: false, reason, device: deviceId, uptime_s: uptimeSeconds() } };
    }
    const m = state.model;
    return {
      status: 200,
      body: {
        ok: true,
        model: m.stem,
        hef_sha256: m.sha256.slice(0, 16),
        sha256: m.sha256,
        uptime_s: uptimeSeconds(),
        config_version: m.metadata.schema,
        version: packageVersion,
        device: deviceId,
        latency_ms: Math.round(m.selfTestMs * 1000) / 1000,
        model_name: m.metadata.modelName,
        target: m.metadata.target,
        ...(m.release ? { release_key_id: m.release.keyId, release_sequence: m.release.sequence } : {}),
        ...(reloadError ? { reload_error: reloadError.reason, reload_error_at: reloadError.at } : {}),
      },
    };
  }

  async function infer(req: IncomingMessage, res: ServerResponse): Promise<number> {
    if (state.kind !== 'ready') {
      req.resume();
      const reason = state.kind === 'failed' ? state.reason : 'model not ready';
      sendJson(res, 503, { error: 'not ready', reason });
      return 503;
    }
    const model = state.model;
    users.set(model, (users.get(model) ?? 0) + 1);
    try {
      const text = await readBody(req, maxBodyBytes);
      const parsed = parseInferBody(text, model.normalizer, maxBatch);
      const latents = await model.encoder.run(parsed.input, parsed.count);
      metrics.recordWindows(parsed.count);
      if (parsed.kind === 'single') sendJsonText(res, 200, `{"latent":${latentJson(latents[0])}}`);
      else sendJsonText(res, 200, `{"latents":[${latents.map(latentJson).join(',')}]}`);
      return 200;
    } catch (err) {
      if (err instanceof RequestError) {
        sendJson(res, err.status, { error: 'bad request', reason: err.message });
        return err.status;
      }
      if (err instanceof InferenceError) {
        metrics.recordError(err.kind);
        sendJson(res, 500, { error: 'inference failed', reason: err.message });
        return 500;
      }
      metrics.recordError('internal');
      sendJson(res, 500, { error: 'internal error', reason: (err as Error).message });
      return 500;
    } finally {
      const left = (users.get(model) ?? 1) - 1;
      if (left > 0) users.set(model, left);
      else users.delete(model);
      if (left <= 0 && retiring.delete(model)) void model.encoder.release().catch(() => undefined);
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    const pathname = (req.url ?? '/').split('?', 1)[0];
    const label = routeLabel(pathname);
    let status: number;
    if (label === 'other') {
      req.resume();
      sendJson(res, 404, { error: 'not found', reason: `no route ${pathname}; routes: POST /infer, GET /healthz, GET /metrics` });
      status = 404;
    } else if ((label === '/infer') !== (req.method === 'POST') || (req.method !== 'GET' && req.method !== 'POST')) {
      req.resume();
      const allowed = label === '/infer' ? 'POST' : 'GET';
      res.setHeader('allow', allowed);
      sendJson(res, 405, { error: 'method not allowed', reason: `${pathname} accepts ${allowed}` });
      status = 405;
    } else if (label === '/healthz') {
      const h = healthBody();
      sendJson(res, h.status, h.body);
      status = h.status;
    } else if (label === '/metrics') {
      const text = metrics.render({
        ready: state.kind === 'ready',
        uptimeSeconds: uptimeSeconds(),
        residentMemoryBytes: process.memoryUsage.rss(),
        model: state.kind === 'ready' ? { model: state.model.stem, sha256: state.model.sha256, device: deviceId } : null,
      });
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      status = 200;
    } else if (inFlight >= maxInFlight) {
      req.resume();
      res.setHeader('retry-after', '1');
      sendJson(res, 503, { error: 'overloaded', reason: `more than ${maxInFlight} requests in flight` });
      status = 503;
    } else {
      inFlight += 1;
      try {
        status = await infer(req, res);
      } finally {
        inFlight -= 1;
      }
    }
    metrics.recordRequest(label, status, (performance.now() - t0) / 1000);
  }

  const server = createServer((req, res) => {
    // node's own Date header calls toUTCString, which loads ICU's time zone data (utcTime.ts).
    res.sendDate = false;
    res.setHeader('date', currentHttpDate());
    route(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error', reason: (err as Error).message });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  // A worker that dies after the load takes the runtime out of service with the reason (503),
  // rather than letting /infer fail request by request behind a healthy /healthz.
  // Only the model being served may take the runtime out of service: a replaced one that dies
  // while it is released says nothing about the runtime.
  const load = (): Promise<LoadedModel> => {
    let loaded: LoadedModel | undefined;
    const onFatal = (reason: string): void => {
      if (state.kind === 'loading' || (state.kind === 'ready' && (loaded === undefined || state.model === loaded))) state = { kind: 'failed', reason };
    };
    return loadModel(opts.modelDir, { intraOpNumThreads: opts.intraOpNumThreads, inferenceWorkers: opts.inferenceWorkers, onFatal, trust: opts.trust }).then((model) => {
      loaded = model;
      model.encoder.onRunSeconds = (s) => metrics.recordInference(s);
      return model;
    });
  };
  // Taken before the load, so a switch that lands during the first load is seen as a change.
  const initialFingerprint = opts.reloadOnChange ? await currentFingerprint(opts.modelDir) : '';
  const ready = load().then(
    (model) => {
      if (state.kind === 'closing') return model.encoder.release();
      state = { kind: 'ready', model };
    },
    (err: unknown) => {
      if (state.kind !== 'closing') state = { kind: 'failed', reason: (err as Error).message };
    },
  );

  // A function, not an inline test: TypeScript would keep the narrowing from before an await.
  const closingNow = (): boolean => state.kind === 'closing';
  /** `current` changed: serve what it names now, or nothing when it is gone. */
  async function reload(fingerprint: string): Promise<void> {
    if (state.kind === 'closing') return;
    const previous = state.kind === 'ready' ? state.model : null;
    const event = opts.onEvent ?? ((): void => undefined);
    if (fingerprint === 'none') {
      event('model removed', { modelDir: opts.modelDir, was: previous?.sha256 ?? null });
      state = { kind: 'failed', reason: `no model installed: ${opts.modelDir}/current does not exist` };
      reloadError = null;
      if (previous) await releaseWhenIdle(previous);
      return;
    }
    try {
      const model = await load();
      if (closingNow()) {
        await model.encoder.release();
        return;
      }
      state = { kind: 'ready', model };
      reloadError = null;
      event('model reloaded', { sha256: model.sha256, file: model.file, was: previous?.sha256 ?? null });
      if (previous) await releaseWhenIdle(previous);
    } catch (err) {
      const reason = (err as Error).message;
      event('reload failed', { reason, stillServing: state.kind === 'ready' ? state.model.sha256 : null });
      if (state.kind === 'ready') reloadError = { reason, at: isoTimestamp() };
      else if (!closingNow()) state = { kind: 'failed', reason };
    }
  }
  let watcher: CurrentWatcher | undefined;
  let reloading: Promise<void> = Promise.resolve();
  if (opts.reloadOnChange) {
    void ready.then(() => {
      if (state.kind === 'closing') return;
      watcher = watchCurrent(opts.modelDir, initialFingerprint, (fp) => (reloading = reload(fp)), opts.reloadPollMs);
    });
  }

  let closing: Promise<void> | undefined;
  function close(): Promise<void> {
    closing ??= (async () => {
      await ready;
      watcher?.stop();
      await reloading;
      const previous = state;
      state = { kind: 'closing' };
      // Idle keep-alive sockets would hold close() open; active requests get to finish.
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), 5000);
      await done;
      clearTimeout(force);
      if (previous.kind === 'ready') await previous.model.encoder.release();
      for (const model of retiring) await model.encoder.release();
      retiring.clear();
    })();
    return closing;
  }

  return { url: `http://${urlHost}:${port}`, port, ready, health: healthBody, close };
}
