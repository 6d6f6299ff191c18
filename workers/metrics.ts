// The worker processes' Prometheus endpoint: the Temporal SDK's own metrics (pollers, task slots,
// schedule-to-start latencies, activity and workflow task outcomes per task queue and type),
// served by the SDK's Core runtime on `GET /metrics` when --metrics-port / EDGESHIP_METRICS_PORT
// is given. What the series mean and the queries that matter: docs/observability.md.
import { Command, InvalidArgumentError, Option } from 'commander';

export interface MetricsFlags {
  metricsPort?: number;
  metricsHost: string;
}

export function parseMetricsPort(value: string): number {
  // A scraper needs a known port, so 0 ("any free port") is refused along with non-numbers.
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65535) {
    throw new InvalidArgumentError(`expected a port 1-65535, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

export function addMetricsFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('--metrics-port <port>', 'serve Temporal SDK metrics for Prometheus on this port (GET /metrics); off when absent').env('EDGESHIP_METRICS_PORT').argParser(parseMetricsPort))
    .addOption(
      // All interfaces by default: Prometheus usually scrapes from another host. The series carry
      // namespace, task queue and activity/workflow type names, no payloads or credentials.
      new Option('--metrics-host <address>', 'address the metrics endpoint binds').env('EDGESHIP_METRICS_HOST').default('0.0.0.0'),
    );
}

/** `host:port` for the SDK's exporter, or undefined when metrics are off. IPv6 gets brackets. */
export function metricsBindAddress(flags: MetricsFlags): string | undefined {
  if (flags.metricsPort === undefined) return undefined;
  const host = flags.metricsHost.includes(':') && !flags.metricsHost.startsWith('[') ? `[${flags.metricsHost}]` : flags.metricsHost;
  return `${host}:${flags.metricsPort}`;
}
