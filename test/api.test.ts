import pino from 'pino';
import request from 'supertest';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { LATE_REFUND_WORKFLOW_TYPE, latePaymentRefundWorkflowId } from '../domain/contract';
import { signWebhook } from '../payment-provider/signature';
import { createApp } from '../api/server';
import type { ListOrdersQuery, OrderRequest, OrdersClient, PaymentWebhookEvent } from '../client';
import { DEV_PROVIDER_SECRETS } from '../config';
import {
  auth,
  CONFIRMED_ORDER_EVENTS,
  eventually,
  LOST_PAYMENT,
  makeOrder,
  startStack,
  TEST_API_KEYS,
  type TestStack,
} from './helpers/stack';
import { expectProblem } from './helpers/problems';

// Every call the contract allows goes through the typed client generated from the OpenAPI document, so a
// route that drifts from its document fails here; what the contract forbids (broken JSON, unknown fields,
// bad queries, forged signatures) is sent raw, as no generated client could send it.
let stack: TestStack;
let checkout: OrdersClient;
let support: OrdersClient;
beforeAll(async () => {
  stack = await startStack();
  checkout = stack.api('dev-checkout');
  support = stack.api('dev-support');
});
afterAll(async () => {
  await stack?.stop();
});

const raw = () => request(stack.app);
const post = (body: OrderRequest, client = checkout) => client.POST('/orders', { body });
const view = (orderId: string, client = checkout) => client.GET('/orders/{orderId}', { params: { path: { orderId } } });
const eventsOf = (orderId: string, client = checkout) =>
  client.GET('/orders/{orderId}/events', { params: { path: { orderId } } });
const list = (query: ListOrdersQuery, client = checkout) => client.GET('/orders', { params: { query } });
const cancel = (orderId: string, body: { reason?: string } = {}, client = checkout) =>
  client.POST('/orders/{orderId}/cancel', { params: { path: { orderId } }, body });
/** The provider's side: the body signed as it is sent. */
const signed = (provider: 'primary' | 'backup', event: PaymentWebhookEvent, at = Math.floor(Date.now() / 1000)) =>
  stack.api().POST('/webhooks/payments/{provider}', {
    params: {
      path: { provider },
      header: { 'Payment-Signature': signWebhook(DEV_PROVIDER_SECRETS[provider], JSON.stringify(event), at) },
    },
    body: event,
  });
const webhookEvent = (orderId: string, over: Partial<PaymentWebhookEvent> = {}): PaymentWebhookEvent => ({
  id: `evt_${Math.random().toString(36).slice(2)}`,
  type: 'payment.failed',
  created: Math.floor(Date.now() / 1000),
  data: { paymentId: 'pay_unknown', orderId, amount: 100, currency: 'EUR', failureReason: 'card_declined' },
  ...over,
});

/** Two orders of a new customer, and the token of the page after the first (one order a page). */
async function firstPageOfTwoOrders(tag: string): Promise<{ customerId: string; nextPageToken: string }> {
  const customer = { id: `c-${tag}-${Date.now()}`, email: 'ada@example.com' };
  for (let i = 0; i < 2; i++) {
    expect((await post(makeOrder({ customer, payment: LOST_PAYMENT }))).response.status).toBe(201);
  }
  const page = await eventually(
    () => list({ customerId: customer.id, limit: 1 }),
    (r) => typeof r.data?.nextPageToken === 'string',
  );
  return { customerId: customer.id, nextPageToken: page.data!.nextPageToken! };
}

/** The API in front of a Temporal that never answers (nothing listens at its address). */
function appWithoutTemporal() {
  const connection = Connection.lazy({ address: '127.0.0.1:1' });
  const app = createApp({
    client: new Client({ connection }),
    store: stack.store,
    config: { ...stack.settingsForApp(), apiKeys: TEST_API_KEYS },
    codec: stack.codec,
  });
  return { app, connection };
}

