import { context, propagation, trace, type ProxyTracerProvider } from '@opentelemetry/api';
import type { BasicTracerProvider, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { OpenTelemetryPlugin } from '@temporalio/interceptors-opentelemetry';
import { errorMessage } from '../domain/errors';

/** The workflow half of the SDK's tracing interceptors, for bundles built ahead of time (`npm run build`). */
export const TRACING_WORKFLOW_INTERCEPTORS =
  require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

/** A process's tracing: the Temporal plugin (client, worker and workflow interceptors) and how to stop it. */
export interface Tracing {
  plugin: OpenTelemetryPlugin;
  shutdown(): Promise<void>;
}

/**
 * Starts OpenTelemetry tracing when `OTEL_TRACES_EXPORTER` names an exporter (`otlp`, `console`,
 * `zipkin`; the standard `OTEL_EXPORTER_OTLP_*` variables say where): off, and free, by default. The
 * service name is `OTEL_SERVICE_NAME` when set. Tests pass their own span processor (an in-memory exporter).
 */
export async function startTracing(
  serviceName: string,
  options: { env?: NodeJS.ProcessEnv; spanProcessor?: SpanProcessor } = {},
): Promise<Tracing | null> {
  const env = options.env ?? process.env;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (
    !options.spanProcessor &&
    (exporters.length === 0 || exporters.includes('none') || env.OTEL_SDK_DISABLED === 'true')
  )
    return null;
  // Loaded only now: the OpenTelemetry SDK and plugin cost about 150 ms at start-up, which a process without tracing does not pay.
  const [{ NodeSDK }, { Resource }, { OpenTelemetryPlugin }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/resources'),
    import('@temporalio/interceptors-opentelemetry'),
  ]);
  const resource = new Resource({ 'service.name': env.OTEL_SERVICE_NAME ?? serviceName });
  const sdk = new NodeSDK({
    resource,
    // Traces only: logs go through pino, metrics through Prometheus.
    logRecordProcessors: [],
    ...(options.spanProcessor ? { spanProcessors: [options.spanProcessor] } : {}),
  });
  sdk.start();
  // Workflow spans are recorded inside the workflow sandbox and handed out through a sink: they need the
  // same processor the SDK built from the environment.
  const provider = (trace.getTracerProvider() as ProxyTracerProvider).getDelegate() as Partial<BasicTracerProvider>;
  // No provider registered: the SDK found no exporter it knows in OTEL_TRACES_EXPORTER (and said so).
  if (!options.spanProcessor && typeof provider.getActiveSpanProcessor !== 'function') {
    void sdk.shutdown().catch(() => undefined);
    return null;
  }
  const spanProcessor = options.spanProcessor ?? provider.getActiveSpanProcessor!();
  return {
    plugin: new OpenTelemetryPlugin({ resource, spanProcessor }),
    /** Flushes what is left and stops; never rejects (an exporter that is down must not fail a shutdown). */
    async shutdown() {
      await sdk
        .shutdown()
        .catch((err: unknown) =>
          process.stderr.write(`tracing: the last spans were not exported: ${errorMessage(err)}\n`),
        );
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
