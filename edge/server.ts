// The EdgeInfer-compatible HTTP runtime: routes, readiness and shutdown. It listens first and
// loads the model after, so a device with a broken model still answers /healthz with the reason
// (503) instead of being unreachable — and never answers /infer with anything made up.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { version as packageVersion } from '../package.json';
import { InferenceError } from './encoder';
import { readBody } from './httpBody';
import { RuntimeMetrics, routeLabel } from './metrics';
import { loadModel, type LoadedModel } from './modelLoader';
import { parseInferBody, RequestError } from './requestParsing';
import type { DeviceTrust } from './trust';

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
  const onFatal = (reason: string): void => {
    if (state.kind === 'ready' || state.kind === 'loading') state = { kind: 'failed', reason };
  };
  const ready = loadModel(opts.modelDir, { intraOpNumThreads: opts.intraOpNumThreads, inferenceWorkers: opts.inferenceWorkers, onFatal, trust: opts.trust }).then(
    (model) => {
      if (state.kind === 'closing') return model.encoder.release();
      model.encoder.onRunSeconds = (s) => metrics.recordInference(s);
      state = { kind: 'ready', model };
    },
    (err: unknown) => {
      if (state.kind !== 'closing') state = { kind: 'failed', reason: (err as Error).message };
    },
  );

  let closing: Promise<void> | undefined;
  function close(): Promise<void> {
    closing ??= (async () => {
      await ready;
      const previous = state;
      state = { kind: 'closing' };
      // Idle keep-alive sockets would hold close() open; active requests get to finish.
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), 5000);
      await done;
      clearTimeout(force);
      if (previous.kind === 'ready') await previous.model.encoder.release();
    })();
    return closing;
  }

  return { url: `http://${urlHost}:${port}`, port, ready, health: healthBody, close };
}
