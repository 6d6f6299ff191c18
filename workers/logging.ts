// One JSON log stream per worker process (pino on stderr), and the Temporal SDK's own messages
// routed into it, so an operator reads a single log per device or GPU server.
import { Runtime, type LogLevel, type LogMetadata, type Logger } from '@temporalio/worker';
import pino from 'pino';

export type ProcessLogger = pino.Logger;

export function createProcessLogger(name: string, bindings: Record<string, unknown> = {}): ProcessLogger {
  return pino({ name, level: process.env.EDGESHIP_LOG_LEVEL ?? 'info' }, pino.destination(2)).child(bindings);
}

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

class PinoSdkLogger implements Logger {
  constructor(private readonly log_: ProcessLogger) {}
  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    this.log_[LEVELS[level]](meta ?? {}, message);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

export interface WorkerRuntimeOptions {
  /** `host:port` where the SDK serves its metrics in Prometheus format (workers/metrics.ts); off when absent. */
  metricsBindAddress?: string;
}

/**
 * Installs the SDK runtime for a worker process: its logs go to `logger`, SIGINT/SIGTERM make
 * running workers drain (finish or cancel their activities) before the process exits, and with a
 * bind address the SDK's metrics are served for Prometheus on `GET /metrics`.
 * Only entry points call this: Runtime.install works once per process, before any worker.
 */
export function installWorkerRuntime(logger: ProcessLogger, opts: WorkerRuntimeOptions = {}): void {
  Runtime.install({
    logger: new PinoSdkLogger(logger.child({ component: 'temporal-sdk' })),
    shutdownSignals: ['SIGINT', 'SIGTERM'],
    // SDK defaults kept on purpose (durations in milliseconds, counters without `_total`): they are
    // the names Temporal's documentation and published SDK dashboards use.
    ...(opts.metricsBindAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: opts.metricsBindAddress } } } } : {}),
  });
  if (opts.metricsBindAddress) logger.info({ metrics: `http://${opts.metricsBindAddress}/metrics` }, 'temporal sdk metrics for prometheus');
}
