import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { HttpClient, HttpRequest, HttpResponse } from '../activities/http';
import { createInventoryActivities } from '../activities/inventory';
import { createPaymentActivities } from '../activities/payments';
import { createStatusWebhookActivities } from '../activities/status-webhooks';
import { Webhook } from 'standardwebhooks';
import { ApplicationFailure } from '@temporalio/common';
import { statusEvent } from '../domain/status-events';
import { failureOf } from './helpers/failures';

/** A fake external system: answers by method and path, and records what it was sent. */
function fakeHttp(routes: Record<string, (request: HttpRequest) => HttpResponse>) {
  const sent: HttpRequest[] = [];
  const http: HttpClient = {
    async send(request) {
      sent.push(request);
      const key = `${request.method} ${new URL(request.url).pathname}`;
      const route = routes[key];
      if (!route) throw new Error(`unexpected ${key}`);
      return route(request);
    },
  };
  return { http, sent };
}

// Activities log their failures; these tests expect failures and assert on them instead.
const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
const base = 'http://systems.test';
const systems = { catalogUrl: base, inventoryUrl: base };
const items = [{ sku: 'SKU-TEE', quantity: 2, unitPrice: 1999 }];
describe('inventory activities', () => {
  const catalog = { status: 200, body: { items: [{ sku: 'SKU-TEE', unitPrice: 1999, stock: 5 }] } };

  test('validateOrder prices the order from the catalog', async () => {
    const { http, sent } = fakeHttp({ 'GET /catalog': () => catalog });
    const acts = createInventoryActivities(http, systems);
    await expect(env.run(acts.validateOrder, { orderId: 'A-1', items })).resolves.toEqual({ total: 3998 });
    expect(sent[0]!.url).toBe(`${base}/catalog?skus=SKU-TEE`);
  });

  test('validateOrder fails non-retryably with UNKNOWN_SKU or PRICE_MISMATCH', async () => {
    const { http } = fakeHttp({ 'GET /catalog': () => catalog });
    const acts = createInventoryActivities(http, systems);
    const unknown = await failureOf(
      env.run(acts.validateOrder, { orderId: 'A-1', items: [{ sku: 'X', quantity: 1, unitPrice: 1 }] }),
    );
    expect(unknown).toMatchObject({ type: 'UNKNOWN_SKU', nonRetryable: true });
    const mismatch = await failureOf(
      env.run(acts.validateOrder, { orderId: 'A-1', items: [{ sku: 'SKU-TEE', quantity: 1, unitPrice: 1 }] }),
    );
    expect(mismatch).toMatchObject({ type: 'PRICE_MISMATCH', nonRetryable: true });
  });

  test('validateOrder retries an answer that breaks the catalog contract, and says what broke on one line', async () => {
    const { http } = fakeHttp({ 'GET /catalog': () => ({ status: 200, body: { products: [] } }) });
    const failure = await failureOf(
      env.run(createInventoryActivities(http, systems).validateOrder, { orderId: 'A-1', items }),
    );
    expect(failure).toMatchObject({ type: 'UPSTREAM_CONTRACT', nonRetryable: false });
    expect(failure.message).toBe(
      'catalog: unexpected answer (200): items: Invalid input: expected array, received undefined',
    );
  });

  test('reserveStock sends the summed quantities with an idempotency key from the order id', async () => {
    const { http, sent } = fakeHttp({
      'POST /inventory/reservations': () => ({ status: 201, body: { orderId: 'A-1', status: 'reserved' } }),
    });
    await env.run(createInventoryActivities(http, systems).reserveStock, {
      orderId: 'A-1',
      items: [...items, ...items],
    });
    expect(sent[0]).toMatchObject({
      idempotencyKey: 'reserve-A-1',
      body: { orderId: 'A-1', items: [{ sku: 'SKU-TEE', quantity: 4 }] },
    });
  });

  test('reserveStock turns a 409 OUT_OF_STOCK into a non-retryable OUT_OF_STOCK', async () => {
    const { http } = fakeHttp({
      'POST /inventory/reservations': () => ({
        status: 409,
        body: { code: 'OUT_OF_STOCK', message: 'SKU-TEE: 1 left' },
      }),
    });
    const failure = await failureOf(
      env.run(createInventoryActivities(http, systems).reserveStock, { orderId: 'A-1', items }),
    );
    expect(failure).toMatchObject({ type: 'OUT_OF_STOCK', nonRetryable: true, message: 'SKU-TEE: 1 left' });
  });
});

