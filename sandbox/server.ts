import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { PaymentEvent } from '../domain/statuses';
import { CreatePaymentRequest, type PaymentRecord } from '../payment-provider/protocol';
import { CreatedSinceQuery } from '../domain/schemas/paging';
import { ReservationRequest } from '../activities/inventory';
import { FulfillmentRequest } from '../activities/fulfillment';
import { notificationKey, NotificationRequest } from '../activities/notifications';
import { Ledger, PaymentToken, SandboxError, type SandboxPayment } from './ledger';
import { WebhookSender } from './webhooks';
import { stripeRoutes } from './stripe';
import type { PaymentProviderType } from '../payment-provider/providers';
import { DEV_ORDER_WEBHOOK_SECRET, ORDER_WEBHOOKS_PATH, StatusEventReceiver } from './status-event-receiver';
import { RouteFault, RouteFaults, SandboxRoute } from './route-faults';
import { createLogger, type PinoLogger } from '../observability/logger';
import { noteOrder, requestLog } from '../observability/request-log';
import { traceRequests } from '../observability/trace-context';

export interface SandboxOptions {
  /**
   * The providers to stand in for, by name, with the secret each signs its webhooks with; one of type
   * `stripe` is played as Stripe, known by its API key.
   */
  providers: readonly { name: string; webhookSecret: string; type?: PaymentProviderType; apiKey?: string }[];
  /** Where webhooks go: `${webhookBaseUrl}/webhooks/payments/{provider}`. */
  webhookBaseUrl: string;
  /** `tok_late` payments succeed this long plus two seconds after they are created. */
  paymentWindowMs: number;
  /** How long after creation a payment's outcome (and its webhook) comes; "shortly after". */
  outcomeDelayMs?: number;
  /** The dice the fault switch rolls (tests pass a fixed sequence). */
  random?: () => number;
  /** Where request lines go; silent when not given. */
  logger?: PinoLogger;
  /** The secret the order webhook endpoint (`POST /order-webhooks`) checks signatures with; the dev one by default. */
  orderWebhookSecret?: string;
}

const LATE_EXTRA_MS = 2_000;
const DEFAULT_OUTCOME_DELAY_MS = 100;
const DUPLICATE_DELIVERIES = 3;
const Outage = z.object({ down: z.boolean() });
/**
 * The fault switch: a share of calls to the services (not to /_sandbox) fail with 503, or hang past the
 * activities' HTTP timeout before answering, or either at random.
 */
export const FaultSettings = z.strictObject({
  rate: z.number().min(0).max(1),
  mode: z.enum(['error', 'hang', 'mixed']).default('mixed'),
  hangMs: z.int().min(0).max(60_000).default(6_000),
});
export type FaultSettings = z.infer<typeof FaultSettings>;
const NO_FAULTS: FaultSettings = { rate: 0, mode: 'mixed', hangMs: 0 };

/**
 * The systems the saga talks to, as one real HTTP server (docs/API.md, "The sandbox"): catalog and inventory, payment
 * providers with signed webhooks, fulfillment, notifications, fault switches and a ledger to check.
 */
