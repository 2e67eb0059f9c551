import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import Stripe from 'stripe';
import { z } from 'zod';
import { expectAnswer } from '../activities/http';
import { FailureType, Reason } from '../domain/reasons';
import { PaymentEvent, type PaymentEventType } from '../domain/statuses';
import type { PaymentGateway, PaymentWebhookReader } from './gateway';
import type { PaymentRecord } from './protocol';
import type { StripeProviderConfig } from './providers';
import { fromStripeAmount, toStripeCharge, toStripeUnits } from './stripe-amounts';

/**
 * The Stripe API version this adapter is written and tested against: the one the pinned `stripe` package
 * speaks. A new package version that moves it is an upgrade to test, not a drift to find in production.
 */
export const STRIPE_API_VERSION = '2026-11-18.endive' as const satisfies Stripe.LatestApiVersion;

/** The header Stripe signs its webhooks in. */
export const STRIPE_SIGNATURE_HEADER = 'stripe-signature';

/** A session read with its payment, down to the refunds (expanding a path expands its parents too). */
const EXPAND_PAYMENT = 'payment_intent.latest_charge.refunds';
/**
 * How far back an order's session is looked for: Stripe lists no session by order, and a session lives
 * at most a day (its default and its maximum), which is also how long Stripe keeps an idempotency key.
 */
const SESSION_LOOKBACK_SECONDS = 24 * 60 * 60;
const PAGE_SIZE = 100;
/** How long a refund Stripe answers `pending` is followed within one call; the next attempt follows on. */
const REFUND_FOLLOW_MS = 3_000;
const REFUND_POLL_MS = 250;

/** Of Stripe's objects, what the saga reads: a response off this shape is a contract error, not a crash. */
const StripeRefund = z.object({
  id: z.string(),
  amount: z.int(),
  status: z.string().nullable(),
  failure_reason: z.string().nullable().optional(),
});
const StripeCharge = z.object({
  amount_captured: z.int(),
  amount_refunded: z.int(),
  refunds: z
    .object({ data: z.array(StripeRefund), has_more: z.boolean() })
    .nullable()
    .optional(),
});
const StripePaymentIntent = z.object({
  id: z.string(),
  status: z.string(),
  amount_received: z.int(),
  latest_charge: z.union([z.string(), StripeCharge]).nullable(),
});
const StripeSession = z.object({
  id: z.string(),
  object: z.literal('checkout.session'),
  status: z.enum(['open', 'complete', 'expired']).nullable(),
  payment_status: z.enum(['paid', 'unpaid', 'no_payment_required']),
  url: z.string().nullable(),
  amount_total: z.int().nullable(),
  currency: z.string().nullable(),
  client_reference_id: z.string().nullable(),
  metadata: z.record(z.string(), z.string()).nullable(),
  created: z.int(),
  payment_intent: z.union([z.string(), StripePaymentIntent]).nullable(),
});
type StripeSession = z.infer<typeof StripeSession>;
const StripeSessionList = z.object({ data: z.array(StripeSession), has_more: z.boolean() });

/** The client for one provider: no retries of its own (Temporal retries the activity), the worker's timeout. */
function stripeClient(provider: StripeProviderConfig, timeoutMs: number): Stripe {
  const base = provider.apiBase ? new URL(provider.apiBase) : null;
  return new Stripe(provider.apiKey, {
    apiVersion: STRIPE_API_VERSION,
    maxNetworkRetries: 0,
    timeout: timeoutMs,
    ...(base
      ? {
          host: base.hostname,
          port: base.port || (base.protocol === 'https:' ? 443 : 80),
          protocol: base.protocol === 'https:' ? 'https' : 'http',
        }
      : {}),
  });
}

/**
 * A provider of type `stripe`: a payment is a Checkout Session (`mode=payment`), its id the payment id and
 * its `url` the checkout link; the customer may fail a card and try another on the same page, so only
 * the session's end is final. Every mutating call carries an idempotency key of its own, derived from the
 * order or the payment, so Temporal's retries repeat a call instead of making another.
 */
