import { randomBytes } from 'node:crypto';
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import Stripe from 'stripe';
import { z } from 'zod';
import { formatAmount } from '../domain/money';
import { fromStripeAmount, toStripeUnits } from '../payment-provider/stripe-amounts';
import { STRIPE_API_VERSION, STRIPE_SIGNATURE_HEADER } from '../payment-provider/stripe-gateway';
import { PaymentToken, SandboxError, type Ledger, type SandboxPayment } from './ledger';
import type { SandboxRoute } from './route-faults';
import type { WebhookSender } from './webhooks';

/** A provider of type `stripe` the sandbox plays: Stripe tells accounts apart by their API key, so does it. */
export interface StripeAccount {
  name: string;
  apiKey: string;
}

/** Where the customer pays a session: `GET` shows the page, `POST` pays (or declines, with `{ "card": "declined" }`). */
export const STRIPE_CHECKOUT_PATH = '/stripe/checkout';

/** How the sandbox's session ids begin, as test-mode sessions' do at Stripe. */
const SESSION_ID_PREFIX = 'cs_test';
/** How long a refund stays `pending` before it succeeds, as Stripe's do for a moment. */
const REFUND_PENDING_MS = 300;
const SESSION_LIFETIME_SECONDS = 24 * 60 * 60;

interface SandboxRefund {
  id: string;
  paymentId: string;
  /** In Stripe's units. */
  amount: number;
  status: 'pending' | 'succeeded';
  created: number;
}

const CreateSession = z.object({
  mode: z.literal('payment'),
  client_reference_id: z.string().min(1),
  success_url: z.string().min(1),
  line_items: z
    .array(
      z.object({
        quantity: z.coerce.number().int().positive(),
        price_data: z.object({ currency: z.string().length(3), unit_amount: z.coerce.number().int().min(0) }),
      }),
    )
    .min(1),
});
const CreateRefund = z.object({ payment_intent: z.string().min(1), amount: z.coerce.number().int().positive() });
const Expand = z.union([z.string(), z.array(z.string())]).optional();
const ListQuery = z.object({
  created: z.object({ gte: z.coerce.number().int() }).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(10),
  starting_after: z.string().optional(),
  expand: Expand,
});
/** What the customer does at the page; `event: "lost"` pays without the event ever reaching the API (a lost webhook). */
const PayAtPage = z.object({
  card: z.enum(['ok', 'declined']).default('ok'),
  event: z.enum(['sent', 'lost']).default('sent'),
});

/** A Stripe error body, as the `stripe` package reads it into its error classes. */
class StripeAnswer extends SandboxError {
  constructor(status: number, type: string, message: string, code?: string) {
    super(status, code ?? type, message);
    this.body = { error: { type, message, ...(code ? { code } : {}) } };
  }
  readonly body: unknown;
}

/**
 * The sandbox's Stripe (docs/API.md, "The sandbox"): the routes of Stripe's API that the `stripe` adapter
 * calls, with state, on the ledger's payments: Checkout Sessions, their payment and its refunds, and
 * events signed as Stripe signs them. The customer pays at the session's page; a declined card leaves the
 * session open for another try, as Stripe Checkout does. Its calls share the fault switches of the
 * sandbox's own provider routes.
 */
