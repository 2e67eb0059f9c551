import request from 'supertest';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { LATE_REFUND_WORKFLOW_TYPE, latePaymentRefundWorkflowId } from '../domain/contract';
import { signWebhook } from '../api/webhook-signature';
import { createApp } from '../api/server';
import { DEV_PROVIDER_SECRETS } from '../config';
import { auth, eventually, makeOrder, startStack, TEST_API_KEYS, type TestStack } from './helpers/stack';
import { expectProblem } from './helpers/problems';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const checkout = auth('dev-checkout');
const support = auth('dev-support');
const post = (body: unknown) => request(stack.app).post('/orders').set(checkout).send(body as object);
const lost = { method: 'card', token: 'tok_lost' };
const view = (orderId: string) => request(stack.app).get(`/orders/${orderId}`).set(checkout);
function signed(provider: 'primary' | 'backup', event: object, at = Math.floor(Date.now() / 1000)) {
  const body = JSON.stringify(event);
  return request(stack.app)
    .post(`/webhooks/payments/${provider}`)
    .set('content-type', 'application/json')
    .set('payment-signature', signWebhook(DEV_PROVIDER_SECRETS[provider], body, at))
    .send(body);
}
const webhookEvent = (orderId: string, over: object = {}) => ({
  id: `evt_${Math.random().toString(36).slice(2)}`,
  type: 'payment.failed',
  created: Math.floor(Date.now() / 1000),
  data: { paymentId: 'pay_unknown', orderId, amount: 100, currency: 'EUR', failureReason: 'card_declined' },
  ...over,
});

describe('POST /orders', () => {
  test('201 at AWAITING_PAYMENT with the checkout link and the server-side total', async () => {
    const order = makeOrder({ payment: lost });
    const res = await post(order);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      orderId: order.orderId,
      status: 'AWAITING_PAYMENT',
      customerId: 'c-42',
      currency: 'EUR',
      items: order.items,
      total: 3998,
      payment: { provider: 'primary', paymentId: expect.stringMatching(/^pay_/), status: 'pending', checkoutUrl: expect.stringContaining('/checkout/') },
      reason: null,
      needsAttention: false,
    });
    expect(JSON.stringify(res.body)).not.toContain('ada@example.com');
    expect(JSON.stringify(res.body)).not.toContain('Main St');
  });

  test('200 for the same body again (in any key order): the existing order, nothing new started', async () => {
    const order = makeOrder({ payment: lost });
    const first = await post(order);
    const { payment, shippingAddress, items, customer, currency, orderId } = order;
    const again = await post({ payment, shippingAddress, items, customer, currency, orderId });
    expect(again.status).toBe(200);
    expect(again.body.payment.paymentId).toBe(first.body.payment.paymentId);
    expect(stack.ledger.snapshot().payments.filter((p) => p.orderId === order.orderId)).toHaveLength(1);
  });

  test('409 for the same orderId with another body', async () => {
    const order = makeOrder({ payment: lost });
    await post(order).expect(201);
    expectProblem(await post({ ...order, items: [{ sku: 'SKU-MUG', quantity: 1, unitPrice: 1250 }] }), 409);
  });

  test('422 with the view when the order is REJECTED', async () => {
    const res = await post(makeOrder({ items: [{ sku: 'SKU-NOPE', quantity: 1, unitPrice: 1 }] }));
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ status: 'REJECTED', reason: { code: 'UNKNOWN_SKU' }, payment: null });
  });

  test('400 with the offending field paths, unknown fields included', async () => {
    const res = await post({ ...makeOrder({ items: [{ sku: 'SKU-TEE', quantity: 0, unitPrice: 1999 }] }), coupon: 'FREE' });
    expectProblem(res, 400);
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(['items.0.quantity', 'coupon']));
  });

  test('400 for malformed JSON, a wrong content type or no body', async () => {
    expectProblem(await request(stack.app).post('/orders').set(checkout).set('content-type', 'application/json').send('{"orderId":'), 400);
    expectProblem(await request(stack.app).post('/orders').set(checkout).set('content-type', 'text/plain').send('hello'), 400);
    expectProblem(await request(stack.app).post('/orders').set(checkout), 400);
  });

  test('413 for a body over 100 kB', async () => {
    expectProblem(await post({ ...makeOrder(), padding: 'x'.repeat(101 * 1024) }), 413);
  });

  test('401 without a token or with an unknown one; 403 without orders:write', async () => {
    expectProblem(await request(stack.app).post('/orders').send(makeOrder()), 401);
    expectProblem(await request(stack.app).post('/orders').set({ authorization: 'Bearer nope' }).send(makeOrder()), 401);
    expectProblem(await request(stack.app).post('/orders').set(support).send(makeOrder()), 403);
  });
});

