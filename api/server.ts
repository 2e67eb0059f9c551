import express, { type NextFunction, type Request, type Response } from 'express';
import type { Client } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import { requireScope } from './auth';
import { codecRouter } from './codec-routes';
import { ClosedOrdersSweep } from './closed-orders';
import { ORDER_TASK_QUEUE } from '../domain/contract';
import type { Config } from '../config';
import { createApiMetrics } from './metrics';
import { openApiDocument } from './openapi';
import { ordersRouter } from './orders-routes';
import { OrderStreams } from './order-streams';
import { OrdersService, OrderStoreUnavailableError } from './orders-service';
import type { OrderStore } from '../store/order-store';
import { problem, serviceUnavailable } from './problem';
import { admitStarts, StartAdmission } from './admission';
import { isTemporalUnavailable } from './temporal-unavailable';
import { webhookRouter } from './webhooks';
import { orderIds, requestLog } from '../observability/request-log';
import { createLogger, type PinoLogger } from '../observability/logger';
import { traceRequests } from '../observability/trace-context';

export interface AppOptions {
  client: Client;
  /** The store of record: where an order's id is placed first, and what the API reads once Temporal forgot it. */
  store: OrderStore;
  config: Pick<
    Config,
    | 'paymentProviders'
    | 'apiKeys'
    | 'saga'
    | 'orderAcceptTimeoutMs'
    | 'maxStartsInFlight'
    | 'startQueueWaitMs'
    | 'codecCorsOrigins'
    | 'orderStreams'
  >;
  /** The payload codec the stack encrypts with, served at /codec/* for the Web UI. */
  codec: PayloadCodec;
  /** The task queue new workflows go to; tests give each suite its own. */
  taskQueue?: string;
  /** Where request lines go; silent when not given (tests), `bin/api.ts` gives the process's logger. */
  logger?: PinoLogger;
  /**
   * Runs the sweep that writes orders closed otherwise into the store (see {@link ClosedOrdersSweep}): what
   * an API process does. A second app over the same store, as some tests make, needs none.
   */
  sweepClosedOrders?: boolean;
}

/** Body-parser errors that are the caller's: they get their own status, never a 500. */
const CLIENT_ERRORS: Record<string, { status: number; title: string }> = {
  'entity.too.large': { status: 413, title: 'Body too large' },
  'entity.parse.failed': { status: 400, title: 'Malformed JSON' },
  'encoding.unsupported': { status: 415, title: 'Unsupported content encoding' },
  'charset.unsupported': { status: 415, title: 'Unsupported charset' },
  'request.aborted': { status: 400, title: 'Request aborted' },
};

/** The API's express app, and how to stop its background work (live streams, the closed-orders sweep) when the process stops. */
export type ApiApp = express.Express & { stopBackground(): void };

/** The API as an express app, without listening: `bin/api.ts` serves it, tests drive it with supertest. */
export function createApp({
  client,
  store,
  config,
  codec,
  taskQueue = ORDER_TASK_QUEUE,
  logger = createLogger({ level: 'silent' }),
  sweepClosedOrders = false,
}: AppOptions): ApiApp {
  const service = new OrdersService(client, store, {
    taskQueue,
    saga: config.saga,
    acceptTimeoutMs: config.orderAcceptTimeoutMs,
    logger: logger.child({ component: 'api' }),
  });
  const metrics = createApiMetrics();
  const admission = new StartAdmission(config.maxStartsInFlight, config.startQueueWaitMs, metrics.registry);
  const openApi = openApiDocument();

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.post('/orders', admitStarts(admission, config.apiKeys));
  app.use(traceRequests('api'));
  app.use(metrics.middleware);
  app.use(requestLog(logger));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  // Ready while Temporal answers, shedding or not: a shedding API still serves reads and webhooks.
  app.get('/readyz', async (_req, res) => {
    const ready = await service.ready();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'temporal unreachable', ...admission.status() });
  });
  app.get('/openapi.json', (_req, res) => {
    res.json(openApi);
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.use(webhookRouter({ orders: service, providers: config.paymentProviders, metrics, logger }));
  app.use(
    codecRouter({ codec, corsOrigins: config.codecCorsOrigins, auth: requireScope(config.apiKeys, 'orders:operate') }),
  );
  const streams = new OrderStreams(service, config.orderStreams);
  const sweep = sweepClosedOrders ? new ClosedOrdersSweep(service) : null;
  app.use(ordersRouter(service, streams, config.apiKeys));

  app.use((_req, res) => problem(res, 404, 'Not found', 'no such route'));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const known = CLIENT_ERRORS[(err as { type?: string }).type ?? ''];
    if (known) return problem(res, known.status, known.title, err instanceof Error ? err.message : known.title);
    if (err instanceof OrderStoreUnavailableError) {
      return serviceUnavailable(res, 'Order store unavailable', `${err.message}: retry after Retry-After`);
    }
    if (isTemporalUnavailable(err)) {
      return serviceUnavailable(
        res,
        'Temporal unavailable',
        'Temporal did not answer in time: retry after Retry-After; retrying is safe',
      );
    }
    // The error's own message and class only (not errorMessage, which reads down to the innermost cause): a
    // stack or a cause may quote a request's body.
    logger.error(
      {
        error: err instanceof Error ? err.message : String(err),
        errorType: err instanceof Error ? err.name : typeof err,
        ...orderIds(res),
      },
      'unhandled error',
    );
    problem(res, 500, 'Internal error', 'the request could not be handled; it is safe to retry');
  });
  return Object.assign(app, {
    stopBackground: () => {
      streams.endAll();
      sweep?.stop();
    },
  });
}