export function stripeRoutes(options: {
  accounts: readonly StripeAccount[];
  ledger: Ledger;
  webhooks: WebhookSender;
  later: (ms: number, fn: () => void) => void;
  faultable: (route: SandboxRoute) => RequestHandler;
  outages: { providers: ReadonlySet<string>; refunds: boolean };
}): { router: Router; reset(): void } {
  const { ledger, webhooks, later, faultable, outages } = options;
  const accounts = new Map(options.accounts.map((account) => [account.apiKey, account.name]));
  const refunds = new Map<string, SandboxRefund>();
  /** Stripe answers a repeated idempotency key with the first answer, for a day: so does this, for its run. */
  const answered = new Map<string, { status: number; body: unknown }>();
  /** Where each session sends the customer once paid, as its creator asked. */
  const successUrls = new Map<string, string>();
  const router = Router();
  router.use(express.urlencoded({ extended: true, limit: '200kb' }));

  const accountOf = (req: Request): string => {
    const key = /^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1];
    const name = key ? accounts.get(key) : undefined;
    if (!name) throw new StripeAnswer(401, 'invalid_request_error', 'Invalid API Key provided');
    return name;
  };
  const expansions = (req: Request): string[] => {
    const expand = Expand.parse(req.query.expand ?? (req.body as { expand?: unknown } | undefined)?.expand);
    return expand === undefined ? [] : [expand].flat();
  };
  const sessionOf = (provider: string, sessionId: string): SandboxPayment => {
    try {
      return ledger.payment(provider, sessionId);
    } catch {
      throw new StripeAnswer(
        404,
        'invalid_request_error',
        `No such checkout.session: '${sessionId}'`,
        'resource_missing',
      );
    }
  };
  const checkoutUrl = (req: Request, payment: SandboxPayment) =>
    `${req.protocol}://${req.get('host')}${STRIPE_CHECKOUT_PATH}/${payment.paymentId}`;

  /** A route of Stripe's API: the account by its key, the provider's outage switch, idempotent replays. */
  const api =
    (handle: (req: Request, provider: string) => { status?: number; body: unknown }): RequestHandler =>
    (req, res) => {
      const provider = accountOf(req);
      if (outages.providers.has(provider)) throw new StripeAnswer(503, 'api_error', `${provider} is down`);
      const key = req.method === 'POST' ? req.get('idempotency-key') : undefined;
      const replay = key ? answered.get(`${provider}/${key}`) : undefined;
      if (replay) return void res.status(replay.status).set('idempotent-replayed', 'true').json(replay.body);
      const { status = 200, body } = handle(req, provider);
      if (key) answered.set(`${provider}/${key}`, { status, body });
      res.status(status).json(body);
    };

  const refundsOf = (payment: SandboxPayment) => [...refunds.values()].filter((r) => r.paymentId === payment.paymentId);
  const units = (payment: SandboxPayment, minor: number) => {
    // The ledger's amounts came from Stripe's units, so they always go back.
    const amount = toStripeUnits(minor, payment.currency);
    if (!amount.ok) throw new Error(`the sandbox's Stripe holds an amount it cannot show: ${amount.problem}`);
    return amount.amount;
  };
  const refundObject = (payment: SandboxPayment, refund: SandboxRefund) => ({
    id: refund.id,
    object: 'refund',
    amount: refund.amount,
    currency: payment.currency.toLowerCase(),
    charge: chargeId(payment),
    payment_intent: intentId(payment),
    status: refund.status,
    failure_reason: null,
    created: refund.created,
  });
  /** A session as Stripe answers it, with its payment's objects inlined where `expand` asks (prefix: `data.` in lists). */
  const sessionObject = (req: Request, payment: SandboxPayment, expand: readonly string[], prefix = '') => {
    const expanded = (path: string) => expand.some((e) => `${e}.`.startsWith(`${prefix}${path}.`));
    const paid = payment.captured > 0;
    const charge = {
      id: chargeId(payment),
      object: 'charge',
      amount: units(payment, payment.amount),
      amount_captured: units(payment, payment.captured),
      // As at Stripe, a refund counts against the charge from when it is made, pending or not.
      amount_refunded: refundsOf(payment).reduce((sum, refund) => sum + refund.amount, 0),
      currency: payment.currency.toLowerCase(),
      ...(expanded('payment_intent.latest_charge.refunds')
        ? {
            refunds: {
              object: 'list',
              data: refundsOf(payment).map((refund) => refundObject(payment, refund)),
              has_more: false,
              url: `/v1/charges/${chargeId(payment)}/refunds`,
            },
          }
        : {}),
    };
    const intent = {
      id: intentId(payment),
      object: 'payment_intent',
      amount: units(payment, payment.amount),
      amount_received: units(payment, payment.captured),
      currency: payment.currency.toLowerCase(),
      status: 'succeeded',
      latest_charge: expanded('payment_intent.latest_charge') ? charge : charge.id,
    };
    const created = Math.floor(payment.createdAt / 1000);
    const status = payment.status === 'pending' ? 'open' : paid ? 'complete' : 'expired';
    return {
      id: payment.paymentId,
      object: 'checkout.session',
      mode: 'payment',
      status,
      payment_status: paid ? 'paid' : 'unpaid',
      url: status === 'open' ? checkoutUrl(req, payment) : null,
      amount_total: units(payment, payment.amount),
      currency: payment.currency.toLowerCase(),
      client_reference_id: payment.orderId,
      metadata: { orderId: payment.orderId },
      created,
      expires_at: created + SESSION_LIFETIME_SECONDS,
      payment_intent: paid ? (expanded('payment_intent') ? intent : intent.id) : null,
      livemode: false,
    };
  };
  /** Sends a session's event to the API's webhook endpoint, signed with the account's secret. */
  const announce = (req: Request, payment: SandboxPayment, type: string) => {
    const event = {
      id: `evt_${randomBytes(12).toString('hex')}`,
      object: 'event',
      api_version: STRIPE_API_VERSION,
      created: Math.floor(Date.now() / 1000),
      type,
      data: { object: sessionObject(req, payment, []) },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
    };
    webhooks.sendEvent(payment.provider, payment.orderId, JSON.stringify(event));
  };

  router.post(
    '/v1/checkout/sessions',
    faultable('create-payment'),
    api((req, provider) => {
      const body = CreateSession.parse(req.body);
      const currency = body.line_items[0]!.price_data.currency.toUpperCase();
      const total = body.line_items.reduce((sum, line) => sum + line.quantity * line.price_data.unit_amount, 0);
      const { payment } = ledger.createPayment(
        provider,
        // The customer chooses how to pay on the page: the session waits there, as `tok_lost` waits.
        {
          orderId: body.client_reference_id,
          amount: fromStripeAmount(total, currency),
          currency,
          token: PaymentToken.LOST,
        },
        { idPrefix: SESSION_ID_PREFIX, onePerOrder: false },
      );
      successUrls.set(payment.paymentId, body.success_url);
      return { body: sessionObject(req, payment, expansions(req)) };
    }),
  );
  router.get(
    '/v1/checkout/sessions',
    faultable('find-payments'),
    api((req, provider) => {
      const query = ListQuery.parse(req.query);
      const fromMs = (query.created?.gte ?? 0) * 1000;
      // Stripe lists newest first, and pages on from the last id of the page before.
      const all = ledger.paymentsCreatedSince(provider, fromMs, null, Number.MAX_SAFE_INTEGER).payments.reverse();
      const start = query.starting_after ? all.findIndex((p) => p.paymentId === query.starting_after) + 1 : 0;
      const page = all.slice(start, start + query.limit);
      const expand = expansions(req);
      return {
        body: {
          object: 'list',
          data: page.map((payment) => sessionObject(req, payment, expand, 'data.')),
          has_more: start + query.limit < all.length,
          url: '/v1/checkout/sessions',
        },
      };
    }),
  );
  router.get(
    '/v1/checkout/sessions/:sessionId',
    faultable('get-payment'),
    api((req, provider) => ({
      body: sessionObject(req, sessionOf(provider, String(req.params.sessionId)), expansions(req)),
    })),
  );
  router.post(
    '/v1/checkout/sessions/:sessionId/expire',
    faultable('void'),
    api((req, provider) => {
      const payment = sessionOf(provider, String(req.params.sessionId));
      if (payment.status !== 'pending') {
        throw new StripeAnswer(400, 'invalid_request_error', `This Checkout Session is ${payment.status}, not open`);
      }
      ledger.void(payment);
      announce(req, payment, 'checkout.session.expired');
      return { body: sessionObject(req, payment, expansions(req)) };
    }),
  );
  router.post(
    '/v1/refunds',
    faultable('refund'),
    api((req, provider) => {
      if (outages.refunds) throw new StripeAnswer(503, 'api_error', 'refunds are down');
      const body = CreateRefund.parse(req.body);
      // A session's PaymentIntent is named after it, and exists once the session is paid.
      const payment = ledger.anyPayment(`${SESSION_ID_PREFIX}_${body.payment_intent.replace(/^pi_/, '')}`);
      if (payment?.provider !== provider || payment.captured === 0) {
        throw new StripeAnswer(
          404,
          'invalid_request_error',
          `No such payment_intent: '${body.payment_intent}'`,
          'resource_missing',
        );
      }
      const refundable = units(payment, payment.captured) - refundsOf(payment).reduce((sum, r) => sum + r.amount, 0);
      if (body.amount > refundable) {
        throw new StripeAnswer(
          400,
          'invalid_request_error',
          'the amount is more than the charge has left',
          'charge_already_refunded',
        );
      }
      const refund: SandboxRefund = {
        id: `re_${randomBytes(12).toString('hex')}`,
        paymentId: payment.paymentId,
        amount: body.amount,
        status: 'pending',
        created: Math.floor(Date.now() / 1000),
      };
      refunds.set(refund.id, refund);
      later(REFUND_PENDING_MS, () => {
        refund.status = 'succeeded';
        ledger.refund(payment, fromStripeAmount(refund.amount, payment.currency));
      });
      return { body: refundObject(payment, refund) };
    }),
  );
  router.get(
    '/v1/refunds/:refundId',
    api((req, provider) => {
      const refund = refunds.get(String(req.params.refundId));
      const payment = refund ? sessionOf(provider, refund.paymentId) : undefined;
      if (!refund || !payment) {
        throw new StripeAnswer(
          404,
          'invalid_request_error',
          `No such refund: '${req.params.refundId}'`,
          'resource_missing',
        );
      }
      return { body: refundObject(payment, refund) };
    }),
  );

  /** The session's page: the form while it is open, where it ended after. A person's view of the sandbox's Stripe. */
  const page = (payment: SandboxPayment, note = '') => {
    const title = `Order ${escapeHtml(payment.orderId)}: ${escapeHtml(formatAmount(payment.amount, payment.currency))}`;
    const body =
      payment.status === 'pending'
        ? `<form method="post"><button name="card" value="ok">Pay</button> ` +
          `<button name="card" value="declined">Pay with a declined card</button></form>`
        : `<p>This checkout session is ${payment.captured > 0 ? 'paid' : 'expired'}.</p>`;
    return `<!doctype html><title>${title}</title><h1>Sandbox Stripe Checkout</h1><p>${title}</p>${note}${body}`;
  };
  const sessionAt = (sessionId: string): SandboxPayment => {
    const payment = ledger.anyPayment(sessionId);
    if (!payment || !payment.paymentId.startsWith(`${SESSION_ID_PREFIX}_`)) {
      throw new SandboxError(404, 'NOT_FOUND', 'no such checkout session');
    }
    return payment;
  };
  router.get(`${STRIPE_CHECKOUT_PATH}/:sessionId`, (req: Request<{ sessionId: string }>, res: Response) => {
    res.type('html').send(page(sessionAt(req.params.sessionId)));
  });
  // The page's form posts here (a browser then follows the redirect to the shop's success URL); a test posts JSON.
  router.post(`${STRIPE_CHECKOUT_PATH}/:sessionId`, express.json(), (req: Request<{ sessionId: string }>, res) => {
    const payment = sessionAt(req.params.sessionId);
    const fromPage = typeof req.is('application/x-www-form-urlencoded') === 'string';
    if (payment.status !== 'pending') {
      throw new SandboxError(409, 'SESSION_NOT_OPEN', 'this checkout session has ended: there is nothing to pay');
    }
    const { card, event } = PayAtPage.parse(req.body ?? {});
    // A declined card is not the end at Stripe Checkout: the page says so and the customer tries another.
    if (card === 'declined') {
      if (fromPage)
        return void res
          .status(402)
          .type('html')
          .send(page(payment, '<p>Your card was declined. Try another card.</p>'));
      throw new StripeAnswer(402, 'card_error', 'Your card was declined. Try another card.', 'card_declined');
    }
    ledger.succeed(payment);
    if (event === 'sent') announce(req, payment, 'checkout.session.completed');
    const successUrl = successUrls.get(payment.paymentId);
    if (fromPage && successUrl)
      return void res.redirect(303, successUrl.replace('{CHECKOUT_SESSION_ID}', payment.paymentId));
    res.json({ paid: true, orderId: payment.orderId });
  });

  router.use((err: unknown, _req: Request, res: Response, next: (err: unknown) => void) => {
    if (err instanceof StripeAnswer) return void res.status(err.status).json(err.body);
    if (err instanceof z.ZodError) {
      return void res.status(400).json({ error: { type: 'invalid_request_error', message: z.prettifyError(err) } });
    }
    next(err);
  });
  return {
    router,
    /** Forgets the refunds and the idempotency keys, with the ledger's reset. */
    reset() {
      refunds.clear();
      answered.clear();
      successUrls.clear();
    },
  };
}

/** A session's payment and charge ids, named after its own (`cs_test_X` → `pi_X`, `ch_X`). */
function intentId(payment: SandboxPayment): string {
  return `pi_${payment.paymentId.slice(SESSION_ID_PREFIX.length + 1)}`;
}
function chargeId(payment: SandboxPayment): string {
  return `ch_${payment.paymentId.slice(SESSION_ID_PREFIX.length + 1)}`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Stripe's signature header for a body, made by the package itself (what Stripe sends, by Stripe's code). */
export function stripeSignatureHeaders(secret: string, body: string): Record<string, string> {
  return {
    [STRIPE_SIGNATURE_HEADER]: Stripe.webhooks.generateTestHeaderString({
      payload: body,
      secret,
      timestamp: Math.floor(Date.now() / 1000),
    }),
  };
}