describe('reading orders', () => {
  test('GET /orders/{id}: 200 with the view; 404 for an unknown or impossible id', async () => {
    const order = makeOrder({ payment: lost });
    await post(order).expect(201);
    const res = await view(order.orderId);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ orderId: order.orderId, status: 'AWAITING_PAYMENT' });
    expectProblem(await view('NOPE-never-placed'), 404);
    expectProblem(await request(stack.app).get('/orders/bad%20id').set(checkout), 404);
    expectProblem(await request(stack.app).get(`/orders/${order.orderId}`), 401);
  });

  test('GET /orders/{id}/events: oldest first, seq from 1 without gaps; 404 when unknown', async () => {
    const order = makeOrder();
    await post(order).expect(201);
    await eventually(() => view(order.orderId), (res) => res.body.status === 'CONFIRMED');
    const res = await request(stack.app).get(`/orders/${order.orderId}/events`).set(checkout);
    expect(res.status).toBe(200);
    expect(res.body.orderId).toBe(order.orderId);
    const events = res.body.events as { seq: number; type: string; at: string; data: object }[];
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.map((e) => e.type)).toEqual(['OrderReceived', 'OrderValidated', 'StockReserved', 'PaymentRequested', 'PaymentSucceeded', 'OrderConfirmed']);
    expect(events[0]).toMatchObject({ at: expect.any(String), data: { orderId: order.orderId } });
    expectProblem(await request(stack.app).get('/orders/NOPE-x/events').set(checkout), 404);
  });

  test('GET /orders filters by customer, status and needsAttention', async () => {
    const customer = { id: `c-${Date.now()}`, email: 'ada@example.com' };
    const waiting = makeOrder({ customer, payment: lost });
    const paid = makeOrder({ customer });
    await post(waiting).expect(201);
    await post(paid).expect(201);
    const list = (query: string) => request(stack.app).get(`/orders?customerId=${customer.id}${query}`).set(checkout);
    const all = await eventually(() => list(''), (res) => res.body.orders?.length === 2);
    expect(all.body.orders).toContainEqual({
      orderId: waiting.orderId, status: 'AWAITING_PAYMENT', customerId: customer.id, total: 3998, currency: 'EUR',
      needsAttention: false, createdAt: expect.any(String),
    });
    const confirmed = await eventually(() => list('&status=CONFIRMED'), (res) => res.body.orders?.length === 1);
    expect(confirmed.body.orders[0].orderId).toBe(paid.orderId);
    expect((await list('&needsAttention=true')).body.orders).toEqual([]);
    expect((await request(stack.app).get('/orders?customerId=nobody-has-this-id').set(checkout)).body).toEqual({ orders: [], nextPageToken: null });
  });

  test('GET /orders pages with nextPageToken through every order once', async () => {
    // Orders that do not change while paging: visibility orders closed runs apart from running ones.
    const customer = { id: `c-page-${Date.now()}`, email: 'ada@example.com' };
    const placed = [makeOrder({ customer, payment: lost }), makeOrder({ customer, payment: lost }), makeOrder({ customer, payment: lost })];
    for (const order of placed) await post(order).expect(201);
    const list = (query: string) => request(stack.app).get(`/orders?customerId=${customer.id}${query}`).set(checkout);
    await eventually(() => list('&status=AWAITING_PAYMENT'), (res) => res.body.orders?.length === 3);
    const first = await list('&limit=2');
    expect(first.body.orders).toHaveLength(2);
    expect(first.body.nextPageToken).toEqual(expect.any(String));
    const second = await list(`&limit=2&pageToken=${first.body.nextPageToken}`);
    expect(second.body.orders).toHaveLength(1);
    expect(second.body.nextPageToken).toBeNull();
    const seen = [...first.body.orders, ...second.body.orders].map((o: { orderId: string }) => o.orderId).sort();
    expect(seen).toEqual(placed.map((o) => o.orderId).sort());
  });

  test('GET /orders refuses a bad query with the offending field', async () => {
    for (const [query, path] of [['limit=0', 'limit'], ['limit=101', 'limit'], ['status=LOST', 'status'], ['needsAttention=yes', 'needsAttention'], ['pageToken=bm9wZQ', 'pageToken']]) {
      const res = await request(stack.app).get(`/orders?${query}`).set(checkout);
      expectProblem(res, 400);
      expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(path);
    }
  });

  test('customer ids are identifiers: one Temporal visibility can match exactly, or a 400 naming the field', async () => {
    const customer = { id: `ops:eu/ada+${Date.now()}@shop`, email: 'ada@example.com' };
    await post(makeOrder({ customer, payment: lost })).expect(201);
    const res = await eventually(
      () => request(stack.app).get(`/orders?customerId=${encodeURIComponent(customer.id)}`).set(checkout),
      (r) => r.body.orders?.length === 1,
    );
    expect(res.body.orders[0].customerId).toBe(customer.id);
    const quoted = await post(makeOrder({ customer: { id: "o'brien", email: 'ada@example.com' } }));
    expectProblem(quoted, 400);
    expect(quoted.body.errors[0].path).toBe('customer.id');
    const injected = await request(stack.app).get(`/orders?customerId=${encodeURIComponent("x' OR WorkflowType != '")}`).set(checkout);
    expectProblem(injected, 400);
    expect(injected.body.errors).toEqual([{ path: 'customerId', message: expect.any(String) }]);
  });

  test('a page token from another query is refused', async () => {
    const customer = { id: `c-tok-${Date.now()}`, email: 'ada@example.com' };
    await post(makeOrder({ customer, payment: lost })).expect(201);
    await post(makeOrder({ customer, payment: lost })).expect(201);
    const page = await eventually(
      () => request(stack.app).get(`/orders?customerId=${customer.id}&limit=1`).set(checkout),
      (r) => typeof r.body.nextPageToken === 'string',
    );
    const refused = await request(stack.app).get(`/orders?status=CONFIRMED&limit=1&pageToken=${page.body.nextPageToken}`).set(checkout);
    expectProblem(refused, 400);
    expect(refused.body.errors).toEqual([{ path: 'pageToken', message: expect.any(String) }]);
  });
});