describe('POST /orders', () => {
  test('201 at AWAITING_PAYMENT with the checkout link and the server-side total', async () => {
    const order = makeOrder({ payment: LOST_PAYMENT });
    const { data, response } = await post(order);
    expect(response.status).toBe(201);
    expect(data).toMatchObject({
      orderId: order.orderId,
      status: 'AWAITING_PAYMENT',
      customerId: 'c-42',
      currency: 'EUR',
      items: order.items,
      total: 3998,
      payment: {
        provider: 'primary',
        paymentId: expect.stringMatching(/^pay_/),
        status: 'pending',
        checkoutUrl: expect.stringContaining('/checkout/'),
      },
      reason: null,
      needsAttention: false,
    });
    expect(JSON.stringify(data)).not.toContain('ada@example.com');
    expect(JSON.stringify(data)).not.toContain('Main St');
  });

  test('200 for the same body again (in any key order): the existing order, nothing new started', async () => {
    const order = makeOrder({ payment: LOST_PAYMENT });
    const first = await post(order);
    const { payment, shippingAddress, items, customer, currency, orderId } = order;
    const again = await post({ payment, shippingAddress, items, customer, currency, orderId });
    expect(again.response.status).toBe(200);
    expect(again.data!.payment!.paymentId).toBe(first.data!.payment!.paymentId);
    expect(stack.ledger.snapshot().payments.filter((p) => p.orderId === order.orderId)).toHaveLength(1);
  });

  test('409 for the same orderId with another body', async () => {
    const order = makeOrder({ payment: LOST_PAYMENT });
    expect((await post(order)).response.status).toBe(201);
    expectProblem(await post({ ...order, items: [{ sku: 'SKU-MUG', quantity: 1, unitPrice: 1250 }] }), 409);
  });

  test('422 with the view when the order is REJECTED', async () => {
    const { error, response } = await post(makeOrder({ items: [{ sku: 'SKU-NOPE', quantity: 1, unitPrice: 1 }] }));
    expect(response.status).toBe(422);
    expect(error).toMatchObject({ status: 'REJECTED', reason: { code: 'UNKNOWN_SKU' }, payment: null });
  });

  test('400 with the offending field paths, unknown fields included', async () => {
    const res = await raw()
      .post('/orders')
      .set(auth('dev-checkout'))
      .send({ ...makeOrder({ items: [{ sku: 'SKU-TEE', quantity: 0, unitPrice: 1999 }] }), coupon: 'FREE' });
    expectProblem(res, 400);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(
      expect.arrayContaining(['items.0.quantity', 'coupon']),
    );
  });

  test('400 for malformed JSON, a wrong content type or no body', async () => {
    const checkoutAuth = auth('dev-checkout');
    expectProblem(
      await raw().post('/orders').set(checkoutAuth).set('content-type', 'application/json').send('{"orderId":'),
      400,
    );
    expectProblem(await raw().post('/orders').set(checkoutAuth).set('content-type', 'text/plain').send('hello'), 400);
    expectProblem(await raw().post('/orders').set(checkoutAuth), 400);
  });

  test('413 for a body over 100 kB', async () => {
    expectProblem(
      await raw()
        .post('/orders')
        .set(auth('dev-checkout'))
        .send({ ...makeOrder(), padding: 'x'.repeat(101 * 1024) }),
      413,
    );
  });

  test('401 without a token or with an unknown one; 403 without orders:write', async () => {
    expectProblem(await post(makeOrder(), stack.api()), 401);
    expectProblem(await post(makeOrder(), stack.api('nope' as never)), 401);
    expectProblem(await post(makeOrder(), support), 403);
  });
});

