import http from 'node:http';
import { ApplicationFailure } from '@temporalio/common';
import Stripe from 'stripe';
import { FailureType, Reason } from '../domain/reasons';
import type { PaymentGateway } from '../payment-provider/gateway';
import type { StripeProviderConfig } from '../payment-provider/providers';
import { fromStripeAmount, toStripeCharge, toStripeUnits } from '../payment-provider/stripe-amounts';
import {
  createStripeGateway,
  STRIPE_API_VERSION,
  STRIPE_SIGNATURE_HEADER,
  stripeFailure,
  stripeWebhookReader,
} from '../payment-provider/stripe-gateway';
import { createSandbox, type Sandbox } from '../sandbox/server';
import { stripeSignatureHeaders } from '../sandbox/stripe';
import { startStripeMock } from '../stack/stripe-mock';
import { closeServer } from '../stack/parts';
import { eventually, listenAt } from './helpers/stack';

const TIMEOUT_MS = 1_000;
const provider = (apiBase: string, apiKey = 'sk_test_sandbox_stripe'): StripeProviderConfig => ({
  type: 'stripe',
  name: 'stripe',
  apiKey,
  webhookSecret: 'whsec_test_stripe',
  apiBase,
  successUrl: 'https://shop.example/paid?session={CHECKOUT_SESSION_ID}',
  cancelUrl: 'https://shop.example/basket',
});

/** The failure a gateway call throws, for its type and whether it is retried. */
async function failureOf(call: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await call.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof ApplicationFailure)) throw new Error(`expected an ApplicationFailure, got ${String(err)}`);
  return err;
}