describe('POST /orders/{id}/cancel', () => {
  const cancel = (orderId: string, headers = checkout, body: object = {}) => request(stack.app).post(`/orders/${orderId}/cancel`).set(headers).send(body);

  test('200 once compensation has run, CANCELLED_BY_CUSTOMER; 200 again when already cancelled', async () => {
    const order = makeOrder({ payment: lost });
    await post(order).expect(201);
    const res = await cancel(order.orderId, checkout, { reason: 'changed my mind' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'CANCELLED', reason: { code: 'CANCELLED_BY_CUSTOMER', message: 'changed my mind' }, payment: { status: 'voided' } });
    expect(stack.ledger.snapshot().payments.filter((p) => p.orderId === order.orderId)).toEqual([
      expect.objectContaining({ status: 'voided', captured: 0, refunded: 0 }),
    ]);
    const again = await cancel(order.orderId);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(res.body);
  });

  test('CANCELLED_BY_SUPPORT when the token is support’s', async () => {
    const order = makeOrder({ payment: lost });
    await post(order).expect(201);
    const res = await cancel(order.orderId, auth('test-support-writer'));
    expect(res.status).toBe(200);
    expect(res.body.reason.code).toBe('CANCELLED_BY_SUPPORT');
  });

  test('409 for CONFIRMED and REJECTED orders; 404 when unknown; 403 without orders:write', async () => {
    const confirmed = makeOrder();
    await post(confirmed).expect(201);
    await eventually(() => view(confirmed.orderId), (res) => res.body.status === 'CONFIRMED');
    expectProblem(await cancel(confirmed.orderId), 409);
    const rejected = makeOrder({ items: [{ sku: 'SKU-NOPE', quantity: 1, unitPrice: 1 }] });
    await post(rejected).expect(422);
    expectProblem(await cancel(rejected.orderId), 409);
    expectProblem(await cancel('NOPE-unknown'), 404);
    expectProblem(await cancel(confirmed.orderId, support), 403);
    const badReason = await cancel(confirmed.orderId, checkout, { reason: 42 });
    expectProblem(badReason, 400);
    expect(badReason.body.errors).toEqual([{ path: 'reason', message: expect.any(String) }]);
  });
});

