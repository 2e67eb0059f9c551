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
  /**
   * 503 (too busy to start it, or the outcome unknown), any other 5xx, or no answer at all: the order may or
   * may not exist. Send the very same request after `retryAfterS`; it finds the order if there is one.
   */
  | { kind: 'retry'; retryAfterS: number }
  /** 400, 401, 403, 413: a problem document naming the offending fields. */
  | { kind: 'problem'; problem: Problem };

/** When an answer says nothing of when to try again. */
const DEFAULT_RETRY_AFTER_S = 1;

/**
 * Places an order. Safe to repeat with the same body (the order id is the idempotency key), which is how
 * a checkout that timed out, or was told 503, finds out what happened.
 */
export async function placeOrder(orders: OrdersClient, request: OrderRequest): Promise<Placed> {
  let answer;
  try {
    answer = await orders.POST('/orders', { body: request });
  } catch {
    // No answer (a timeout, a dropped connection): the order may exist all the same.
    return { kind: 'retry', retryAfterS: DEFAULT_RETRY_AFTER_S };
  }
  const { data, error, response } = answer;
  if (response.status >= 500) {
    const retryAfterS = Number(response.headers.get('retry-after'));
    return { kind: 'retry', retryAfterS: retryAfterS > 0 ? retryAfterS : DEFAULT_RETRY_AFTER_S };
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
  /**
   * Whether the visitor asking may follow this order: the checkout's own session decides (a cookie, which
   * `EventSource` sends). The backend's token may read every order; the visitor may read only theirs.
   */
  mayFollow: (req: express.Request, orderId: string) => Promise<boolean> | boolean;
}

/** The stream's headers worth passing on: a proxy of the checkout's own must not buffer or cache it. */
const STREAM_HEADERS = ['content-type', 'cache-control', 'x-accel-buffering'];

/** The backend's routes: `POST /order-webhooks` and `GET /order-stream/:orderId`. */
export function checkoutBackend({ apiUrl, token, webhookSecret, onOrderEvent, mayFollow }: CheckoutBackendOptions) {
  const app = express();
  const webhook = new Webhook(webhookSecret);
  // Event ids taken, handled or in hand. A real checkout claims them in its database, in the transaction
  // that applies the event, so that two deliveries at once are still one.
  const taken = new Set<string>();

  // The raw body: the signature is over the bytes as sent, and parsed JSON would not give them back.
  app.post('/order-webhooks', express.raw({ type: 'application/json' }), async (req, res) => {
    if (!Buffer.isBuffer(req.body)) return void res.status(415).json({ error: 'expected application/json' });
    let event: OrderStatusEvent;
    try {
      // Checks the `webhook-signature` over id, timestamp and body, and refuses a timestamp 5 minutes off.
      event = webhook.verify(req.body, req.headers as Record<string, string>) as OrderStatusEvent;
    } catch (err) {
      if (!(err instanceof WebhookVerificationError)) throw err;
      return void res.status(401).json({ error: 'bad signature' });
    }
    // Each event may come more than once, even twice at once (an answer that got lost): its id is claimed
    // before it is handled, and given back if handling fails, so that the retry handles it.
    if (!taken.has(event.id)) {
      taken.add(event.id);
      try {
        await onOrderEvent(event);
      } catch (err) {
        taken.delete(event.id);
        throw err;
      }
    }
    res.status(204).end();
  });

  // For the checkout page's EventSource, which cannot send a token: the visitor's own order's stream, passed on.
  app.get('/order-stream/:orderId', async (req, res) => {
    const { orderId } = req.params;
    if (!(await mayFollow(req, orderId))) return void res.status(404).end();
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    const lastEventId = req.get('last-event-id');
    const upstream = await fetch(`${apiUrl}/orders/${encodeURIComponent(orderId)}/stream`, {
      headers: { authorization: `Bearer ${token}`, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
      signal: abort.signal,
    }).catch(() => null);
    // The API's own answer when it is not a stream (404, 503 with Retry-After): EventSource stops on it.
    if (!upstream?.ok || !upstream.body) return void res.status(upstream?.status ?? 502).end();
    res.status(upstream.status);
    for (const name of STREAM_HEADERS) {
      const value = upstream.headers.get(name);
      if (value) res.setHeader(name, value);
    }
    Readable.fromWeb(upstream.body)
      .on('error', () => res.end())
      .pipe(res);
  });

  return app;
}
