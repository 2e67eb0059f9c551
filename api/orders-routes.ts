import { Router, type Response } from 'express';
import type { z } from 'zod';
import type { ApiKeys } from '../config';
import { OperatorActionKind } from '../domain/schemas/order-events';
import { OrderRequest } from '../domain/schemas/order-request';
import { callerOf, requireScope } from './auth';
import { CancelBody, LastEventId, ListOrdersQuery, OperatorBody, OrderIdParam } from './http-schemas';
import { jsonBody } from './json-body';
import { InvalidPageTokenError, type OrdersService } from './orders-service';
import type { OrderStreams } from './order-streams';
import { problem, serviceUnavailable } from './problem';
import { noteOrder } from '../observability/request-log';

/** The largest order body accepted; larger ones get 413 (docs/API.md, "Placing an order"). */
export const ORDER_BODY_LIMIT = '100kb';

/** Parses or answers 400 with the field paths; returns undefined when it answered. */
function parse<T>(schema: z.ZodType<T>, value: unknown, res: Response, what: string): T | undefined {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  problem(res, 400, 'Invalid request', `the ${what} does not match the contract`, parsed.error);
  return undefined;
}

const notFound = (res: Response) => problem(res, 404, 'Order not found', 'no order has this id');

/** An order id that cannot exist (it breaks the id rules) is simply not found. */
function orderIdOr404(raw: unknown, res: Response): string | undefined {
  const parsed = OrderIdParam.safeParse(raw);
  if (parsed.success) {
    noteOrder(res, parsed.data);
    return parsed.data;
  }
  notFound(res);
  return undefined;
}

/** The orders routes (docs/API.md, "Routes"), each behind its scope. */
export function ordersRouter(service: OrdersService, streams: OrderStreams, apiKeys: ApiKeys): Router {
  const router = Router();
  const json = jsonBody(ORDER_BODY_LIMIT);
  const write = requireScope(apiKeys, 'orders:write');
  const read = requireScope(apiKeys, 'orders:read');
  const operate = requireScope(apiKeys, 'orders:operate');
  // A checkout cancels for its customer; support cancels with its own token.
  const cancel = requireScope(apiKeys, ['orders:write', 'orders:operate']);

  // Admitted (or shed) before it gets here: api/admission.ts.
  router.post('/orders', write, ...json, async (req, res) => {
    const request = parse(OrderRequest, req.body, res, 'order');
    if (!request) return;
    noteOrder(res, request.orderId);
    const outcome = await service.place(request, { answerOnceStarted: res.locals.answerOnceStarted === true });
    switch (outcome.kind) {
      case 'created':
        return void res.status(201).json(outcome.view);
      case 'existing':
        return void res.status(200).json(outcome.view);
      case 'accepted':
        return void res.status(202).json(outcome.view);
      case 'rejected':
        return void res.status(422).json(outcome.view);
      case 'conflict':
        return problem(res, 409, 'Order conflict', `order ${request.orderId} exists with a different body`);
      case 'unknown':
        return serviceUnavailable(
          res,
          'Order outcome unknown',
          `Temporal could not say in time whether order ${request.orderId} was recorded: it may or may not exist. Retrying with the same body is always safe: it finds the order if it was recorded, or places it`,
        );
    }
  });

  router.get('/orders', read, async (req, res) => {
    const query = parse(ListOrdersQuery, req.query, res, 'query');
    if (!query) return;
    try {
      res.json(await service.list(query));
    } catch (err) {
      if (!(err instanceof InvalidPageTokenError)) throw err;
      problem(res, 400, 'Invalid request', err.message, undefined, [{ path: 'pageToken', message: err.message }]);
    }
  });

  router.get('/orders/:orderId', read, async (req, res) => {
    const orderId = orderIdOr404(req.params.orderId, res);
    if (!orderId) return;
    const view = await service.get(orderId);
    if (!view) return notFound(res);
    res.json(view);
  });

  router.get('/orders/:orderId/events', read, async (req, res) => {
    const orderId = orderIdOr404(req.params.orderId, res);
    if (!orderId) return;
    const events = await service.events(orderId);
    if (!events) return notFound(res);
    res.json({ orderId, events });
  });

  router.get('/orders/:orderId/stream', read, async (req, res) => {
    const orderId = orderIdOr404(req.params.orderId, res);
    if (!orderId) return;
    const lastEventId = LastEventId.safeParse(req.get('last-event-id'));
    if (!lastEventId.success) {
      const message = 'Last-Event-ID must be the id of an event this stream sent (a whole number)';
      return problem(res, 400, 'Invalid request', message, undefined, [{ path: 'Last-Event-ID', message }]);
    }
    const opening = await streams.open(orderId, lastEventId.data ?? null, res);
    if (opening === 'not-found') return notFound(res);
    if (opening === 'full') {
      return serviceUnavailable(
        res,
        'Too many streams',
        'this API instance has as many live streams open as it keeps (ORDER_STREAMS_MAX): retry after Retry-After, or read GET /orders/{orderId}',
      );
    }
  });

  router.post('/orders/:orderId/cancel', cancel, ...json, async (req, res) => {
    const orderId = orderIdOr404(req.params.orderId, res);
    if (!orderId) return;
    const body = parse(CancelBody, req.body, res, 'cancel request');
    if (!body) return;
    const by = callerOf(res).scopes.includes('orders:operate') ? 'support' : 'customer';
    const outcome = await service.cancel(orderId, { by, ...(body.reason ? { reason: body.reason } : {}) });
    switch (outcome.kind) {
      case 'not-found':
        return notFound(res);
      case 'cancelled':
        return void res.status(200).json(outcome.view);
      case 'in-progress':
        return void res.status(202).json(outcome.view);
      case 'not-cancellable':
        return problem(
          res,
          409,
          'Order not cancellable',
          `an order that is ${outcome.view.status} cannot be cancelled`,
        );
      case 'unknown':
        return serviceUnavailable(
          res,
          'Cancel outcome unknown',
          'Temporal could not say in time whether the cancel was recorded: retrying it is always safe',
        );
    }
  });

  for (const action of OperatorActionKind.options) {
    router.post(`/orders/:orderId/actions/${action}`, operate, ...json, async (req, res) => {
      const orderId = orderIdOr404(req.params.orderId, res);
      if (!orderId) return;
      const body = parse(OperatorBody, req.body, res, 'operator request');
      if (!body) return;
      const outcome = await service.operatorAction(orderId, action, { operator: callerOf(res).name, note: body.note });
      if (outcome.kind === 'not-found') return notFound(res);
      if (outcome.kind === 'not-in-attention') {
        return problem(
          res,
          409,
          'Order not awaiting an operator',
          `the order is ${outcome.view.status}, not REQUIRES_ATTENTION`,
        );
      }
      if (outcome.kind === 'closed') {
        return problem(
          res,
          409,
          'Order workflow closed',
          'the order’s workflow has ended: nothing can act on it through the API any more; settle it by hand',
        );
      }
      res.status(202).json(outcome.view);
    });
  }

  return router;
}
