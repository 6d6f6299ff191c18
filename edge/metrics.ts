// The runtime's counters and the Prometheus text exposition (format 0.0.4). Plain objects, not a
// client library: the runtime needs a handful of series and must stay small on a device.

export const LATENCY_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Routes are a closed set so an attacker's random paths cannot grow the series without bound. */
export const KNOWN_ROUTES = ['/infer', '/healthz', '/metrics'] as const;
export function routeLabel(pathname: string): string {
  return (KNOWN_ROUTES as readonly string[]).includes(pathname) ? pathname : 'other';
}

class Histogram {
  readonly counts = new Array<number>(LATENCY_BUCKETS_S.length).fill(0);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    this.sum += seconds;
    this.count += 1;
    for (let i = 0; i < LATENCY_BUCKETS_S.length; i++) {
      if (seconds <= LATENCY_BUCKETS_S[i]) this.counts[i] += 1;
    }
  }
}

export interface ModelInfoLabels {
  model: string;
  sha256: string;
  device: string;
}

export interface MetricsSnapshotExtras {
  ready: boolean;
  uptimeSeconds: number;
  residentMemoryBytes: number;
  model: ModelInfoLabels | null;
}

export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(obj: Record<string, string>): string {
  const parts = Object.entries(obj).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

export class RuntimeMetrics {
  private readonly requests = new Map<string, number>(); // key: route \0 status
  private readonly durations = new Map<string, Histogram>();
  private readonly errors = new Map<string, number>();
  private readonly inference = new Histogram();
  private windows = 0;

  recordRequest(route: string, status: number, seconds: number): void {
    const key = `${route}\0${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    let h = this.durations.get(route);
    if (!h) this.durations.set(route, (h = new Histogram()));
    h.observe(seconds);
  }

  /** Failures on our side (model run errors, non-finite outputs): not the client's bad requests. */
  recordError(kind: string): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
  }

  recordWindows(n: number): void {
    this.windows += n;
  }

  /** One model run (session.run and the output checks), without HTTP, parsing or queueing. */
  recordInference(seconds: number): void {
    this.inference.observe(seconds);
  }

  render(extras: MetricsSnapshotExtras): string {
    const out: string[] = [];
    out.push('# HELP edgeship_http_requests_total HTTP requests by route and status code.');
    out.push('# TYPE edgeship_http_requests_total counter');
    for (const [key, n] of [...this.requests].sort()) {
      const [route, status] = key.split('\0');
      out.push(`edgeship_http_requests_total${labels({ route, status })} ${n}`);
    }
    out.push('# HELP edgeship_errors_total Server-side failures by kind (model run errors, non-finite outputs).');
    out.push('# TYPE edgeship_errors_total counter');
    for (const [kind, n] of [...this.errors].sort()) out.push(`edgeship_errors_total${labels({ kind })} ${n}`);
    out.push('# HELP edgeship_inference_windows_total Windows run through the model.');
    out.push('# TYPE edgeship_inference_windows_total counter');
    out.push(`edgeship_inference_windows_total ${this.windows}`);
    out.push('# HELP edgeship_request_duration_seconds Request handling time by route.');
    out.push('# TYPE edgeship_request_duration_seconds histogram');
    // Code-unit order, not localeCompare: the labels are ASCII routes, and the first localeCompare
    // builds ICU's collator (about 2.9 MiB of RSS in a process that has no other use for it).
    for (const [route, h] of [...this.durations].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      LATENCY_BUCKETS_S.forEach((le, i) => out.push(`edgeship_request_duration_seconds_bucket${labels({ route, le: String(le) })} ${h.counts[i]}`));
      out.push(`edgeship_request_duration_seconds_bucket${labels({ route, le: '+Inf' })} ${h.count}`);
      out.push(`edgeship_request_duration_seconds_sum${labels({ route })} ${h.sum}`);
      out.push(`edgeship_request_duration_seconds_count${labels({ route })} ${h.count}`);
    }
    out.push('# HELP edgeship_inference_duration_seconds Model run time per run (session.run and output checks; no HTTP, parsing or queueing).');
    out.push('# TYPE edgeship_inference_duration_seconds histogram');
    LATENCY_BUCKETS_S.forEach((le, i) => out.push(`edgeship_inference_duration_seconds_bucket${labels({ le: String(le) })} ${this.inference.counts[i]}`));
    out.push(`edgeship_inference_duration_seconds_bucket${labels({ le: '+Inf' })} ${this.inference.count}`);
    out.push(`edgeship_inference_duration_seconds_sum ${this.inference.sum}`);
    out.push(`edgeship_inference_duration_seconds_count ${this.inference.count}`);
    out.push('# HELP edgeship_model_info The model being served (value 1), labelled with its sha256.');
    out.push('# TYPE edgeship_model_info gauge');
    if (extras.model) out.push(`edgeship_model_info${labels({ model: extras.model.model, sha256: extras.model.sha256, device: extras.model.device })} 1`);
    out.push('# HELP edgeship_ready 1 when the model is loaded and its self-test passed.');
    out.push('# TYPE edgeship_ready gauge');
    out.push(`edgeship_ready ${extras.ready ? 1 : 0}`);
    out.push('# HELP edgeship_uptime_seconds Seconds since the runtime started.');
    out.push('# TYPE edgeship_uptime_seconds gauge');
    out.push(`edgeship_uptime_seconds ${extras.uptimeSeconds}`);
    out.push('# HELP process_resident_memory_bytes Resident set size of the runtime process.');
    out.push('# TYPE process_resident_memory_bytes gauge');
    out.push(`process_resident_memory_bytes ${extras.residentMemoryBytes}`);
    return out.join('\n') + '\n';
  }
}