describe('reading orders', () => {
  test('GET /orders/{id}: 200 with the view; 404 for an unknown or impossible id', async () => {
    const order = makeOrder({ payment: LOST_PAYMENT });
    expect((await post(order)).response.status).toBe(201);
    const { data, response } = await view(order.orderId);
    expect(response.status).toBe(200);
    expect(data).toMatchObject({ orderId: order.orderId, status: 'AWAITING_PAYMENT' });
    expectProblem(await view('NOPE-never-placed'), 404);
    expectProblem(await view('bad id'), 404);
    expectProblem(await view(order.orderId, stack.api()), 401);
  });

  test('GET /orders/{id}/events: oldest first, seq from 1 without gaps; 404 when unknown', async () => {
    const order = makeOrder();
    expect((await post(order)).response.status).toBe(201);
    await eventually(
      () => view(order.orderId),
      (res) => res.data?.status === 'CONFIRMED',
    );
    const { data, response } = await eventsOf(order.orderId);
    expect(response.status).toBe(200);
    expect(data!.orderId).toBe(order.orderId);
    const { events } = data!;
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.map((e) => e.type)).toEqual(CONFIRMED_ORDER_EVENTS);
    expect(events[0]).toMatchObject({ at: expect.any(String), data: { orderId: order.orderId } });
    expectProblem(await eventsOf('NOPE-x'), 404);
  });

  test('GET /orders filters by customer, status and needsAttention', async () => {
    const customer = { id: `c-${Date.now()}`, email: 'ada@example.com' };
    const waiting = makeOrder({ customer, payment: LOST_PAYMENT });
    const paid = makeOrder({ customer });
    expect((await post(waiting)).response.status).toBe(201);
    expect((await post(paid)).response.status).toBe(201);
    const all = await eventually(
      () => list({ customerId: customer.id }),
      (res) => res.data?.orders.length === 2,
    );
    expect(all.data!.orders).toContainEqual({
      orderId: waiting.orderId,
      status: 'AWAITING_PAYMENT',
      customerId: customer.id,
      total: 3998,
      currency: 'EUR',
      needsAttention: false,
      createdAt: expect.any(String),
    });
    const confirmed = await eventually(
      () => list({ customerId: customer.id, status: 'CONFIRMED' }),
      (res) => res.data?.orders.length === 1,
    );
    expect(confirmed.data!.orders[0]!.orderId).toBe(paid.orderId);
    expect((await list({ customerId: customer.id, needsAttention: 'true' })).data!.orders).toEqual([]);
    expect((await list({ customerId: 'nobody-has-this-id' })).data).toEqual({ orders: [], nextPageToken: null });
  });

  test('GET /orders pages with nextPageToken through every order once', async () => {
    // Orders that do not change while paging: visibility orders closed runs apart from running ones.
    const customer = { id: `c-page-${Date.now()}`, email: 'ada@example.com' };
    const placed = [
      makeOrder({ customer, payment: LOST_PAYMENT }),
      makeOrder({ customer, payment: LOST_PAYMENT }),
      makeOrder({ customer, payment: LOST_PAYMENT }),
    ];
    for (const order of placed) expect((await post(order)).response.status).toBe(201);
    await eventually(
      () => list({ customerId: customer.id, status: 'AWAITING_PAYMENT' }),
      (res) => res.data?.orders.length === 3,
    );
    const first = (await list({ customerId: customer.id, limit: 2 })).data!;
    expect(first.orders).toHaveLength(2);
    expect(first.nextPageToken).toEqual(expect.any(String));
    const second = (await list({ customerId: customer.id, limit: 2, pageToken: first.nextPageToken! })).data!;
    expect(second.orders).toHaveLength(1);
    expect(second.nextPageToken).toBeNull();
    const seen = [...first.orders, ...second.orders].map((o) => o.orderId).sort();
    expect(seen).toEqual(placed.map((o) => o.orderId).sort());
  });

  test('GET /orders refuses a bad query with the offending field', async () => {
    for (const [query, path] of [
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['status=LOST', 'status'],
      ['needsAttention=yes', 'needsAttention'],
      ['pageToken=bm9wZQ', 'pageToken'],
    ]) {
      const res = await raw().get(`/orders?${query}`).set(auth('dev-checkout'));
      expectProblem(res, 400);
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    }
  });

  test('customer ids are identifiers: one Temporal visibility can match exactly, or a 400 naming the field', async () => {
    const customer = { id: `ops:eu/ada+${Date.now()}@shop`, email: 'ada@example.com' };
    expect((await post(makeOrder({ customer, payment: LOST_PAYMENT }))).response.status).toBe(201);
    const found = await eventually(
      () => list({ customerId: customer.id }),
      (r) => r.data?.orders.length === 1,
    );
    expect(found.data!.orders[0]!.customerId).toBe(customer.id);
    const quoted = await post(makeOrder({ customer: { id: "o'brien", email: 'ada@example.com' } }));
    expectProblem(quoted, 400);
    expect(quoted.error).toMatchObject({ errors: [{ path: 'customer.id' }] });
    const injected = await list({ customerId: "x' OR WorkflowType != '" });
    expectProblem(injected, 400);
    expect(injected.error).toMatchObject({ errors: [{ path: 'customerId', message: expect.any(String) }] });
  });

  test('a page token from another query is refused', async () => {
    const { nextPageToken } = await firstPageOfTwoOrders('tok');
    const refused = await list({ status: 'CONFIRMED', limit: 1, pageToken: nextPageToken });
    expectProblem(refused, 400);
    expect(refused.error).toEqual(
      expect.objectContaining({ errors: [{ path: 'pageToken', message: expect.any(String) }] }),
    );
  });
});

