/**
 * A checkout's backend, as docs/CHECKOUT.md walks through it: it places orders through the typed client,
 * takes the orders' webhooks, and passes an order's live stream on to its page. It uses only what a
 * checkout team has: the client generated from the API's OpenAPI document, express and standardwebhooks.
 * test/checkout-example.test.ts runs it against the real stack.
 */
import { Readable } from 'node:stream';
import express from 'express';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import type { components, OrdersClient } from '../client';

type Order = components['schemas']['OrderView'];
type OrderRequest = components['schemas']['OrderRequest'];
type Problem = components['schemas']['Problem'];
type OrderStatusEvent = components['schemas']['OrderStatusEvent'];

/** Where placing an order left the checkout, and what it does next. */
export type Placed =
  /** 201, or 200 for a repeat: send the customer to the payment link. */
  | { kind: 'pay'; order: Order; checkoutUrl: string }
  /**
   * 202: recorded for good, its link to come on its webhooks or stream. Also an order already past its link
   * (a repeat of a paid order, or one that is compensating or waits for support): its status says where.
   */
  | { kind: 'follow'; order: Order }
  /** 422 (or 200 for a repeat): refused at validation or reservation, no money moved; `order.reason` says why. */
  | { kind: 'rejected'; order: Order }
  /** 409: this order id was placed with another body. A new order needs a new id. */
  | { kind: 'conflict'; problem: Problem }
  /** 503: the API was too busy to start it, or could not learn the outcome. Send the same request after `retryAfterS`. */
  | { kind: 'retry'; retryAfterS: number }
  /** 400, 401, 403, 413: a problem document naming the offending fields. */
  | { kind: 'problem'; problem: Problem };

/**
 * Places an order. Safe to repeat with the same body (the order id is the idempotency key), which is how
 * a checkout that timed out, or was told 503, finds out what happened.
 */
export async function placeOrder(orders: OrdersClient, request: OrderRequest): Promise<Placed> {
  const { data, error, response } = await orders.POST('/orders', { body: request });
  if (response.status === 503) {
    return { kind: 'retry', retryAfterS: Number(response.headers.get('retry-after') ?? 1) };
  }
  if (response.status === 409) return { kind: 'conflict', problem: error as Problem };
  if (response.status === 422) return { kind: 'rejected', order: error as Order };
  if (!data) return { kind: 'problem', problem: error as Problem };
  if (data.status === 'REJECTED') return { kind: 'rejected', order: data };
  const checkoutUrl = data.payment?.checkoutUrl;
  if (data.status === 'AWAITING_PAYMENT' && checkoutUrl) return { kind: 'pay', order: data, checkoutUrl };
  return { kind: 'follow', order: data };
}

export interface CheckoutBackendOptions {
  /** The orders API's base URL, e.g. http://127.0.0.1:3000. */
  apiUrl: string;
  /** The checkout's API token (scopes `orders:write`, `orders:read`): it never leaves this backend. */
  token: string;
  /** The endpoint's `whsec_…` secret, as registered in the API's `ORDER_WEBHOOKS`. */
  webhookSecret: string;
  /** Called once per status event, whatever the retries; throw to have it delivered again. */
  onOrderEvent: (event: OrderStatusEvent) => Promise<void> | void;
}

/** The backend's routes: `POST /order-webhooks` and `GET /order-stream/:orderId`. */
export function checkoutBackend({ apiUrl, token, webhookSecret, onOrderEvent }: CheckoutBackendOptions) {
  const app = express();
  const webhook = new Webhook(webhookSecret);
  // Event ids already handled. A real checkout keeps them in its database, beside what the event changed.
  const handled = new Set<string>();

  // The raw body: the signature is over the bytes as sent, and parsed JSON would not give them back.
  app.post('/order-webhooks', express.raw({ type: 'application/json' }), async (req, res) => {
    let event: OrderStatusEvent;
    try {
      // Checks the `webhook-signature` over id, timestamp and body, and refuses a timestamp 5 minutes off.
      event = webhook.verify(req.body as Buffer, req.headers as Record<string, string>) as OrderStatusEvent;
    } catch (err) {
      if (!(err instanceof WebhookVerificationError)) throw err;
      return void res.status(401).json({ error: 'bad signature' });
    }
    // Each event may come more than once (an answer that got lost): its id says it was handled.
    if (!handled.has(event.id)) {
      await onOrderEvent(event);
      handled.add(event.id);
    }
    res.status(204).end();
  });

  // For the checkout page's EventSource, which cannot send a token: the order's stream, passed on.
  app.get('/order-stream/:orderId', async (req, res) => {
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    const lastEventId = req.get('last-event-id');
    const upstream = await fetch(`${apiUrl}/orders/${encodeURIComponent(req.params.orderId)}/stream`, {
      headers: { authorization: `Bearer ${token}`, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
      signal: abort.signal,
    }).catch(() => null);
    if (!upstream?.body) return void res.status(upstream?.status ?? 502).end();
    res.status(upstream.status).type(upstream.headers.get('content-type') ?? 'text/event-stream');
    Readable.fromWeb(upstream.body)
      .on('error', () => res.end())
      .pipe(res);
  });

  return app;
}
