import type { NextFunction, Request, Response } from 'express';
import { orderWorkflowId } from '../domain/contract';
import type { PinoLogger } from './logger';
import { routeOf } from './route';

/** Marks the response as being about `orderId`, for the request's log line: every line about it carries the order's ids. */
export function noteOrder(res: Response, orderId: string): void {
  res.locals.orderId = orderId;
}

/** The ids a log line about this response carries: order id and workflow id, once a route knows them. */
export function orderIds(res: Response): Record<string, string> {
  const orderId = res.locals.orderId as string | undefined;
  return orderId ? { orderId, workflowId: orderWorkflowId(orderId) } : {};
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
      // A 503 is an answer the API chose (shed, or Temporal unavailable), counted by its metrics: not a failure.
      if (res.statusCode >= 500 && res.statusCode !== 503) logger.error(line, 'request failed');
      else logger.info(line, 'request');
    });
    next();
  };
}
