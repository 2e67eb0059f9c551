import type { NextFunction, Request, Response } from 'express';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { routeOf } from '../observability/route';

/** What became of a payment webhook, as `orders_api_webhooks_total` counts it. */
const WEBHOOK_OUTCOMES = [
  'accepted',
  'late_refund',
  'duplicate',
  'ignored',
  'refused_signature',
  'malformed',
  'unknown_provider',
  'error',
] as const;
export type WebhookOutcome = (typeof WEBHOOK_OUTCOMES)[number];

/** The API's Prometheus metrics, on a registry of its own (so apps in one process never share series). */
export function createApiMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // prom-client's totals of the active handles, requests and resources are gauges named as counters, which
  // Prometheus's conventions refuse; sum() over the by-type gauge of each gives the same number.
  for (const misnamed of [
    'nodejs_active_handles_total',
    'nodejs_active_requests_total',
    'nodejs_active_resources_total',
  ]) {
    registry.removeSingleMetric(misnamed);
  }
  const requests = new Counter({
    name: 'orders_api_http_requests_total',
    help: 'HTTP requests answered, by method, route and status code',
    labelNames: ['method', 'route', 'code'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'orders_api_http_request_duration_seconds',
    help: 'HTTP request latency, by method, route and status code',
    labelNames: ['method', 'route', 'code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  const webhooks = new Counter({
    name: 'orders_api_webhooks_total',
    help: `Payment webhooks received, by provider and outcome (${WEBHOOK_OUTCOMES.join(', ')})`,
    labelNames: ['provider', 'outcome'] as const,
    registers: [registry],
  });

  /** Times every request; the route label is the matched pattern, never the raw path (ids would explode it). */
  function middleware(req: Request, res: Response, next: NextFunction): void {
    const stop = duration.startTimer();
    res.on('finish', () => {
      const labels = { method: req.method, route: routeOf(req), code: String(res.statusCode) };
      requests.inc(labels);
      stop(labels);
    });
    next();
  }

  return { registry, middleware, webhooks };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;