describe("against stripe-mock, Stripe's own mock of its API", () => {
  let mock: Awaited<ReturnType<typeof startStripeMock>>;
  let gateway: PaymentGateway;
  beforeAll(async () => {
    mock = await startStripeMock();
    // stripe-mock takes any key that looks like a test-mode secret key: letters and digits after `sk_test_`.
    gateway = createStripeGateway(provider(mock.url, 'sk_test_mock'), 5_000);
  });
  afterAll(async () => {
    await mock?.stop();
  });

  // stripe-mock refuses (400) any parameter Stripe's OpenAPI document does not allow: a call that passes is
  // one Stripe's API takes. Its answers are Stripe's fixtures, which the adapter must read.
  test('create opens a Checkout Session that Stripe accepts, and its fixture reads as a pending payment', async () => {
    const payment = await gateway.create({ orderId: 'A-1', amount: 1999, currency: 'EUR', token: 'unused' });
    expect(payment.paymentId).toMatch(/^cs_/);
    expect(payment.status).toBe('pending');
    expect(payment.checkoutUrl).toMatch(/^https:\/\/checkout\.stripe\.com\//);
    expect(payment.createdAt).toMatch(/^\d{4}-/);
  });

  test('get, findByOrder and createdSince read sessions expanded down to their refunds', async () => {
    const payment = await gateway.get('cs_test_1');
    expect(payment).toMatchObject({ paymentId: 'cs_test_1', status: 'pending' });
    // The fixture's sessions name no order: nothing of A-1 is found, and the list still reads.
    expect(await gateway.findByOrder('A-1')).toBeNull();
    const page = await gateway.createdSince(new Date(Date.now() - 3_600_000), null);
    expect(page.payments.length).toBeGreaterThan(0);
    expect(page.nextCursor).toBeNull();
  });

  test('void expires the session, and refund creates a Refund on its payment and reads it back', async () => {
    expect(await gateway.void('cs_test_1')).toBe('voided');
    const record = await gateway.get('cs_test_1');
    const refunded = await gateway.refund({ ...record!, currency: 'USD', refunded: 0 }, 100);
    expect(refunded.paymentId).toBe('cs_test_1');
  });

  test('the pinned API version is the one the package speaks', () => {
    expect(STRIPE_API_VERSION).toBe(Stripe.API_VERSION);
  });
});

describe("against the sandbox's Stripe: state, refusals and faults", () => {
  let sandbox: Sandbox;
  let server: http.Server;
  let url: string;
  let gateway: PaymentGateway;
  const events: string[] = [];
  let receiver: http.Server;
  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        events.push(body);
        res.end('{}');
      });
    });
    const receiverUrl = await listenAt(receiver);
    sandbox = createSandbox({
      providers: [
        { name: 'stripe', type: 'stripe', apiKey: 'sk_test_sandbox_stripe', webhookSecret: 'whsec_test_stripe' },
      ],
      webhookBaseUrl: receiverUrl,
      paymentWindowMs: 60_000,
    });
    server = http.createServer(sandbox.app);
    url = await listenAt(server);
    gateway = createStripeGateway(provider(url), TIMEOUT_MS);
  });
  afterAll(async () => {
    sandbox?.close();
    await closeServer(server);
    await closeServer(receiver);
  });
  afterEach(async () => {
    await fetch(`${url}/_sandbox/reset`, { method: 'POST' });
  });
  const fault = (route: string, body: unknown) =>
    fetch(`${url}/_sandbox/faults/${route}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  test('a session is paid, found by its order, refunded in two parts followed until final, and listed', async () => {
    const created = await gateway.create({ orderId: 'S-1', amount: 2500, currency: 'EUR', token: 'unused' });
    expect(created).toMatchObject({ orderId: 'S-1', amount: 2500, currency: 'EUR', status: 'pending', captured: 0 });
    expect((await fetch(created.checkoutUrl, { method: 'POST' })).status).toBe(200);
    const paid = await gateway.get(created.paymentId);
    expect(paid).toMatchObject({ status: 'succeeded', captured: 2500, refunded: 0, checkoutUrl: '' });
    expect(await gateway.findByOrder('S-1')).toMatchObject({ paymentId: created.paymentId });
    expect(await gateway.findByOrder('S-2')).toBeNull();
    expect(await gateway.void(created.paymentId)).toBe('not-pending');

    // The sandbox's refunds are pending for a moment: the gateway answers only once Stripe says succeeded.
    const part = await gateway.refund(paid!, 1000);
    expect(part).toMatchObject({ refunded: 1000, status: 'succeeded' });
    const rest = await gateway.refund(part, 1500);
    expect(rest).toMatchObject({ refunded: 2500, status: 'refunded' });
    // The same refund asked again (a retry of the same attempt) is the same refund, not a second one.
    expect(await gateway.refund(part, 1500)).toMatchObject({ refunded: 2500 });
    expect(sandbox.ledger.snapshot().payments[0]).toMatchObject({ captured: 2500, refunded: 2500 });

    const page = await gateway.createdSince(new Date(Date.now() - 60_000), null);
    expect(page.payments.map((p) => p.paymentId)).toEqual([created.paymentId]);
    await eventually(
      () => events.map((body) => (JSON.parse(body) as { type: string }).type),
      (types) => types.includes('checkout.session.completed'),
    );
  });

  test('createdSince pages a hundred at a time, newest first, to the last', async () => {
    for (let i = 0; i < 105; i++) {
      await gateway.create({ orderId: `P-${i}`, amount: 1000, currency: 'EUR', token: 'unused' });
    }
    const first = await gateway.createdSince(new Date(0), null);
    expect(first.payments).toHaveLength(100);
    expect(first.nextCursor).toBe(first.payments[99]!.paymentId);
    const second = await gateway.createdSince(new Date(0), first.nextCursor);
    expect(second.payments).toHaveLength(5);
    expect(second.nextCursor).toBeNull();
    expect(await gateway.findByOrder('P-0')).toMatchObject({ orderId: 'P-0' });
  });

  test('an open session is voided by expiring it; an unknown one is not found', async () => {
    const created = await gateway.create({ orderId: 'V-1', amount: 1000, currency: 'EUR', token: 'unused' });
    expect(await gateway.void(created.paymentId)).toBe('voided');
    expect(await gateway.void(created.paymentId)).toBe('voided');
    expect(await gateway.get(created.paymentId)).toMatchObject({ status: 'voided', captured: 0 });
    expect(await gateway.get('cs_test_nothing')).toBeNull();
  });

  test('an amount Stripe would refuse is refused before any call, as a decline with the reason', async () => {
    const failure = await failureOf(gateway.create({ orderId: 'M-1', amount: 30, currency: 'EUR', token: 'unused' }));
    expect(failure.type).toBe(Reason.PAYMENT_DECLINED);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain("below Stripe's minimum charge of 0.50 EUR");
    expect(sandbox.ledger.snapshot().payments).toEqual([]);
  });

  test('a refused API key is a configuration error for an operator, never retried, and names no key', async () => {
    const wrongKey = createStripeGateway(provider(url, 'sk_test_wrong_key_1234'), TIMEOUT_MS);
    const failure = await failureOf(wrongKey.get('cs_test_1'));
    expect(failure.type).toBe(FailureType.PROVIDER_MISCONFIGURED);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).not.toContain('sk_test_wrong_key_1234');
  });

  test.each([
    ['a 503', { kind: 'status', status: 503 }, FailureType.UPSTREAM_UNAVAILABLE, false],
    ['a 429', { kind: 'status', status: 429 }, FailureType.UPSTREAM_UNAVAILABLE, false],
    ['an answer past the timeout', { kind: 'hang', ms: 3 * TIMEOUT_MS }, FailureType.UPSTREAM_UNAVAILABLE, false],
    ['a body off the contract', { kind: 'bad-body' }, FailureType.UPSTREAM_CONTRACT, false],
    ['an unexpected 400', { kind: 'status', status: 400 }, FailureType.UPSTREAM_CONTRACT, true],
  ])('%s on a call is read in the saga’s terms', async (name, routeFault, type, nonRetryable) => {
    const { paymentId } = await gateway.create({ orderId: 'F-0', amount: 1000, currency: 'EUR', token: 'unused' });
    const garbled = routeFault.kind === 'bad-body';
    for (const [route, call] of [
      ['create-payment', () => gateway.create({ orderId: 'F-1', amount: 1000, currency: 'EUR', token: 'unused' })],
      ['get-payment', () => gateway.get(paymentId)],
      ['find-payments', () => gateway.findByOrder('F-1')],
      // An expire whose answer is garbled has happened: the gateway reads the session and knows (below).
      ...(garbled ? [] : [['void', () => gateway.void(paymentId)] as const]),
    ] as const) {
      await fault(route, routeFault);
      const failure = await failureOf(call());
      expect([name, route, failure.type, failure.nonRetryable]).toEqual([name, route, type, nonRetryable]);
      await fetch(`${url}/_sandbox/faults/${route}`, { method: 'DELETE' });
    }
    if (garbled) {
      await fault('void', routeFault);
      expect(await gateway.void(paymentId)).toBe('voided');
    }
  });

  test('a refund smaller than Stripe’s minimum charge goes through: the minimum is for charges, not refunds', async () => {
    const created = await gateway.create({ orderId: 'R-0', amount: 1000, currency: 'EUR', token: 'unused' });
    await fetch(created.checkoutUrl, { method: 'POST' });
    const paid = (await gateway.get(created.paymentId))!;
    expect(await gateway.refund(paid, 30)).toMatchObject({ captured: 1000, refunded: 30, status: 'succeeded' });
  });

  test('a refund that fails in flight is retried; one refused by Stripe is not', async () => {
    const created = await gateway.create({ orderId: 'R-1', amount: 1000, currency: 'EUR', token: 'unused' });
    await fetch(created.checkoutUrl, { method: 'POST' });
    const paid = (await gateway.get(created.paymentId))!;
    await fault('refund', { kind: 'status', status: 502 });
    expect((await failureOf(gateway.refund(paid, 1000))).nonRetryable).toBe(false);
    await fetch(`${url}/_sandbox/faults/refund`, { method: 'DELETE' });
    // More than the charge has left: Stripe's refusal, which no retry mends.
    const refused = await failureOf(gateway.refund(paid, 5000));
    expect([refused.type, refused.nonRetryable]).toEqual([FailureType.UPSTREAM_CONTRACT, true]);
  });
});

describe('the Stripe webhook reader', () => {
  const secret = 'whsec_test_stripe';
  const read = stripeWebhookReader(provider('http://unused.invalid'));
  const now = Math.floor(Date.now() / 1000);
  const session = (overrides: Record<string, unknown> = {}) => ({
    id: 'cs_test_w1',
    object: 'checkout.session',
    status: 'complete',
    payment_status: 'paid',
    url: null,
    amount_total: 1999,
    currency: 'eur',
    client_reference_id: 'W-1',
    metadata: { orderId: 'W-1' },
    created: now,
    payment_intent: 'pi_w1',
    ...overrides,
  });
  const event = (type: string, object: unknown = session()) =>
    JSON.stringify({ id: `evt_${type}`, object: 'event', type, data: { object } });
  const readSigned = (body: string, signedWith = secret) => {
    const headers = stripeSignatureHeaders(signedWith, body);
    return read(Buffer.from(body), (name) => headers[name.toLowerCase()], now);
  };

  test('a completed, paid session is the order’s success; a delayed payment’s outcome and an expiry are read too', () => {
    expect(readSigned(event('checkout.session.completed'))).toEqual({
      ok: true,
      callback: {
        eventId: 'evt_checkout.session.completed',
        type: 'payment.succeeded',
        paymentId: 'cs_test_w1',
        orderId: 'W-1',
        amount: 1999,
        currency: 'EUR',
        failureReason: null,
      },
    });
    expect(readSigned(event('checkout.session.async_payment_succeeded'))).toMatchObject({
      callback: { type: 'payment.succeeded' },
    });
    expect(
      readSigned(event('checkout.session.async_payment_failed', session({ payment_status: 'unpaid' }))),
    ).toMatchObject({
      callback: { type: 'payment.failed', failureReason: 'the delayed payment failed' },
    });
    expect(
      readSigned(event('checkout.session.expired', session({ status: 'expired', payment_status: 'unpaid' }))),
    ).toMatchObject({
      callback: { type: 'payment.failed', failureReason: 'the checkout session expired unpaid' },
    });
  });

  test('a session still unpaid, another event type, or a session of no order is acknowledged and ignored', () => {
    const unpaid = readSigned(event('checkout.session.completed', session({ payment_status: 'unpaid' })));
    expect(unpaid).toMatchObject({ ok: true, callback: null });
    expect(readSigned(event('charge.refunded', { id: 'ch_1', object: 'charge' }))).toMatchObject({
      ok: true,
      callback: null,
    });
    const orphan = session({ client_reference_id: null, metadata: {} });
    expect(readSigned(event('checkout.session.completed', orphan))).toMatchObject({ ok: true, callback: null });
  });

  test('a forged, stale or missing signature is 401; a signed body that is not an event is 400', () => {
    const body = event('checkout.session.completed');
    expect(readSigned(body, 'whsec_someone_else')).toMatchObject({ ok: false, status: 401 });
    const stale = `t=${now - 3600},v1=${'0'.repeat(64)}`;
    expect(read(Buffer.from(body), () => stale, now)).toMatchObject({ ok: false, status: 401 });
    expect(read(Buffer.from(body), () => undefined, now)).toMatchObject({ ok: false, status: 401 });
    // Signed by Stripe's own helper a day ago: replayed, refused.
    const old = Stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: now - 86_400 });
    expect(read(Buffer.from(body), (name) => (name === STRIPE_SIGNATURE_HEADER ? old : undefined), now)).toMatchObject({
      status: 401,
    });
    expect(readSigned('not json')).toMatchObject({ ok: false, status: 400 });
    expect(readSigned(JSON.stringify({ hello: 'world' }))).toMatchObject({ ok: false, status: 400 });
    expect(readSigned(event('checkout.session.completed', { id: 'cs_1' }))).toMatchObject({ ok: false, status: 400 });
  });
});

describe("Stripe's errors in the saga's terms", () => {
  const raw = (type: Stripe.RawErrorType, extra: Record<string, unknown> = {}) => ({
    type,
    message: 'from Stripe',
    ...extra,
  });
  test.each([
    [
      'a card error',
      new Stripe.errors.StripeCardError(
        raw('card_error', { code: 'card_declined', decline_code: 'insufficient_funds', statusCode: 402 }),
      ),
      Reason.PAYMENT_DECLINED,
      true,
    ],
    [
      'an amount refusal',
      new Stripe.errors.StripeInvalidRequestError(
        raw('invalid_request_error', { code: 'amount_too_small', statusCode: 400 }),
      ),
      Reason.PAYMENT_DECLINED,
      true,
    ],
    [
      'a rate limit',
      new Stripe.errors.StripeRateLimitError(raw('invalid_request_error', { statusCode: 429 })),
      FailureType.UPSTREAM_UNAVAILABLE,
      false,
    ],
    [
      'a 5xx',
      new Stripe.errors.StripeAPIError(raw('api_error', { statusCode: 500 })),
      FailureType.UPSTREAM_UNAVAILABLE,
      false,
    ],
    [
      'a lost connection',
      new Stripe.errors.StripeConnectionError(raw('api_error')),
      FailureType.UPSTREAM_UNAVAILABLE,
      false,
    ],
    [
      'a lock timeout',
      new Stripe.errors.StripeInvalidRequestError(
        raw('invalid_request_error', { code: 'lock_timeout', statusCode: 409 }),
      ),
      FailureType.UPSTREAM_UNAVAILABLE,
      false,
    ],
    [
      'a refused key',
      new Stripe.errors.StripeAuthenticationError(raw('invalid_request_error', { statusCode: 401 })),
      FailureType.PROVIDER_MISCONFIGURED,
      true,
    ],
    [
      'a missing permission',
      new Stripe.errors.StripePermissionError(raw('invalid_request_error', { statusCode: 403 })),
      FailureType.PROVIDER_MISCONFIGURED,
      true,
    ],
    [
      'an idempotency clash',
      new Stripe.errors.StripeIdempotencyError(raw('idempotency_error', { statusCode: 400 })),
      FailureType.UPSTREAM_CONTRACT,
      true,
    ],
    [
      'an invalid request',
      new Stripe.errors.StripeInvalidRequestError(
        raw('invalid_request_error', { code: 'parameter_unknown', statusCode: 400 }),
      ),
      FailureType.UPSTREAM_CONTRACT,
      true,
    ],
  ])('%s', (_name, error, type, nonRetryable) => {
    const failure = stripeFailure(error, 'payment provider stripe') as ApplicationFailure;
    expect([failure.type, failure.nonRetryable]).toEqual([type, nonRetryable]);
  });

  test('an error that is not Stripe’s goes on as it is (a bug of ours is not a provider’s answer)', () => {
    const bug = new TypeError('undefined is not a function');
    expect(stripeFailure(bug, 'payment provider stripe')).toBe(bug);
  });
});

describe("amounts in Stripe's units", () => {
  test.each([
    [1999, 'EUR', 1999],
    [500, 'JPY', 500],
    // ISK has no decimals in ISO 4217 but two at Stripe, whose amounts must be whole krónur.
    [5, 'ISK', 500],
    [5120, 'KWD', 5120],
    [250_000, 'HUF', 25_000_000],
  ])('%d %s is %d', (minor, currency, units) => {
    expect(toStripeCharge(minor, currency)).toEqual({ ok: true, amount: units });
    expect(fromStripeAmount(units, currency)).toBe(minor);
  });

  test.each([
    [5124, 'KWD', 'ending in 0'],
    [49, 'USD', "below Stripe's minimum charge of 0.50 USD"],
    [49, 'JPY', "below Stripe's minimum charge of 50 JPY"],
    [100_000_000, 'EUR', "above Stripe's maximum charge"],
  ])('%d %s is refused as a charge (%s)', (minor, currency, problem) => {
    const amount = toStripeCharge(minor, currency);
    expect(amount.ok).toBe(false);
    expect(amount.ok ? '' : amount.problem).toContain(problem);
  });

  test('the limits are a charge’s: any amount in whole units is one Stripe takes, the smallest included', () => {
    expect(toStripeUnits(30, 'EUR')).toEqual({ ok: true, amount: 30 });
    expect(toStripeUnits(49, 'JPY')).toEqual({ ok: true, amount: 49 });
    expect(toStripeUnits(5124, 'KWD')).toMatchObject({ ok: false });
  });
});
