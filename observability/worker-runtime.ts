import type { MetricTags } from '@temporalio/common';
import { Runtime, type InjectedSinks, type RuntimeOptions } from '@temporalio/worker';
import {
  BusinessMetrics,
  TIME_TO_TERMINAL_BUCKETS_SECONDS,
  type BusinessMetric,
  type BusinessMetricsSinks,
} from '../domain/business-metrics';
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
export function workerTelemetry(
  metrics: WorkerRuntimeOptions['metrics'],
): NonNullable<RuntimeOptions['telemetryOptions']> {
  return {
    // The SDK core's own lines (connection trouble, non-determinism) go through the same logger as JSON.
    logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
    metrics: {
      prometheus: {
        bindAddress: `${metrics.host}:${metrics.port}`,
        // Prometheus conventions: counters end in `_total`, durations are in seconds.
        countersTotalSuffix: true,
        useSecondsForDurations: true,
        histogramBucketOverrides: { [BusinessMetrics.timeToTerminal.name]: TIME_TO_TERMINAL_BUCKETS_SECONDS },
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

/**
 * Recordings the worker remembers to count each occurrence once: a refused workflow task runs again within
 * seconds, so the last hundred thousand are plenty (a few MB).
 */
const RECORDINGS_REMEMBERED = 100_000;

/**
 * The worker's side of the workflows' business-metrics sink: each recording goes to the runtime's metric
 * meter, which the Prometheus exporter above serves, labelled with the workflow's namespace, task queue and
 * type in the SDK's own label names. Skipped while replaying, as the SDK's metric sink is, and when the
 * same occurrence was counted already: a workflow task the server refused (a signal arrived as it
 * completed the workflow) runs again on this worker and records it a second time. A run that moves to
 * another worker in between may still count twice.
 */
export function businessMetricsSinks(): InjectedSinks<BusinessMetricsSinks> {
  // The runtime's meter when first needed, not now: looking it up would install a default runtime early.
  const meter = () => Runtime.instance().metricMeter;
  // Creating an instrument is a call into the SDK core: one per metric, made on its first recording.
  const instruments = new Map<BusinessMetric, (value: number, tags: MetricTags) => void>();
  const instrument = (metric: BusinessMetric) => {
    let record = instruments.get(metric);
    if (!record) {
      const { name, kind, unit, help } = BusinessMetrics[metric];
      if (kind === 'counter') {
        const counter = meter().createCounter(name, unit, help);
        record = (value, tags) => counter.add(value, tags);
      } else {
        const histogram = meter().createHistogram(name, 'float', unit, help);
        record = (value, tags) => histogram.record(value, tags);
      }
      instruments.set(metric, record);
    }
    return record;
  };
  const counted = new RecentlySeen(RECORDINGS_REMEMBERED);
  return {
    businessMetrics: {
      record: {
        fn: (info, metric, value, labels, occurrence) => {
          if (counted.checkIn(`${info.runId} ${metric} ${occurrence}`)) return;
          instrument(metric)(value, {
            namespace: info.namespace,
            task_queue: info.taskQueue,
            workflow_type: info.workflowType,
            ...labels,
          });
        },
        callDuringReplay: false,
      },
    },
  };
}

/** The last `capacity` keys checked in, oldest forgotten first. */
class RecentlySeen {
  private readonly keys = new Set<string>();

  constructor(private readonly capacity: number) {}

  /** True when `key` was checked in before (and is still remembered); remembers it either way. */
  checkIn(key: string): boolean {
    if (this.keys.has(key)) return true;
    this.keys.add(key);
    if (this.keys.size > this.capacity) this.keys.delete(this.keys.values().next().value!);
    return false;
  }
}
