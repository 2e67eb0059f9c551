import type { NextFunction, Request, Response } from 'express';
import { orderWorkflowId } from '../domain/contract';
import type { PinoLogger } from './logger';
import { routeOf } from './route';

/** The order a request is about, once a route knows it: every line about the request carries its ids. */
export interface RequestOrder {
  orderId: string;
  runId?: string;
}

/** Marks the response as being about `orderId` (and its run, when known) for the request's log line. */
export function noteOrder(res: Response, orderId: string, runId?: string): void {
  res.locals.order = { orderId, ...(runId ? { runId } : {}) } satisfies RequestOrder;
}

/** The ids a log line about this response carries: order id, workflow id and run id where known. */
export function orderIds(res: Response): Record<string, string> {
  const order = res.locals.order as RequestOrder | undefined;
  if (!order) return {};
  return { orderId: order.orderId, workflowId: orderWorkflowId(order.orderId), ...(order.runId ? { runId: order.runId } : {}) };
}

/**
 * One line per request when it is answered: method, route pattern (never the raw path or the query, which
 * may carry ids that are not ours to log), status, duration and the order's ids. Never headers or bodies.
 */
export function requestLog(logger: PinoLogger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const line = {
        method: req.method,
        route: routeOf(req),
        status: res.statusCode,
        durationMs: Number((process.hrtime.bigint() - started) / 1000n) / 1000,
        ...orderIds(res),
      };
      if (res.statusCode >= 500) logger.error(line, 'request failed');
      else logger.info(line, 'request');
    });
    next();
  };
}
