// A bounded GET over node:http for the edge activities' probes of the runtime (/healthz,
// /metrics). Not fetch: the first fetch loads undici into the edge worker, about 10 MiB of RSS
// against node:http's 2 (docs/install-device.md, Memory), for a few small GETs on loopback.
import * as http from 'node:http';

export interface HttpGetResult {
  status: number;
  body: string;
}

/** Why a GET got no answer: `timeout` (no complete answer in time), `aborted` (the caller's signal), or a network error's code. */
export class HttpGetError extends Error {
  constructor(readonly kind: 'timeout' | 'aborted' | 'network', message: string, readonly code?: string) {
    super(message);
    this.name = kind === 'timeout' ? 'TimeoutError' : kind === 'aborted' ? 'AbortError' : 'HttpGetError';
  }
}

export interface HttpGetOptions {
  /** Bound on the whole exchange, answer body included. */
  timeoutMs: number;
  signal?: AbortSignal;
  headers?: Record<string, string>;
  /** A longer body is an error (default 4 MiB): the probes read small JSON and text. */
  maxBytes?: number;
}

export async function httpGet(url: string, opts: HttpGetOptions): Promise<HttpGetResult> {
  const u = new URL(url);
  const get = u.protocol === 'https:' ? (await import('node:https')).get : u.protocol === 'http:' ? http.get : null;
  if (!get) throw new HttpGetError('network', `unsupported protocol ${u.protocol} in ${url}`);
  opts.signal?.throwIfAborted();
  const maxBytes = opts.maxBytes ?? 4 * 1024 * 1024;
  return new Promise<HttpGetResult>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null, result?: HttpGetResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(result as HttpGetResult);
    };
    const onAbort = (): void => finish(new HttpGetError('aborted', `GET ${url} aborted`));
    const req = get(u, { headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (bytes > maxBytes) finish(new HttpGetError('network', `GET ${url}: answer larger than ${maxBytes} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => finish(null, { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (e: NodeJS.ErrnoException) => finish(new HttpGetError('network', e.message, e.code)));
    });
    req.on('error', (e: NodeJS.ErrnoException) => finish(new HttpGetError('network', e.message, e.code)));
    const timer = setTimeout(() => finish(new HttpGetError('timeout', `GET ${url}: no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
