import request from 'supertest';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../api/server';
import { signWebhook } from '../payment-provider/signature';
import { DEV_PROVIDER_SECRETS } from '../config';
import { expectProblem } from './helpers/problems';
import { auth, eventually, makeOrder, startStack, TEST_API_KEYS, type TestStack } from './helpers/stack';

/**
 * No worker: every start admitted at once waits out its accept timeout, so the API's two slots stay taken.
 * Two slots drain two starts a second (nothing measured yet), so a line of one second holds two.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({
    worker: false,
    orderAcceptTimeoutMs: 3_000,
    maxStartsInFlight: 2,
    startQueueWaitMs: 1_000,
  });
});
afterAll(async () => {
  await stack?.stop();
});

const checkout = auth('dev-checkout');
const place = (order: object) => request(stack.app).post('/orders').set(checkout).send(order);
const signedWebhook = (orderId: string) => {
  const body = JSON.stringify({
    id: `evt_${orderId}`,
    type: 'payment.failed',
    created: Math.floor(Date.now() / 1000),
    data: { paymentId: 'pay_during_a_burst', orderId, amount: 3998, currency: 'EUR', failureReason: 'card_declined' },
  });
  return request(stack.app)
    .post('/webhooks/payments/primary')
    .set('content-type', 'application/json')
    .set('payment-signature', signWebhook(DEV_PROVIDER_SECRETS.primary, body, Math.floor(Date.now() / 1000)))
    .send(body);
};

test('beyond its slots a start waits in line, first come first served; beyond the line it is shed at once with an honest Retry-After, starting nothing; reads and webhooks go on', async () => {
  const [first, second, third, fourth, fifth] = [makeOrder(), makeOrder(), makeOrder(), makeOrder(), makeOrder()];
  const answered: string[] = [];
  const placing = (order: ReturnType<typeof makeOrder>) =>
    place(order).then((res) => (answered.push(order.orderId), res));
  const inFlight = [first, second].map(placing);
  // Both are admitted and waiting on Temporal once the gauge says so.
  const metricsSay = (pattern: RegExp) =>
    eventually(
      async () => (await request(stack.app).get('/metrics')).text,
      (metrics) => pattern.test(metrics),
    );
  await metricsSay(/^orders_api_starts_in_flight 2$/m);
  const inLine = [third, fourth].map(placing);
  await metricsSay(/^orders_api_starts_waiting 2$/m);

  const shed = await place(fifth);
  expect(answered).toEqual([]);
  expectProblem(shed, 503, 'Too many orders in flight');
  // A third in line would wait 1.5 s: back when the line is at half a second, in one second.
  expect(shed.headers['retry-after']).toBe('1');
  expect(shed.body.detail).toContain('nothing was started');
  expect((await request(stack.app).get(`/orders/${fifth.orderId}`).set(checkout)).status).toBe(404);

  const ready = await request(stack.app).get('/readyz');
  expect(ready.status).toBe(200);
  expect(ready.body).toEqual({
    status: 'ready',
    shedding: true,
    startsInFlight: 2,
    startsWaiting: 2,
    maxStartsInFlight: 2,
  });
  expect((await request(stack.app).get(`/orders/${first.orderId}`).set(checkout)).status).toBe(200);
  expect((await signedWebhook(first.orderId)).status).toBe(200);

  expect((await Promise.all(inFlight)).map((res) => res.status)).toEqual([202, 202]);
  // Those in line were answered as soon as their order was started (first come, first served: test/admission.test.ts).
  const lined = await Promise.all(inLine);
  expect(lined.map((res) => [res.status, res.body.status, res.body.payment])).toEqual([
    [202, 'RECEIVED', null],
    [202, 'RECEIVED', null],
  ]);
  // The shed checkout retries with the same body once a slot is free: the order is placed.
  expect((await place(fifth)).status).toBe(202);
  const metrics = (await request(stack.app).get('/metrics')).text;
  expect(metrics).toMatch(/^orders_api_starts_total\{outcome="shed"\} 1$/m);
  expect(metrics).toMatch(/^orders_api_starts_total\{outcome="admitted"\} 3$/m);
  expect(metrics).toMatch(/^orders_api_starts_total\{outcome="queued"\} 2$/m);
  expect(metrics).toMatch(/^orders_api_starts_in_flight 0$/m);
});

describe('with Temporal unreachable, every route answers 503 with Retry-After, never a 500', () => {
  const connection = Connection.lazy({ address: '127.0.0.1:1' });
  afterAll(() => connection.close());
  const app = () =>
    createApp({
      client: new Client({ connection }),
      store: stack.store,
      config: { ...stack.settingsForApp(), apiKeys: TEST_API_KEYS },
      codec: stack.codec,
    });

  test('placing an order: the outcome is unknown, and retrying with the same body is safe', async () => {
    const res = await request(app()).post('/orders').set(checkout).send(makeOrder());
    expectProblem(res, 503, 'Order outcome unknown');
    expect(res.headers['retry-after']).toBe('2');
    expect(res.body.detail).toContain('may or may not exist');
  });

  // Each waits out the API's read deadline for a server that never answers: side by side. (A list is read
  // from the store of record alone: api.test.ts has it answered while Temporal is unreachable.)
  test.concurrent.each([
    ['GET', '/orders/A-1', undefined],
    ['GET', '/orders/A-1/events', undefined],
    ['POST', '/orders/A-1/cancel', {}],
    ['POST', '/orders/A-1/actions/retry-compensation', { note: 'the system is back' }],
  ])('%s %s', async (method, path, body) => {
    const token = path.includes('/actions/') ? auth('dev-support') : checkout;
    const res = await (method === 'GET'
      ? request(app()).get(path).set(token)
      : request(app()).post(path).set(token).send(body));
    expectProblem(res, 503, 'Temporal unavailable');
    expect(res.headers['retry-after']).toBe('2');
  });

  test('a payment webhook is not taken, so the provider retries it', async () => {
    const body = JSON.stringify({
      id: 'evt_while_temporal_is_down',
      type: 'payment.succeeded',
      created: Math.floor(Date.now() / 1000),
      data: { paymentId: 'pay_1', orderId: 'A-1', amount: 3998, currency: 'EUR', failureReason: null },
    });
    const res = await request(app())
      .post('/webhooks/payments/primary')
      .set('content-type', 'application/json')
      .set('payment-signature', signWebhook(DEV_PROVIDER_SECRETS.primary, body, Math.floor(Date.now() / 1000)))
      .send(body);
    expectProblem(res, 503, 'Temporal unavailable');
  });
});