export function createStripeGateway(provider: StripeProviderConfig, timeoutMs: number): PaymentGateway {
  const stripe = stripeClient(provider, timeoutMs);
  const what = `payment provider ${provider.name}`;
  const call = async <T>(request: () => Promise<unknown>, schema: z.ZodType<T>): Promise<T> => {
    let answer: unknown;
    try {
      answer = await request();
    } catch (err) {
      throw stripeFailure(err, what);
    }
    // The package reads any JSON without an `error` as an answer, whatever its status: a proxy's JSON 503 too.
    const status = (answer as Partial<Stripe.Response<unknown>> | null)?.lastResponse?.statusCode ?? 200;
    if (status >= 500 || status === 429) {
      throw ApplicationFailure.retryable(`${what} is unavailable (${status})`, FailureType.UPSTREAM_UNAVAILABLE);
    }
    // Read as any system's answer is: another status, or a body off the contract, is unexpected.
    return expectAnswer(schema, { status, body: answer }, what);
  };
  const retrieve = (sessionId: string) =>
    call(() => stripe.checkout.sessions.retrieve(sessionId, { expand: [EXPAND_PAYMENT] }), StripeSession);
  const sessionsSince = (createdFrom: number, cursor: string | null) =>
    call(
      () =>
        stripe.checkout.sessions.list({
          created: { gte: createdFrom },
          limit: PAGE_SIZE,
          expand: [`data.${EXPAND_PAYMENT}`],
          ...(cursor ? { starting_after: cursor } : {}),
        }),
      StripeSessionList,
    );

  return {
    async create({ orderId, amount, currency }) {
      const charge = toStripeCharge(amount, currency);
      if (!charge.ok) {
        throw ApplicationFailure.nonRetryable(
          `${provider.name} cannot take the payment: ${charge.problem}`,
          Reason.PAYMENT_DECLINED,
        );
      }
      const session = await call(
        () =>
          stripe.checkout.sessions.create(
            {
              mode: 'payment',
              client_reference_id: orderId,
              metadata: { orderId },
              payment_intent_data: { metadata: { orderId } },
              line_items: [
                {
                  quantity: 1,
                  price_data: {
                    currency: currency.toLowerCase(),
                    unit_amount: charge.amount,
                    product_data: { name: `Order ${orderId}` },
                  },
                },
              ],
              success_url: provider.successUrl,
              ...(provider.cancelUrl ? { cancel_url: provider.cancelUrl } : {}),
            },
            { idempotencyKey: `checkout-${orderId}` },
          ),
        StripeSession,
      );
      return paymentRecord(session);
    },

    async get(paymentId) {
      try {
        return paymentRecord(await retrieve(paymentId));
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    },

    async findByOrder(orderId) {
      const createdFrom = Math.floor(Date.now() / 1000) - SESSION_LOOKBACK_SECONDS;
      for (let cursor: string | null = null; ;) {
        const page = await sessionsSince(createdFrom, cursor);
        const session = page.data.find((s) => orderOf(s) === orderId);
        if (session) return paymentRecord(session);
        if (!page.has_more || page.data.length === 0) return null;
        cursor = page.data[page.data.length - 1]!.id;
      }
    },

    async void(paymentId) {
      try {
        await call(() => stripe.checkout.sessions.expire(paymentId), StripeSession);
        return 'voided';
      } catch (err) {
        // Stripe refuses to expire a session that is not open: read which end it came to.
        if (!(err instanceof ApplicationFailure) || err.type !== FailureType.UPSTREAM_CONTRACT || isNotFound(err))
          throw err;
        const session = await retrieve(paymentId);
        if (session.status === 'expired') return 'voided';
        if (session.status === 'complete') return 'not-pending';
        throw err;
      }
    },

    async refund(payment, amount) {
      // A refund has no minimum: only its units must be ones Stripe takes.
      const units = toStripeUnits(amount, payment.currency);
      const session = await retrieve(payment.paymentId);
      const paymentIntent = idOf(session.payment_intent);
      if (!units.ok || !paymentIntent) {
        const why = units.ok ? `${payment.paymentId} has no payment to refund` : units.problem;
        throw ApplicationFailure.nonRetryable(`${what} cannot refund: ${why}`, FailureType.UPSTREAM_CONTRACT);
      }
      let refund = await call(
        () =>
          stripe.refunds.create(
            { payment_intent: paymentIntent, amount: units.amount },
            // What was refunded before names this refund: a retry repeats it, a later one is a new one.
            { idempotencyKey: `refund-${payment.paymentId}-${payment.refunded}` },
          ),
        StripeRefund,
      );
      for (
        let waited = 0;
        refund.status === 'pending' || refund.status === 'requires_action';
        waited += REFUND_POLL_MS
      ) {
        if (waited >= REFUND_FOLLOW_MS) {
          throw ApplicationFailure.retryable(
            `${what}: refund ${refund.id} is still pending`,
            FailureType.PAYMENT_STATE_CHANGED,
          );
        }
        await sleep(REFUND_POLL_MS);
        const id = refund.id;
        refund = await call(() => stripe.refunds.retrieve(id), StripeRefund);
      }
      if (refund.status !== 'succeeded') {
        throw ApplicationFailure.nonRetryable(
          `${what} refused refund ${refund.id}: ${refund.failure_reason ?? refund.status ?? 'no status'}`,
          FailureType.UPSTREAM_CONTRACT,
        );
      }
      return paymentRecord(await retrieve(payment.paymentId));
    },

    async createdSince(from, cursor) {
      const page = await sessionsSince(Math.floor(from.getTime() / 1000), cursor);
      const last = page.data[page.data.length - 1];
      return { payments: page.data.map(paymentRecord), nextCursor: page.has_more && last ? last.id : null };
    },
  };
}

function orderOf(session: StripeSession): string | null {
  return session.client_reference_id ?? session.metadata?.orderId ?? null;
}

function idOf(object: string | { id: string } | null): string | null {
  return typeof object === 'string' ? object : (object?.id ?? null);
}

/**
 * A session as the saga reads a payment. Paid and then refunded in full reads `refunded`; an expired
 * session `voided` (nothing was taken); a completed session whose delayed payment failed, `failed`.
 * Only refunds Stripe reports succeeded count as refunded: a pending one is followed until it ends.
 */
function paymentRecord(session: StripeSession): PaymentRecord {
  const currency = (session.currency ?? '').toUpperCase();
  const intent = typeof session.payment_intent === 'object' ? session.payment_intent : null;
  const charge = intent && typeof intent.latest_charge === 'object' ? intent.latest_charge : null;
  const refunds = charge?.refunds && !charge.refunds.has_more ? charge.refunds.data : null;
  const capturedUnits = charge?.amount_captured ?? intent?.amount_received ?? 0;
  const refundedUnits = refunds
    ? refunds.filter((refund) => refund.status === 'succeeded').reduce((sum, refund) => sum + refund.amount, 0)
    : (charge?.amount_refunded ?? 0);
  const captured = fromStripeAmount(capturedUnits, currency);
  const refunded = fromStripeAmount(refundedUnits, currency);
  const paid = session.payment_status !== 'unpaid';
  const failed =
    session.status === 'complete' && !paid && ['requires_payment_method', 'canceled'].includes(intent?.status ?? '');
  let status: PaymentRecord['status'] = 'pending';
  if (session.status === 'expired') status = 'voided';
  else if (session.status === 'complete' && paid)
    status = captured > 0 && refunded >= captured ? 'refunded' : 'succeeded';
  else if (failed) status = 'failed';
  return {
    paymentId: session.id,
    orderId: orderOf(session) ?? '',
    amount: fromStripeAmount(session.amount_total ?? 0, currency),
    currency,
    status,
    captured,
    refunded,
    // Stripe clears the link once the session ends: there is nowhere left to pay.
    checkoutUrl: session.url ?? '',
    createdAt: new Date(session.created * 1000).toISOString(),
  };
}

const NOT_FOUND = 'resource_missing';
/** Codes of Stripe's refusals of an amount: a decline in the saga's terms, not a bug to page about. */
const AMOUNT_REFUSALS: readonly string[] = [
  'amount_too_small',
  'amount_too_large',
  'invalid_charge_amount_no_decimal_compatible',
];

function isNotFound(err: unknown): boolean {
  return err instanceof ApplicationFailure && err.details?.[0] === NOT_FOUND;
}

/**
 * A Stripe error in the saga's terms: a card or amount refusal is a decline; a rate limit, a 5xx, a
 * lock timeout or a lost connection is unavailability, retried; a refused key is a configuration error an
 * operator must mend (the order waits for attention, its reason says so); any other refusal is an answer
 * the saga has no meaning for. Stripe's own message is kept only where it cannot carry the key.
 */
export function stripeFailure(err: unknown, what: string): unknown {
  if (!(err instanceof Stripe.errors.StripeError)) return err;
  const status = err.statusCode ?? 0;
  const code = err.code ?? '';
  if (err instanceof Stripe.errors.StripeCardError || AMOUNT_REFUSALS.includes(code)) {
    return ApplicationFailure.nonRetryable(`${what} declined: ${err.decline_code ?? code}`, Reason.PAYMENT_DECLINED);
  }
  if (
    err instanceof Stripe.errors.StripeConnectionError ||
    err instanceof Stripe.errors.StripeRateLimitError ||
    err instanceof Stripe.errors.StripeAPIError ||
    status === 429 ||
    status >= 500 ||
    code === 'lock_timeout'
  ) {
    return ApplicationFailure.retryable(
      `${what} is unavailable (${status || err.type})`,
      FailureType.UPSTREAM_UNAVAILABLE,
    );
  }
  if (err instanceof Stripe.errors.StripeAuthenticationError || err instanceof Stripe.errors.StripePermissionError) {
    return ApplicationFailure.nonRetryable(
      `${what} refused its API key (${status}): an operator must check the provider's apiKey and its permissions`,
      FailureType.PROVIDER_MISCONFIGURED,
    );
  }
  return ApplicationFailure.create({
    message: `${what} answered ${status} (${code || err.type}): ${err.message}`,
    type: FailureType.UPSTREAM_CONTRACT,
    nonRetryable: true,
    details: [code],
  });
}

/** Stripe's events the saga hears, and what each says of the order's payment. */
const StripeEvent = z.object({
  id: z.string(),
  type: z.string(),
  data: z.object({ object: z.unknown() }),
});

/**
 * Reads a Stripe webhook: `Stripe-Signature` over the raw body by the package's own check, then the event.
 * A session completed and paid, or its delayed payment succeeded, is a success; a delayed payment that
 * failed, or a session that expired, a failure. A completed session still unpaid (a bank debit on its way)
 * and every other event are acknowledged and ignored: Stripe sends what the account subscribes to.
 */
export function stripeWebhookReader(provider: StripeProviderConfig): PaymentWebhookReader {
  return (rawBody, header, nowSeconds) => {
    let json: unknown;
    try {
      json = Stripe.webhooks.constructEvent(
        rawBody,
        header(STRIPE_SIGNATURE_HEADER) ?? '',
        provider.webhookSecret,
        undefined,
        undefined,
        // The package takes the time of receipt in milliseconds.
        nowSeconds * 1000,
      );
    } catch (err) {
      if (err instanceof Stripe.errors.StripeSignatureVerificationError) {
        return { ok: false, status: 401, title: 'Invalid signature', detail: 'the Stripe-Signature does not verify' };
      }
      return { ok: false, status: 400, title: 'Malformed webhook', detail: 'the body is not JSON' };
    }
    const event = StripeEvent.safeParse(json);
    if (!event.success) {
      const detail = 'the body is not a Stripe event';
      return { ok: false, status: 400, title: 'Malformed webhook', detail, error: event.error };
    }
    const outcome = SESSION_OUTCOMES[event.data.type];
    if (!outcome) return { ok: true, callback: null, ignored: `${event.data.type} is not an event the saga acts on` };
    const session = StripeSession.safeParse(event.data.data.object);
    if (!session.success) {
      const detail = 'the event does not carry a Checkout Session';
      return { ok: false, status: 400, title: 'Malformed webhook', detail, error: session.error };
    }
    const orderId = orderOf(session.data);
    if (!orderId) return { ok: true, callback: null, ignored: 'the session names no order' };
    if (outcome.type === PaymentEvent['payment.succeeded'] && session.data.payment_status === 'unpaid') {
      return { ok: true, callback: null, ignored: 'the session is complete but its payment is still on its way' };
    }
    const currency = (session.data.currency ?? '').toUpperCase();
    return {
      ok: true,
      callback: {
        eventId: event.data.id,
        type: outcome.type,
        paymentId: session.data.id,
        orderId,
        amount: fromStripeAmount(session.data.amount_total ?? 0, currency),
        currency,
        failureReason: outcome.failureReason,
      },
    };
  };
}

const SESSION_OUTCOMES: Readonly<Record<string, { type: PaymentEventType; failureReason: string | null }>> = {
  'checkout.session.completed': { type: PaymentEvent['payment.succeeded'], failureReason: null },
  'checkout.session.async_payment_succeeded': { type: PaymentEvent['payment.succeeded'], failureReason: null },
  'checkout.session.async_payment_failed': {
    type: PaymentEvent['payment.failed'],
    failureReason: 'the delayed payment failed',
  },
  'checkout.session.expired': {
    type: PaymentEvent['payment.failed'],
    failureReason: 'the checkout session expired unpaid',
  },
};