describe('POST /orders/{id}/actions/retry-compensation', () => {
  afterEach(async () => {
    await stack.outage('refunds', false);
  });

  test('409 unless REQUIRES_ATTENTION; then 202, recorded as OperatorAction with the token’s name and note', async () => {
    const order = makeOrder({ payment: lost });
    await post(order).expect(201);
    const retry = (headers = support) =>
      request(stack.app).post(`/orders/${order.orderId}/actions/retry-compensation`).set(headers).send({ note: 'refunds are back' });
    expectProblem(await retry(), 409);
    expectProblem(await retry(checkout), 403);

    await stack.outage('refunds', true);
    await request(stack.app).post(`/orders/${order.orderId}/cancel`).set(checkout).send({});
    await eventually(() => view(order.orderId), (res) => res.body.status === 'REQUIRES_ATTENTION', 30_000);
    const flagged = await eventually(
      () => request(stack.app).get('/orders?needsAttention=true&limit=100').set(support),
      (res) => res.body.orders?.some((o: { orderId: string }) => o.orderId === order.orderId),
    );
    expect(flagged.status).toBe(200);

    await stack.outage('refunds', false);
    const res = await retry();
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('REQUIRES_ATTENTION');
    await eventually(() => view(order.orderId), (r) => r.body.status === 'CANCELLED');
    const events = (await request(stack.app).get(`/orders/${order.orderId}/events`).set(support)).body.events;
    expect(events.find((e: { type: string }) => e.type === 'OperatorAction').data).toEqual({ action: 'retry-compensation', operator: 'support', note: 'refunds are back' });
  });
});