describe('POST /orders/{id}/cancel', () => {
  test('200 once compensation has run, CANCELLED_BY_CUSTOMER; 200 again when already cancelled', async () => {
    const order = makeOrder({ payment: LOST_PAYMENT });
    expect((await post(order)).response.status).toBe(201);
    const res = await cancel(order.orderId, { reason: 'changed my mind' });
    expect(res.response.status).toBe(200);
    expect(res.data).toMatchObject({
      status: 'CANCELLED',
      reason: { code: 'CANCELLED_BY_CUSTOMER', message: 'changed my mind' },
      payment: { status: 'voided' },
    });
    expect(stack.ledger.snapshot().payments.filter((p) => p.orderId === order.orderId)).toEqual([
      expect.objectContaining({ status: 'voided', captured: 0, refunded: 0 }),
    ]);
    const again = await cancel(order.orderId);
    expect(again.response.status).toBe(200);
    expect(again.data).toEqual(res.data);
  });

  test('support cancels with its own token (orders:operate): CANCELLED_BY_SUPPORT', async () => {
    const order = makeOrder({ payment: LOST_PAYMENT });
    expect((await post(order)).response.status).toBe(201);
    const res = await cancel(order.orderId, {}, stack.api('dev-support'));
    expect(res.response.status).toBe(200);
    expect(res.data!.reason!.code).toBe('CANCELLED_BY_SUPPORT');
  });

  test('409 for CONFIRMED and REJECTED orders; 404 when unknown; 403 without orders:write or orders:operate', async () => {
    const confirmed = makeOrder();
    expect((await post(confirmed)).response.status).toBe(201);
    await eventually(
      () => view(confirmed.orderId),
      (res) => res.data?.status === 'CONFIRMED',
    );
    expectProblem(await cancel(confirmed.orderId), 409);
    const rejected = makeOrder({ items: [{ sku: 'SKU-NOPE', quantity: 1, unitPrice: 1 }] });
    expect((await post(rejected)).response.status).toBe(422);
    expectProblem(await cancel(rejected.orderId), 409);
    expectProblem(await cancel('NOPE-unknown'), 404);
    expectProblem(await cancel(confirmed.orderId, {}, support), 409);
    expectProblem(await cancel(confirmed.orderId, {}, stack.api('test-reader')), 403);
    const badReason = await raw()
      .post(`/orders/${confirmed.orderId}/cancel`)
      .set(auth('dev-checkout'))
      .send({ reason: 42 });
    expectProblem(badReason, 400);
    expect(badReason.body.errors).toEqual([{ path: 'reason', message: expect.any(String) }]);
  });
});

describe('POST /orders/{id}/actions/retry-compensation', () => {
  afterEach(async () => {
    await stack.outage('refunds', false);
  });

  test('409 "not awaiting an operator" for an order whose workflow ended on its own, not "workflow closed"', async () => {
    const order = makeOrder();
    expect((await post(order)).response.status).toBe(201);
    await stack.result(stack.client.workflow.getHandle(`order-${order.orderId}`));
    const retry = await support.POST('/orders/{orderId}/actions/retry-compensation', {
      params: { path: { orderId: order.orderId } },
      body: { note: 'nothing to retry' },
    });
    expectProblem(retry, 409, 'Order not awaiting an operator');
  });

  test('409 unless REQUIRES_ATTENTION; then 202, recorded as OperatorAction with the token’s name and note', async () => {
    const order = makeOrder({ payment: LOST_PAYMENT });
    expect((await post(order)).response.status).toBe(201);
    const retry = (client = support) =>
      client.POST('/orders/{orderId}/actions/retry-compensation', {
        params: { path: { orderId: order.orderId } },
        body: { note: 'refunds are back' },
      });
    expectProblem(await retry(), 409);
    expectProblem(await retry(checkout), 403);

    await stack.outage('refunds', true);
    await cancel(order.orderId);
    await eventually(
      () => view(order.orderId),
      (res) => res.data?.status === 'REQUIRES_ATTENTION',
      30_000,
    );
    const flagged = await eventually(
      () => list({ needsAttention: 'true', limit: 100 }, support),
      (res) => res.data?.orders.some((o) => o.orderId === order.orderId) ?? false,
    );
    expect(flagged.response.status).toBe(200);

    await stack.outage('refunds', false);
    const res = await retry();
    expect(res.response.status).toBe(202);
    expect(res.data!.status).toBe('REQUIRES_ATTENTION');
    await eventually(
      () => view(order.orderId),
      (r) => r.data?.status === 'CANCELLED',
    );
    const { events } = (await eventsOf(order.orderId, support)).data!;
    expect(events.find((e) => e.type === 'OperatorAction')!.data).toEqual({
      action: 'retry-compensation',
      operator: 'support',
      note: 'refunds are back',
    });
  });
});

