import express, { Router, type Request, type Response } from 'express';
import type { PaymentProviderConfig } from '../config';
import type { OrdersService } from './orders-service';
import { paymentWebhookReader } from '../payment-provider/gateways';
import { problem } from './problem';
import type { ApiMetrics, WebhookOutcome } from './metrics';
import { noteOrder, orderIds } from '../observability/request-log';
import type { PinoLogger } from '../observability/logger';
import type { CallbackOutcome } from './orders-service';

const OUTCOME_OF_CALLBACK: Record<CallbackOutcome, WebhookOutcome> = {
  signalled: 'accepted',
  'refund-started': 'late_refund',
  'refund-exists': 'duplicate',
  'already-settled': 'duplicate',
  ignored: 'ignored',
};

const WEBHOOK_BODY_LIMIT = '100kb';

/**
 * POST /webhooks/payments/{provider}: read by the provider's gateway (its signature over the raw body
 * first, then the body), then handed to the order.
 */
export function webhookRouter(options: {
  orders: OrdersService;
  providers: readonly PaymentProviderConfig[];
  metrics: Pick<ApiMetrics, 'webhooks'>;
  logger: PinoLogger;
}): Router {
  const router = Router();
  const { metrics, logger } = options;
  // Each provider's webhook reader, made once: its type decides how its webhooks are read.
  const readers = new Map(options.providers.map((provider) => [provider.name, paymentWebhookReader(provider)]));
  router.post(
    '/webhooks/payments/:provider',
    express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT }),
    async (req: Request<{ provider: string }>, res: Response) => {
      const provider = req.params.provider;
      const read = readers.get(provider);
      // An unknown provider's name is the caller's text: it is not a label (it would grow the series without bound).
      const label = read ? provider : 'unknown';
      const count = (outcome: WebhookOutcome) => {
        metrics.webhooks.inc({ provider: label, outcome });
        logger.info({ provider: label, outcome, ...orderIds(res) }, 'payment webhook');
      };
      if (!read) {
        count('unknown_provider');
        return problem(res, 404, 'Unknown provider', `no payment provider is called ${provider}`);
      }
      const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const reading = read(rawBody, (name) => req.get(name), Math.floor(Date.now() / 1000));
      if (!reading.ok) {
        count(reading.status === 401 ? 'refused_signature' : 'malformed');
        return problem(res, reading.status, reading.title, reading.detail, reading.error);
      }
      if (reading.callback === null) {
        count('ignored');
        return void res.json({ received: true, ignored: reading.ignored });
      }
      const { callback } = reading;
      noteOrder(res, callback.orderId);
      let outcome: CallbackOutcome;
      try {
        outcome = await options.orders.paymentCallback({ provider, ...callback });
      } catch (err) {
        // Not taken (Temporal unreachable, say): the provider gets a 5xx and retries.
        count('error');
        throw err;
      }
      count(OUTCOME_OF_CALLBACK[outcome]);
      res.json({ received: true });
    },
  );
  return router;
}