describe('payment activities', () => {
  const record = (over: object) => ({
    paymentId: 'pay_1',
    orderId: 'A-1',
    amount: 3998,
    currency: 'EUR',
    status: 'pending',
    captured: 0,
    refunded: 0,
    checkoutUrl: 'http://pay',
    ...over,
  });
  const providers = [
    { type: 'http' as const, name: 'primary', baseUrl: `${base}/providers/primary`, webhookSecret: 'whsec_unused' },
  ];

  test('createPayment sends the order id as idempotency key; the provider’s refusal (422) is a non-retryable PAYMENT_DECLINED', async () => {
    const ok = fakeHttp({ 'POST /providers/primary/payments': () => ({ status: 201, body: record({}) }) });
    const created = await env.run(createPaymentActivities(ok.http, providers).createPayment, {
      provider: 'primary',
      orderId: 'A-1',
      amount: 3998,
      currency: 'EUR',
      token: 'tok_ok',
    });
    expect(created).toMatchObject({ paymentId: 'pay_1' });
    expect(ok.sent[0]!.idempotencyKey).toBe('pay-A-1');
    const refused = fakeHttp({
      'POST /providers/primary/payments': () => ({ status: 422, body: { code: 'INVALID_TOKEN' } }),
    });
    const failure = await failureOf(
      env.run(createPaymentActivities(refused.http, providers).createPayment, {
        provider: 'primary',
        orderId: 'A-1',
        amount: 1,
        currency: 'EUR',
        token: 'x',
      }),
    );
    expect(failure).toMatchObject({ type: 'PAYMENT_DECLINED', nonRetryable: true });
  });

  test.each([400, 401, 404, 409])(
    'createPayment: a %i is not a decline but an answer the saga cannot read',
    async (status) => {
      const { http } = fakeHttp({
        'POST /providers/primary/payments': () => ({ status, body: { code: 'SOMETHING_ELSE' } }),
      });
      const failure = await failureOf(
        env.run(createPaymentActivities(http, providers).createPayment, {
          provider: 'primary',
          orderId: 'A-1',
          amount: 1,
          currency: 'EUR',
          token: 'x',
        }),
      );
      expect(failure).toMatchObject({ type: 'UPSTREAM_CONTRACT', nonRetryable: true });
      expect(failure.message).toContain(`answered ${status} (SOMETHING_ELSE)`);
    },
  );

  test('getPaymentStatus: a 404 PAYMENT_NOT_FOUND means the provider has no record of it (null); another 404 is unreadable', async () => {
    const unknown = fakeHttp({
      'GET /providers/primary/payments/pay_1': () => ({ status: 404, body: { code: 'PAYMENT_NOT_FOUND' } }),
    });
    await expect(
      env.run(createPaymentActivities(unknown.http, providers).getPaymentStatus, {
        provider: 'primary',
        paymentId: 'pay_1',
      }),
    ).resolves.toBeNull();
    const routeGone = fakeHttp({
      'GET /providers/primary/payments/pay_1': () => ({ status: 404, body: { code: 'NOT_FOUND' } }),
    });
    const failure = await failureOf(
      env.run(createPaymentActivities(routeGone.http, providers).getPaymentStatus, {
        provider: 'primary',
        paymentId: 'pay_1',
      }),
    );
    expect(failure).toMatchObject({ type: 'UPSTREAM_CONTRACT', nonRetryable: true });
  });

  test('settlePayment of a payment the provider does not know: not-found, nothing sent after the lookup', async () => {
    const { http, sent } = fakeHttp({
      'GET /providers/primary/payments/pay_1': () => ({ status: 404, body: { code: 'PAYMENT_NOT_FOUND' } }),
    });
    const outcome = await env.run(createPaymentActivities(http, providers).settlePayment, {
      provider: 'primary',
      orderId: 'A-1',
      paymentId: 'pay_1',
    });
    expect(outcome).toEqual({ outcome: 'not-found', paymentId: 'pay_1' });
    expect(sent).toHaveLength(1);
  });

  test('settlePayment refunds what was captured and not yet refunded', async () => {
    const { http, sent } = fakeHttp({
      'GET /providers/primary/payments/pay_1': () => ({
        status: 200,
        body: record({ status: 'succeeded', captured: 3998 }),
      }),
      'POST /providers/primary/payments/pay_1/refund': () => ({
        status: 200,
        body: record({ status: 'refunded', captured: 3998, refunded: 3998 }),
      }),
    });
    const outcome = await env.run(createPaymentActivities(http, providers).settlePayment, {
      provider: 'primary',
      orderId: 'A-1',
      paymentId: 'pay_1',
    });
    expect(outcome).toEqual({ outcome: 'refunded', paymentId: 'pay_1', amount: 3998 });
    expect(sent[1]).toMatchObject({ body: { amount: 3998 }, idempotencyKey: 'refund-pay_1-0' });
  });

  test('settlePayment voids a pending payment it finds by order id, and does nothing twice', async () => {
    const voided = fakeHttp({
      'GET /providers/primary/payments': () => ({ status: 200, body: { payments: [record({})] } }),
      'POST /providers/primary/payments/pay_1/void': () => ({ status: 200, body: record({ status: 'voided' }) }),
    });
    await expect(
      env.run(createPaymentActivities(voided.http, providers).settlePayment, { provider: 'primary', orderId: 'A-1' }),
    ).resolves.toEqual({ outcome: 'voided', paymentId: 'pay_1' });
    const settled = fakeHttp({
      'GET /providers/primary/payments': () => ({
        status: 200,
        body: { payments: [record({ status: 'refunded', captured: 5, refunded: 5 })] },
      }),
    });
    await expect(
      env.run(createPaymentActivities(settled.http, providers).settlePayment, { provider: 'primary', orderId: 'A-1' }),
    ).resolves.toEqual({ outcome: 'nothing-to-settle', paymentId: 'pay_1' });
    expect(settled.sent).toHaveLength(1);
  });

  test('settlePayment retries when a void races a success', async () => {
    const { http } = fakeHttp({
      'GET /providers/primary/payments/pay_1': () => ({ status: 200, body: record({}) }),
      'POST /providers/primary/payments/pay_1/void': () => ({ status: 409, body: { code: 'PAYMENT_NOT_PENDING' } }),
    });
    const failure = await failureOf(
      env.run(createPaymentActivities(http, providers).settlePayment, {
        provider: 'primary',
        orderId: 'A-1',
        paymentId: 'pay_1',
      }),
    );
    expect(failure).toMatchObject({ type: 'PAYMENT_STATE_CHANGED', nonRetryable: false });
  });
});