describe('POST /webhooks/payments/{provider}', () => {
  test('404 for an unknown provider; 401 for a missing, wrong or stale signature; 400 when malformed', async () => {
    const event = webhookEvent('A-1');
    expectProblem(await raw().post('/webhooks/payments/nobody').send(event), 404);
    expectProblem(await raw().post('/webhooks/payments/primary').send(event), 401);
    const body = JSON.stringify(event);
    const forged = await raw()
      .post('/webhooks/payments/primary')
      .set('content-type', 'application/json')
      .set('payment-signature', signWebhook('whsec_forged_secret', body, Math.floor(Date.now() / 1000)))
      .send(body);
    expectProblem(forged, 401);
    expectProblem(await signed('primary', event, Math.floor(Date.now() / 1000) - 301), 401);
    expectProblem(await signed('primary', { ...event, type: 'payment.refunded' as never }), 400);
  });

  test('accepted with 200, duplicates too, which change nothing', async () => {
    const order = makeOrder({ payment: LOST_PAYMENT });
    const placed = await post(order);
    expect(placed.response.status).toBe(201);
    const event = webhookEvent(order.orderId, {
      type: 'payment.failed',
      data: {
        paymentId: placed.data!.payment!.paymentId,
        orderId: order.orderId,
        amount: 3998,
        currency: 'EUR',
        failureReason: 'card_declined',
      },
    });
    expect((await signed('primary', event)).data).toEqual({ received: true });
    expect((await signed('primary', event)).response.status).toBe(200);
    await eventually(
      () => view(order.orderId),
      (res) => res.data?.status === 'CANCELLED',
    );
    const { events } = (await eventsOf(order.orderId)).data!;
    expect(events.filter((e) => e.type === 'PaymentFailed')).toHaveLength(1);
  });

  /** A confirmed, closed order, and a second success callback for its payment (its id, at its total). */
  async function confirmedWithRepeatedSuccess() {
    const order = makeOrder();
    const placed = await post(order);
    expect(placed.response.status).toBe(201);
    await stack.result(stack.client.workflow.getHandle(`order-${order.orderId}`));
    const { paymentId } = placed.data!.payment!;
    const event = webhookEvent(order.orderId, {
      type: 'payment.succeeded',
      data: { paymentId, orderId: order.orderId, amount: 3998, currency: 'EUR', failureReason: null },
    });
    return { order, paymentId, event };
  }

  test('a repeated success for a confirmed, closed order changes nothing: no refund', async () => {
    const { order, paymentId, event } = await confirmedWithRepeatedSuccess();
    expect((await signed('primary', event)).response.status).toBe(200);
    // Describe is strongly consistent (a visibility count could lag and pass for the wrong reason).
    const refundRun = stack.client.workflow.getHandle(latePaymentRefundWorkflowId({ provider: 'primary', paymentId }));
    await expect(refundRun.describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    expect(stack.ledger.snapshot().payments.find((p) => p.paymentId === paymentId)).toMatchObject({
      captured: 3998,
      refunded: 0,
    });
    expect((await view(order.orderId)).data!.status).toBe('CONFIRMED');
  });

  test('a success from another provider for a confirmed order is late money, even under the same payment id', async () => {
    // Payment ids are the provider's own: the backup may well use one the primary has used.
    const { paymentId, event } = await confirmedWithRepeatedSuccess();
    expect((await signed('backup', event)).response.status).toBe(200);
    const refundRun = stack.client.workflow.getHandle(latePaymentRefundWorkflowId({ provider: 'backup', paymentId }));
    try {
      expect((await refundRun.describe()).type).toBe(LATE_REFUND_WORKFLOW_TYPE);
    } finally {
      // The sandbox's backup never took this payment, so the refund cannot complete here.
      await refundRun.terminate('test over').catch(() => undefined);
    }
  });

  test('a success for an unknown order is answered 200 and refunded', async () => {
    const payment = stack.ledger.createPayment('primary', {
      orderId: `GHOST-${Date.now()}`,
      amount: 500,
      currency: 'EUR',
      token: 'tok_lost',
    }).payment;
    stack.ledger.succeed(payment);
    const event = webhookEvent(payment.orderId, {
      type: 'payment.succeeded',
      data: {
        paymentId: payment.paymentId,
        orderId: payment.orderId,
        amount: 500,
        currency: 'EUR',
        failureReason: null,
      },
    });
    expect((await signed('primary', event)).response.status).toBe(200);
    await eventually(
      () => payment.refunded,
      (refunded) => refunded === 500,
    );
  });
});

describe('service routes', () => {
  test('/healthz, /readyz, /openapi.json and /metrics answer without a token', async () => {
    const open = stack.api();
    expect((await open.GET('/healthz')).data).toEqual({ status: 'ok' });
    expect((await open.GET('/readyz')).response.status).toBe(200);
    const doc = (await open.GET('/openapi.json')).data!;
    const paths = doc.paths as Record<string, { post: { responses: object } }>;
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(paths)).toEqual(
      expect.arrayContaining([
        '/orders',
        '/orders/{orderId}',
        '/orders/{orderId}/events',
        '/orders/{orderId}/cancel',
        '/orders/{orderId}/actions/retry-compensation',
        '/webhooks/payments/{provider}',
        '/healthz',
        '/readyz',
        '/openapi.json',
        '/metrics',
      ]),
    );
    expect(Object.keys(paths['/orders']!.post.responses).sort()).toEqual([
      '200',
      '201',
      '202',
      '400',
      '401',
      '403',
      '409',
      '413',
      '422',
      '503',
    ]);
    await view('NOPE-metrics');
    const metrics = (await open.GET('/metrics', { parseAs: 'text' })).data!;
    expect(metrics).toMatch(/orders_api_http_requests_total\{method="GET",route="\/orders\/:orderId",code="404"\} \d+/);
  });

  test('an error the API has no answer for is a 500 problem, logged with its own message and class, none of its causes', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    // A cause may quote what the request sent: it must stay out of the log.
    const failure = new Error('describe failed', { cause: new Error('upstream echoed tok_private_4242') });
    const client = {
      withDeadline: <T>(_deadline: number, call: () => Promise<T>) => call(),
      workflow: { getHandle: () => ({ describe: () => Promise.reject(failure) }) },
    } as unknown as Client;
    const app = createApp({
      client,
      store: stack.store,
      config: { ...stack.settingsForApp(), apiKeys: TEST_API_KEYS },
      codec: stack.codec,
      logger,
    });
    expectProblem(await request(app).get('/orders/A-1').set(auth('dev-support')), 500, 'Internal error');
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logged.find((line) => line.msg === 'unhandled error')).toMatchObject({
      error: 'describe failed',
      errorType: 'Error',
    });
    expect(lines.join('')).not.toContain('tok_private_4242');
  });

  test('a page of orders asked while Temporal does not answer comes from the store of record', async () => {
    const { customerId, nextPageToken } = await firstPageOfTwoOrders('dead');
    const { app, connection } = appWithoutTemporal();
    const query = { customerId, limit: '1', pageToken: nextPageToken };
    const res = await request(app).get('/orders').query(query).set(auth('dev-checkout'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ orders: [expect.objectContaining({ customerId })], nextPageToken: null });
    await connection.close();
  });

  test('/readyz answers 503 when Temporal does not', async () => {
    const { app, connection } = appWithoutTemporal();
    const res = await request(app).get('/readyz');
    expect(res.status).toBe(503);
    await connection.close();
  });
});
