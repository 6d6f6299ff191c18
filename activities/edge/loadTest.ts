// HTTP measurement against a device's inference endpoint: single-stream latency (one request at
// a time, like MLPerf LoadGen's SingleStream) and closed-loop throughput (N requests always in
// flight for a fixed window, throughput = completed / window, like perf_analyzer's concurrency
// mode). node:http with keep-alive, so we measure the runtime rather than connection setup.
import { Agent, request } from 'node:http';

export interface HttpResponse {
  status: number;
  body: string;
}

export class LoadClient {
  private readonly agent: Agent;

  constructor(maxSockets: number, private readonly timeoutMs = 10_000) {
    this.agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  send(method: 'GET' | 'POST', url: string, body?: Buffer): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = {};
      if (body) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = body.length;
      }
      const req = request(url, { method, agent: this.agent, headers, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no response from ${url} within ${this.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Errors that mean "could not talk to the device", as opposed to "the device answered badly". */
export function isNetworkError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'ECONNABORTED'].includes(code);
}

function describeFailure(r: HttpResponse | Error): string {
  if (r instanceof Error) return r.message;
  return `HTTP ${r.status}: ${r.body.slice(0, 200)}`;
}

export interface SequentialResult {
  samplesMs: number[];
  errors: number;
  firstError?: string;
}

/** `count` requests one after another, cycling through `bodies`; latency of each success. */
export async function measureSequential(
  client: LoadClient,
  url: string,
  bodies: Buffer[],
  count: number,
  opts: { signal?: AbortSignal; onProgress?: (done: number) => void } = {},
): Promise<SequentialResult> {
  const samplesMs: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  for (let i = 0; i < count; i++) {
    opts.signal?.throwIfAborted();
    const t0 = performance.now();
    let outcome: HttpResponse | Error;
    try {
      outcome = await client.send('POST', url, bodies[i % bodies.length]);
    } catch (err) {
      outcome = err as Error;
    }
    const ms = performance.now() - t0;
    if (!(outcome instanceof Error) && outcome.status === 200) samplesMs.push(ms);
    else {
      errors += 1;
      firstError ??= describeFailure(outcome);
    }
    if (i % 50 === 49) opts.onProgress?.(i + 1);
  }
  return { samplesMs, errors, firstError };
}

export interface ConcurrentResult {
  concurrency: number;
  durationMs: number; // the measured window
  completed: number; // successful responses that finished inside the window
  errors: number;
  rps: number;
  /** Latency of each counted request, under this concurrency (queueing included). */
  latenciesMs: number[];
  firstError?: string;
}

/**
 * Keeps `concurrency` requests in flight for `durationMs`. Only requests that finish inside the
 * window count; those still in flight at its end are awaited (so nothing leaks) but not counted.
 */
export async function measureConcurrent(
  client: LoadClient,
  url: string,
  bodies: Buffer[],
  concurrency: number,
  durationMs: number,
  opts: { signal?: AbortSignal } = {},
): Promise<ConcurrentResult> {
  let completed = 0;
  let errors = 0;
  let firstError: string | undefined;
  const latenciesMs: number[] = [];
  let next = 0;
  const start = performance.now();
  const deadline = start + durationMs;
  const lane = async (): Promise<void> => {
    while (performance.now() < deadline && !opts.signal?.aborted) {
      const body = bodies[next++ % bodies.length];
      let outcome: HttpResponse | Error;
      const t0 = performance.now();
      try {
        outcome = await client.send('POST', url, body);
      } catch (err) {
        outcome = err as Error;
      }
      const t1 = performance.now();
      if (t1 > deadline) break;
      if (!(outcome instanceof Error) && outcome.status === 200) {
        completed += 1;
        latenciesMs.push(t1 - t0);
      }
      else {
        errors += 1;
        firstError ??= describeFailure(outcome);
        // A refusing device fails instantly; pause so the loop does not spin a core on errors.
        if (outcome instanceof Error) await new Promise((r) => setTimeout(r, 5));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  opts.signal?.throwIfAborted();
  const windowMs = Math.min(performance.now(), deadline) - start;
  return { concurrency, durationMs: windowMs, completed, errors, rps: windowMs > 0 ? completed / (windowMs / 1000) : 0, latenciesMs, firstError };
}
