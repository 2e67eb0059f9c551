import { context, propagation, trace, type ProxyTracerProvider } from '@opentelemetry/api';
import { Resource } from '@opentelemetry/resources';
import type { BasicTracerProvider, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { OpenTelemetryPlugin } from '@temporalio/interceptors-opentelemetry';

/** The workflow half of the SDK's tracing interceptors, for bundles built ahead of time (`npm run build`). */
export const TRACING_WORKFLOW_INTERCEPTORS = require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

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
export function startTracing(serviceName: string, options: { env?: NodeJS.ProcessEnv; spanProcessor?: SpanProcessor } = {}): Tracing | null {
  const env = options.env ?? process.env;
  const exporters = env.OTEL_TRACES_EXPORTER?.trim();
  if (!options.spanProcessor && (!exporters || exporters === 'none')) return null;
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
  const provider = (trace.getTracerProvider() as ProxyTracerProvider).getDelegate() as BasicTracerProvider;
  const spanProcessor = options.spanProcessor ?? provider.getActiveSpanProcessor();
  return {
    plugin: new OpenTelemetryPlugin({ resource, spanProcessor }),
    async shutdown() {
      await sdk.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