describe('order webhook activity', () => {
  const secret = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
  // A URL with the checkout's token in it: it must never reach an error, and so history or a log.
  const endpoint = { id: 'wh_0123456789abcdef', url: `${base}/hooks?token=checkout-private-token`, secret };
  const view = {
    orderId: 'A-1',
    status: 'PAID' as const,
    customerId: 'c-1',
    currency: 'EUR',
    items,
    total: 3998,
    payment: null,
    reason: null,
    needsAttention: false,
    createdAt: '2026-11-30T10:00:00.000Z',
    updatedAt: '2026-11-30T10:00:01.000Z',
  };
  const event = statusEvent(5, '2026-11-30T10:00:01.000Z', 'order.paid', view);
  const signedAt = new Date('2026-11-30T10:05:00.000Z');

  test('sends the event signed the Standard Webhooks way: a receiver with the secret verifies it', async () => {
    const { http, sent } = fakeHttp({ 'POST /hooks': () => ({ status: 204, body: null }) });
    const acts = createStatusWebhookActivities(http, [endpoint], () => signedAt);
    await env.run(acts.deliverStatusEvent, { endpoint: endpoint.id, event });
    const [request] = sent;
    expect(request!.headers).toMatchObject({ 'webhook-id': 'evt_A-1_5', 'webhook-timestamp': '1796033100' });
    // Verified at the moment it was signed (a receiver refuses timestamps far from its clock).
    jest.useFakeTimers({ now: signedAt, doNotFake: ['nextTick', 'setImmediate', 'setTimeout'] });
    try {
      expect(new Webhook(secret).verify(request!.serializedBody!, request!.headers!)).toEqual(event);
      expect(() =>
        new Webhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`).verify(
          request!.serializedBody!,
          request!.headers!,
        ),
      ).toThrow();
    } finally {
      jest.useRealTimers();
    }
  });

  test('any answer but a 2xx, and no answer at all, fail retryably, naming the endpoint by its id only', async () => {
    for (const fails of [
      () => ({ status: 410, body: null }),
      () => {
        throw ApplicationFailure.retryable(`POST ${endpoint.url} failed: connect ECONNREFUSED`, 'UPSTREAM_UNAVAILABLE');
      },
    ]) {
      const { http } = fakeHttp({ 'POST /hooks': fails });
      const failure = await failureOf(
        env.run(createStatusWebhookActivities(http, [endpoint]).deliverStatusEvent, { endpoint: endpoint.id, event }),
      );
      expect(failure).toMatchObject({ nonRetryable: false });
      expect(failure.message).toContain(endpoint.id);
      expect(failure.message).not.toContain('checkout-private-token');
    }
  });

  test('an endpoint this worker does not know is retried (a worker of another configuration during a rollout)', async () => {
    const { http, sent } = fakeHttp({});
    const failure = await failureOf(
      env.run(createStatusWebhookActivities(http, []).deliverStatusEvent, { endpoint: endpoint.id, event }),
    );
    expect(failure).toMatchObject({ nonRetryable: false });
    expect(failure.message).toContain('not registered on this worker');
    expect(sent).toEqual([]);
  });
});
