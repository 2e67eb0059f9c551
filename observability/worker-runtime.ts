import { Runtime, type RuntimeOptions } from '@temporalio/worker';
import { BusinessMetric, TIME_TO_TERMINAL_BUCKETS_SECONDS } from '../domain/business-metrics';
import { TemporalPinoLogger, type PinoLogger } from './logger';

export interface WorkerRuntimeOptions {
  /** Every SDK line (worker, activity, workflow) goes through this logger. */
  logger: PinoLogger;
  /** Where Prometheus scrapes the worker: `http://host:port/metrics`. */
  metrics: { host: string; port: number };
  /** Signals the SDK turns into a graceful worker shutdown; `npm start` handles its own. */
  shutdownSignals?: NodeJS.Signals[];
}

/** The worker's telemetry: the SDK core's log lines forwarded, and a Prometheus exporter for the SDK's metrics and the business metrics. */
export function workerTelemetry(metrics: WorkerRuntimeOptions['metrics']): NonNullable<RuntimeOptions['telemetryOptions']> {
  return {
    // The SDK core's own lines (connection trouble, non-determinism) go through the same logger as JSON.
    logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
    metrics: {
      prometheus: {
        bindAddress: `${metrics.host}:${metrics.port}`,
        // Prometheus conventions: counters end in `_total`, durations are in seconds.
        countersTotalSuffix: true,
        useSecondsForDurations: true,
        histogramBucketOverrides: { [BusinessMetric.timeToTerminal]: TIME_TO_TERMINAL_BUCKETS_SECONDS },
      },
    },
  };
}

/** Installs the process's Temporal runtime (once per process, before any connection or worker). */
export function installWorkerRuntime(options: WorkerRuntimeOptions): void {
  Runtime.install({
    logger: new TemporalPinoLogger(options.logger),
    telemetryOptions: workerTelemetry(options.metrics),
    ...(options.shutdownSignals ? { shutdownSignals: options.shutdownSignals } : {}),
  });
}
