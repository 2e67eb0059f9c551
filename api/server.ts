import express, { type NextFunction, type Request, type Response } from 'express';
import type { Client } from '@temporalio/client';
import { ORDER_TASK_QUEUE } from '../domain/contract';
import type { Config } from '../config';
import { problem } from './problem';
import { webhookRouter } from './webhooks';

export interface AppOptions {
  client: Client;
  config: Pick<Config, 'paymentProviders'>;
  /** The task queue new workflows go to; tests give each suite its own. */
  taskQueue?: string;
}

/** The API as an express app, without listening: `api/main.ts` serves it, tests drive it with supertest. */
export function createApp({ client, config, taskQueue = ORDER_TASK_QUEUE }: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.use(webhookRouter({ client, taskQueue, providers: config.paymentProviders }));
  app.use((_req, res) => problem(res, 404, 'Not found', 'no such route'));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: number }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return problem(res, status, 'Bad request', err instanceof Error ? err.message : 'the request could not be read');
    }
    console.error('request failed:', err instanceof Error ? err.message : err);
    problem(res, 500, 'Internal error', 'the request could not be handled; it is safe to retry');
  });
  return app;
}