describe('POST /webhooks/payments/{provider}', () => {
  test('404 for an unknown provider; 401 for a missing, wrong or stale signature; 400 when malformed', async () => {
    const event = webhookEvent('A-1');
    expectProblem(await request(stack.app).post('/webhooks/payments/nobody').send(event), 404);
    expectProblem(await request(stack.app).post('/webhooks/payments/primary').send(event), 401);
    const body = JSON.stringify(event);
    const forged = await request(stack.app).post('/webhooks/payments/primary').set('content-type', 'application/json')
      .set('payment-signature', signWebhook('whsec_forged_secret', body, Math.floor(Date.now() / 1000))).send(body);
    expectProblem(forged, 401);
    expectProblem(await signed('primary', event, Math.floor(Date.now() / 1000) - 301), 401);
    expectProblem(await signed('primary', { ...event, type: 'payment.refunded' }), 400);
  });

  test('accepted with 200, duplicates too, which change nothing', async () => {
    const order = makeOrder({ payment: lost });
    const placed = await post(order).expect(201);
    const event = webhookEvent(order.orderId, {
      type: 'payment.failed',
      data: { paymentId: placed.body.payment.paymentId, orderId: order.orderId, amount: 3998, currency: 'EUR', failureReason: 'card_declined' },
    });
    expect((await signed('primary', event)).body).toEqual({ received: true });
    expect((await signed('primary', event)).status).toBe(200);
    await eventually(() => view(order.orderId), (res) => res.body.status === 'CANCELLED');
    const events = (await request(stack.app).get(`/orders/${order.orderId}/events`).set(checkout)).body.events;
    expect(events.filter((e: { type: string }) => e.type === 'PaymentFailed')).toHaveLength(1);
  });

  /** A confirmed, closed order, and a second success callback for its payment (its id, at its total). */
  async function confirmedWithRepeatedSuccess() {
    const order = makeOrder();
    const placed = await post(order).expect(201);
    await stack.result(stack.client.workflow.getHandle(`order-${order.orderId}`));
    const { paymentId } = placed.body.payment;
    const event = webhookEvent(order.orderId, { type: 'payment.succeeded', data: { paymentId, orderId: order.orderId, amount: 3998, currency: 'EUR', failureReason: null } });
    return { order, paymentId: paymentId as string, event };
  }

  test('a repeated success for a confirmed, closed order changes nothing: no refund', async () => {
    const { order, paymentId, event } = await confirmedWithRepeatedSuccess();
    expect((await signed('primary', event)).status).toBe(200);
    // Describe is strongly consistent (a visibility count could lag and pass for the wrong reason).
    const refundRun = stack.client.workflow.getHandle(latePaymentRefundWorkflowId({ provider: 'primary', paymentId }));
    await expect(refundRun.describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    expect(stack.ledger.snapshot().payments.find((p) => p.paymentId === paymentId)).toMatchObject({ captured: 3998, refunded: 0 });
    expect((await view(order.orderId)).body.status).toBe('CONFIRMED');
  });

  test('a success from another provider for a confirmed order is late money, even under the same payment id', async () => {
    // Payment ids are the provider's own: the backup may well use one the primary has used.
    const { paymentId, event } = await confirmedWithRepeatedSuccess();
    expect((await signed('backup', event)).status).toBe(200);
    const refundRun = stack.client.workflow.getHandle(latePaymentRefundWorkflowId({ provider: 'backup', paymentId }));
    try {
      expect((await refundRun.describe()).type).toBe(LATE_REFUND_WORKFLOW_TYPE);
    } finally {
      // The sandbox's backup never took this payment, so the refund cannot complete here.
      await refundRun.terminate('test over').catch(() => undefined);
    }
  });

  test('a success for an unknown order is answered 200 and refunded', async () => {
    const payment = stack.ledger.createPayment('primary', { orderId: `GHOST-${Date.now()}`, amount: 500, currency: 'EUR', token: 'tok_lost' }).payment;
    stack.ledger.succeed(payment);
    const event = webhookEvent(payment.orderId, { type: 'payment.succeeded', data: { paymentId: payment.paymentId, orderId: payment.orderId, amount: 500, currency: 'EUR', failureReason: null } });
    expect((await signed('primary', event)).status).toBe(200);
    await eventually(() => payment.refunded, (refunded) => refunded === 500);
  });
});

describe('service routes', () => {
  test('/healthz, /readyz, /openapi.json and /metrics answer without a token', async () => {
    expect((await request(stack.app).get('/healthz')).body).toEqual({ status: 'ok' });
    expect((await request(stack.app).get('/readyz')).status).toBe(200);
    const doc = (await request(stack.app).get('/openapi.json')).body;
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining([
      '/orders', '/orders/{orderId}', '/orders/{orderId}/events', '/orders/{orderId}/cancel',
      '/orders/{orderId}/actions/retry-compensation', '/webhooks/payments/{provider}', '/healthz', '/readyz', '/openapi.json', '/metrics',
    ]));
    expect(Object.keys(doc.paths['/orders'].post.responses).sort()).toEqual(['200', '201', '202', '400', '401', '403', '409', '413', '422', '503']);
    await request(stack.app).get('/orders/NOPE-metrics').set(checkout);
    const metrics = (await request(stack.app).get('/metrics')).text;
    expect(metrics).toMatch(/orders_api_http_requests_total\{method="GET",route="\/orders\/:orderId",code="404"\} \d+/);
  });

  test('/readyz answers 503 when Temporal does not', async () => {
    const connection = Connection.lazy({ address: '127.0.0.1:1' });
    const app = createApp({ client: new Client({ connection }), config: { ...stack.settingsForApp(), apiKeys: TEST_API_KEYS }, codec: stack.codec });
    const res = await request(app).get('/readyz');
    expect(res.status).toBe(503);
    await connection.close();
  });
});