export function createSandbox(options: SandboxOptions) {
  const ledger = new Ledger();
  const logger = options.logger ?? createLogger({ level: 'silent' });
  const webhooks = new WebhookSender(options.webhookBaseUrl, options.providers, logger);
  const outcomeDelayMs = options.outcomeDelayMs ?? DEFAULT_OUTCOME_DELAY_MS;
  const outages = { providers: new Set<string>(), fulfillment: false, refunds: false };
  let faults: FaultSettings = NO_FAULTS;
  const random = options.random ?? Math.random;
  const timers = new Set<NodeJS.Timeout>();
  const providerNames = new Set(options.providers.map((p) => p.name));

  const later = (ms: number, fn: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };
  const routeFaults = new RouteFaults(later);
  const faultable = (route: SandboxRoute) => routeFaults.on(route);
  const statusEvents = new StatusEventReceiver(options.orderWebhookSecret ?? DEV_ORDER_WEBHOOK_SECRET);

  /** What the provider does after a payment is created, by token. */
  function schedulePaymentOutcome(payment: SandboxPayment): void {
    switch (payment.token) {
      case PaymentToken.OK:
      case PaymentToken.DUPLICATE:
        return later(outcomeDelayMs, () => {
          if (payment.status !== 'pending') return; // voided meanwhile: the customer never paid
          ledger.succeed(payment);
          webhooks.send(
            payment,
            PaymentEvent['payment.succeeded'],
            payment.token === PaymentToken.DUPLICATE ? DUPLICATE_DELIVERIES : 1,
          );
        });
      case PaymentToken.DECLINE:
        return later(outcomeDelayMs, () => {
          ledger.fail(payment);
          webhooks.send(payment, PaymentEvent['payment.failed'], 1, 'card_declined');
        });
      case PaymentToken.SILENT:
        return ledger.succeed(payment);
      case PaymentToken.LATE:
        // The customer pays after the window; the provider takes the money even if the payment was voided
        // meanwhile: the race that late-money refunds exist for.
        return later(options.paymentWindowMs + LATE_EXTRA_MS, () => {
          ledger.succeed(payment);
          webhooks.send(payment, PaymentEvent['payment.succeeded'], 1);
        });
      default:
        return; // tok_lost: stays pending, no webhook
    }
  }

  const app = express();
  app.disable('x-powered-by');
  // Nested query keys (`created[gte]`, `expand[0]`), as Stripe's clients send them.
  app.set('query parser', 'extended');
  app.use(traceRequests('sandbox'));
  app.use(requestLog(logger));
  // Bodies are read as they arrive, before any fault: a call the fault switch holds past its caller's
  // timeout still has its body, and still takes effect once it runs (the caller never hears).
  // The order webhook endpoint's raw text first: a signature covers the body's bytes as sent.
  app.use(ORDER_WEBHOOKS_PATH, express.text({ type: () => true, limit: '200kb' }));
  app.use(express.json({ limit: '200kb' }));
  app.use((req, res, next) => {
    if (req.path.startsWith('/_sandbox') || faults.rate === 0 || random() >= faults.rate) return next();
    const hang = faults.mode === 'hang' || (faults.mode === 'mixed' && random() < 0.5);
    if (!hang)
      return void res
        .status(503)
        .json({ code: 'INJECTED_FAULT', message: 'the sandbox fault switch failed this call' });
    // The call still runs, after the caller has given up: it happened, but its answer is lost.
    later(faults.hangMs, () => next());
  });
  app.post(ORDER_WEBHOOKS_PATH, faultable('order-webhooks'), (req, res) => {
    const receipt = statusEvents.take(typeof req.body === 'string' ? req.body : '', req.headers);
    if (receipt.status === 204) return void res.status(204).end();
    res.status(receipt.status).json({ code: receipt.code, message: receipt.message });
  });
  app.use((req, res, next) => {
    const orderId = (req.body as { orderId?: unknown } | undefined)?.orderId;
    if (typeof orderId === 'string') noteOrder(res, orderId);
    next();
  });
  const baseUrl = (req: Request) => `${req.protocol}://${req.get('host')}`;
  const record = (req: Request, payment: SandboxPayment): PaymentRecord => ({
    paymentId: payment.paymentId,
    orderId: payment.orderId,
    amount: payment.amount,
    currency: payment.currency,
    status: payment.status,
    captured: payment.captured,
    refunded: payment.refunded,
    checkoutUrl: `${baseUrl(req)}/providers/${payment.provider}/checkout/${payment.paymentId}`,
    createdAt: new Date(payment.createdAt).toISOString(),
  });

  app.get('/catalog', faultable('catalog'), (req, res) => {
    const skus = typeof req.query.skus === 'string' ? req.query.skus.split(',') : undefined;
    res.json({ items: ledger.catalog(skus) });
  });

  app.post('/inventory/reservations', faultable('reserve'), (req, res) => {
    const { orderId, items } = ReservationRequest.parse(req.body);
    const { created } = ledger.reserve(orderId, items);
    res.status(created ? 201 : 200).json({ orderId, status: 'reserved' });
  });

  app.get('/inventory/reservations', (req, res) => {
    const query = CreatedSinceQuery.parse(req.query);
    const page = ledger.reservationsSince(Date.parse(query.createdFrom), query.cursor ?? null, query.limit);
    res.json({
      reservations: page.reservations.map(({ orderId, status, items, createdAt }) => ({
        orderId,
        status,
        items,
        createdAt: new Date(createdAt).toISOString(),
      })),
      nextCursor: page.nextCursor,
    });
  });

  app.post(
    '/inventory/reservations/:orderId/release',
    faultable('release'),
    (req: Request<{ orderId: string }>, res) => {
      ledger.release(req.params.orderId);
      res.json({ orderId: req.params.orderId, status: 'released' });
    },
  );

  const providers = express.Router({ mergeParams: true });
  providers.use((req: Request<{ provider: string }>, _res, next) => {
    if (!providerNames.has(req.params.provider)) throw new SandboxError(404, 'UNKNOWN_PROVIDER', 'no such provider');
    next();
  });
  providers.post('/payments', faultable('create-payment'), (req: Request<{ provider: string }>, res) => {
    const { provider } = req.params;
    if (outages.providers.has(provider)) throw new SandboxError(503, 'PROVIDER_DOWN', `${provider} is down`);
    const { payment, created } = ledger.createPayment(provider, CreatePaymentRequest.parse(req.body));
    if (created) schedulePaymentOutcome(payment);
    res.status(created ? 201 : 200).json(record(req, payment));
  });
  providers.get('/payments', faultable('find-payments'), (req: Request<{ provider: string }>, res) => {
    const { provider } = req.params;
    if (req.query.orderId !== undefined) {
      const orderId = z.string().min(1).parse(req.query.orderId);
      return void res.json({ payments: ledger.paymentsOfOrder(provider, orderId).map((p) => record(req, p)) });
    }
    if (outages.providers.has(provider)) throw new SandboxError(503, 'PROVIDER_DOWN', `${provider} is down`);
    const query = CreatedSinceQuery.parse(req.query);
    const page = ledger.paymentsCreatedSince(
      provider,
      Date.parse(query.createdFrom),
      query.cursor ?? null,
      query.limit,
    );
    res.json({ payments: page.payments.map((p) => record(req, p)), nextCursor: page.nextCursor });
  });
  providers.get(
    '/payments/:paymentId',
    faultable('get-payment'),
    (req: Request<{ provider: string; paymentId: string }>, res) => {
      res.json(record(req, ledger.payment(req.params.provider, req.params.paymentId)));
    },
  );
  // The customer pays at the checkout link (a payment link's `tok_lost` never pays by itself): the provider
  // takes the money and calls back, as for `tok_ok`. For a person trying the stack, and for tests that need
  // an order to wait at its link until they say.
  providers.post('/checkout/:paymentId', (req: Request<{ provider: string; paymentId: string }>, res) => {
    const payment = ledger.payment(req.params.provider, req.params.paymentId);
    if (payment.status !== 'pending') {
      throw new SandboxError(409, 'PAYMENT_NOT_PENDING', `the payment is ${payment.status}, not pending`);
    }
    ledger.succeed(payment);
    webhooks.send(payment, PaymentEvent['payment.succeeded'], 1);
    res.json(record(req, payment));
  });
  providers.post('/payments/:paymentId/capture', (req: Request<{ provider: string; paymentId: string }>, res) => {
    const payment = ledger.payment(req.params.provider, req.params.paymentId);
    ledger.capture(payment);
    res.json(record(req, payment));
  });
  /** Giving money back (a refund, or a void): faultable, refused while refunds are down, answering the payment. */
  const settlement = (route: 'refund' | 'void', settle: (payment: SandboxPayment, body: unknown) => void) =>
    providers.post(
      `/payments/:paymentId/${route}`,
      faultable(route),
      (req: Request<{ provider: string; paymentId: string }>, res) => {
        if (outages.refunds) throw new SandboxError(503, 'REFUNDS_DOWN', `${route}s are down`);
        const payment = ledger.payment(req.params.provider, req.params.paymentId);
        settle(payment, req.body);
        res.json(record(req, payment));
      },
    );
  settlement('refund', (payment, body) => {
    const { amount } = z.object({ amount: z.int().positive().optional() }).parse(body ?? {});
    ledger.refund(payment, amount ?? payment.captured);
  });
  settlement('void', (payment) => ledger.void(payment));
  app.use('/providers/:provider', providers);

  const stripe = stripeRoutes({
    accounts: options.providers.flatMap(({ name, type, apiKey }) =>
      type === 'stripe' && apiKey ? [{ name, apiKey }] : [],
    ),
    ledger,
    webhooks,
    later,
    faultable,
    outages,
  });
  app.use(stripe.router);

  app.post('/fulfillment/orders', faultable('fulfillment'), (req, res) => {
    if (outages.fulfillment) throw new SandboxError(503, 'FULFILLMENT_DOWN', 'fulfillment is down');
    const { orderId } = FulfillmentRequest.parse(req.body);
    res.status(201).json({ fulfillmentId: ledger.fulfil(orderId), orderId });
  });
  app.post('/fulfillment/orders/:orderId/cancel', faultable('cancel-fulfillment'), (req, res) => {
    if (outages.fulfillment) throw new SandboxError(503, 'FULFILLMENT_DOWN', 'fulfillment is down');
    const orderId = String(req.params.orderId);
    ledger.cancelFulfillment(orderId);
    res.json({ orderId, status: 'cancelled' });
  });
  app.post('/_sandbox/fulfillment/orders/:orderId/ship', (req, res) => {
    const orderId = String(req.params.orderId);
    ledger.ship(orderId);
    res.json({ orderId, shipped: true });
  });

  app.post('/notifications', faultable('notifications'), (req, res) => {
    const notification = NotificationRequest.parse(req.body);
    res.status(201).json({ notificationId: ledger.notify(notificationKey(notification)) });
  });

  app.post('/_sandbox/providers/:provider/outage', (req, res) => {
    if (!providerNames.has(req.params.provider)) throw new SandboxError(404, 'UNKNOWN_PROVIDER', 'no such provider');
    const { down } = Outage.parse(req.body);
    if (down) outages.providers.add(req.params.provider);
    else outages.providers.delete(req.params.provider);
    res.json({ provider: req.params.provider, down });
  });
  app.post('/_sandbox/fulfillment/outage', (req, res) => {
    outages.fulfillment = Outage.parse(req.body).down;
    res.json({ down: outages.fulfillment });
  });
  app.post('/_sandbox/refunds/outage', (req, res) => {
    outages.refunds = Outage.parse(req.body).down;
    res.json({ down: outages.refunds });
  });
  app.post('/_sandbox/faults', (req, res) => {
    faults = FaultSettings.parse(req.body);
    res.json(faults);
  });
  const sandboxRoute = (name: string): SandboxRoute => {
    const route = SandboxRoute.safeParse(name);
    if (!route.success) throw new SandboxError(404, 'UNKNOWN_ROUTE', `no route is called ${name}`);
    return route.data;
  };
  app.put('/_sandbox/faults/:route', (req, res) => {
    const route = sandboxRoute(req.params.route);
    const fault = RouteFault.parse(req.body);
    routeFaults.set(route, fault);
    res.json({ route, fault });
  });
  app.delete('/_sandbox/faults/:route', (req, res) => {
    const route = sandboxRoute(req.params.route);
    routeFaults.set(route, null);
    res.json({ route, fault: null });
  });
  app.post('/_sandbox/reset', (_req, res) => {
    clearTimers();
    faults = NO_FAULTS;
    routeFaults.clear();
    ledger.reset();
    stripe.reset();
    outages.providers.clear();
    outages.fulfillment = false;
    outages.refunds = false;
    statusEvents.reset();
    res.json({ reset: true });
  });
  app.get('/_sandbox/webhooks', (_req, res) => {
    res.json({
      webhooks: webhooks.sent.map(({ provider, body }) => ({ provider, event: JSON.parse(body) as unknown })),
    });
  });
  app.get('/_sandbox/order-webhooks', (_req, res) => {
    res.json({ received: statusEvents.received, rejected: statusEvents.rejected });
  });
  app.get('/_sandbox/ledger', (_req, res) => {
    res.json(ledger.snapshot());
  });

  app.use((_req, res) => {
    res.status(404).json({ code: 'NOT_FOUND', message: 'no such route' });
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof SandboxError)
      return void res.status(err.status).json({ code: err.code, message: err.message, ...err.details });
    if (err instanceof z.ZodError)
      return void res.status(400).json({ code: 'INVALID_REQUEST', message: z.prettifyError(err) });
    const status = (err as { status?: number }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return void res.status(status).json({ code: 'INVALID_REQUEST', message: 'the request could not be read' });
    }
    res.status(500).json({ code: 'INTERNAL', message: 'the sandbox failed' });
  });

  function clearTimers(): void {
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    webhooks.cancelAll();
  }

  function close(): void {
    clearTimers();
    webhooks.close();
  }

  return { app, ledger, statusEvents, close };
}

export type Sandbox = ReturnType<typeof createSandbox>;
