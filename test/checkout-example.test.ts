import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import { createOrdersClient, type components } from '../client';
import { checkoutBackend, placeOrder } from '../examples/checkout-backend';
import { closeServer } from '../stack/parts';
import { SseReader } from './helpers/sse';
import {
  LOST_PAYMENT,
  eventually,
  listenAt,
  makeOrder,
  orderInCookie,
  startStack,
  type TestStack,
} from './helpers/stack';

type OrderStatusEvent = components['schemas']['OrderStatusEvent'];

/** The checkout's own endpoint secret, registered with the stack as `ORDER_WEBHOOKS` would. */
const SECRET = `whsec_${Buffer.from('the example checkout endpoint secret').toString('base64')}`;

let stack: TestStack;
let backend: http.Server;
let backendUrl: string;
const heard: OrderStatusEvent[] = [];
const heardFor = (orderId: string) => heard.filter((event) => event.data.orderId === orderId);

beforeAll(async () => {
  // The backend listens first (the stack must know its URL), and is built once the API's URL is known.
  let app: ReturnType<typeof checkoutBackend> | undefined = undefined;
  backend = http.createServer((req, res) => app!(req, res));
  backendUrl = await listenAt(backend);
  stack = await startStack({
    orderWebhooks: { url: `${backendUrl}/order-webhooks`, secret: SECRET },
    paymentWindowMs: 30_000,
    stateSlaMs: 120_000,
  });
  app = checkoutBackend({
    apiUrl: stack.apiUrl,
    token: 'dev-checkout',
    webhookSecret: SECRET,
    onOrderEvent: async (event) => {
      // Slow enough that a second delivery can come while the first is in hand.
      if (event.data.orderId === 'X-CONCURRENT') await new Promise((resolve) => setTimeout(resolve, 200));
      heard.push(event);
    },
    mayFollow: orderInCookie,
  });
});
afterAll(async () => {
  await stack?.stop();
  if (backend) await closeServer(backend);
});

test('an order is placed, followed live through the backend, paid, and each status heard once, in order', async () => {
  const request = makeOrder({ payment: LOST_PAYMENT });
  const placed = await placeOrder(stack.api('dev-checkout'), request);
  if (placed.kind !== 'pay') throw new Error(`placed as ${placed.kind}`);
  expect(placed.checkoutUrl).toBe(placed.order.payment!.checkoutUrl);

  // What the checkout page's EventSource reads: no token of its own, its session's cookie; another's order is not found.
  const streamUrl = `${backendUrl}/order-stream/${request.orderId}`;
  expect((await SseReader.open(streamUrl, { cookie: 'order=someone-else' })).response.status).toBe(404);
  const { response, stream } = await SseReader.open(streamUrl, { cookie: `order=${request.orderId}` });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  expect(response.headers.get('x-accel-buffering')).toBe('no');
  const first = await stream!.nextEvent();
  expect(first?.event).toBe('order');
  expect(JSON.parse(first!.data!)).toMatchObject({ status: 'AWAITING_PAYMENT' });

  await stack.payAtLink(placed.order);
  const live: string[] = [];
  for (let block = await stream!.nextEvent(); block; block = await stream!.nextEvent()) live.push(block.event!);
  expect(live).toEqual(['order.paid', 'order.confirmed']);

  await eventually(
    async () => heardFor(request.orderId).map((event) => event.type),
    (types) => types.length === 3,
  );
  expect(heardFor(request.orderId).map((event) => [event.type, event.data.status])).toEqual([
    ['order.awaiting_payment', 'AWAITING_PAYMENT'],
    ['order.paid', 'PAID'],
    ['order.confirmed', 'CONFIRMED'],
  ]);

  // Placed again, the same body: the order as it stands, nothing new started.
  expect(await placeOrder(stack.api('dev-checkout'), request)).toMatchObject({
    kind: 'follow',
    order: { status: 'CONFIRMED' },
  });
  // The same id with another body: a new order needs a new id.
  const other = { ...request, customer: { ...request.customer, email: 'someone.else@example.com' } };
  expect(await placeOrder(stack.api('dev-checkout'), other)).toMatchObject({
    kind: 'conflict',
    problem: { title: 'Order conflict' },
  });
});

test('an order the catalog refuses is told as rejected, with its reason', async () => {
  const request = makeOrder({ items: [{ sku: 'SKU-NOPE', quantity: 1, unitPrice: 100 }] });
  const placed = await placeOrder(stack.api('dev-checkout'), request);
  expect(placed).toMatchObject({ kind: 'rejected', order: { status: 'REJECTED', reason: { code: 'UNKNOWN_SKU' } } });
  expect(await placeOrder(stack.api('dev-checkout'), request)).toMatchObject({ kind: 'rejected' });
});

test('a bad request is a problem naming its field', async () => {
  const request = { ...makeOrder(), currency: 'euros' };
  const placed = await placeOrder(stack.api('dev-checkout'), request);
  expect(placed).toMatchObject({
    kind: 'problem',
    problem: { status: 400, errors: [expect.objectContaining({ path: 'currency' })] },
  });
});

describe('the webhook endpoint', () => {
  const event = (orderId: string) => ({
    id: `evt_${orderId}_4`,
    type: 'order.awaiting_payment',
    createdAt: new Date().toISOString(),
    data: { orderId, status: 'AWAITING_PAYMENT' },
  });
  const deliver = (body: string, headers: Record<string, string>) =>
    fetch(`${backendUrl}/order-webhooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
  const signed = (body: string, id: string, secret = SECRET) => ({
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, new Date(), body),
  });

  test('a delivery signed with another secret, or with its body changed, is refused and not acted on', async () => {
    const body = JSON.stringify(event('X-FORGED'));
    const forged = signed(body, 'msg_forged', `whsec_${Buffer.from('not the secret').toString('base64')}`);
    expect((await deliver(body, forged)).status).toBe(401);
    const genuine = signed(body, 'msg_tampered');
    expect((await deliver(body.replace('X-FORGED', 'X-TAMPERED'), genuine)).status).toBe(401);
    expect((await deliver(body, {})).status).toBe(401);
    expect(heard.filter((heardEvent) => heardEvent.data.orderId.startsWith('X-'))).toEqual([]);
  });

  test('an event delivered twice is acted on once, one after the other or both at once', async () => {
    const body = JSON.stringify(event('X-TWICE'));
    expect((await deliver(body, signed(body, 'msg_twice'))).status).toBe(204);
    expect((await deliver(body, signed(body, 'msg_twice'))).status).toBe(204);
    expect(heardFor('X-TWICE')).toHaveLength(1);
    const atOnce = JSON.stringify(event('X-CONCURRENT'));
    const answers = await Promise.all([1, 2].map(() => deliver(atOnce, signed(atOnce, 'msg_concurrent'))));
    expect(answers.map((answer) => answer.status)).toEqual([204, 204]);
    expect(heardFor('X-CONCURRENT')).toHaveLength(1);
  });

  test('a body that is not JSON is refused before its signature is read', async () => {
    const body = JSON.stringify(event('X-FORM'));
    const answer = await fetch(`${backendUrl}/order-webhooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...signed(body, 'msg_form') },
      body,
    });
    expect(answer.status).toBe(415);
  });
});

test('the checkout guide shows the example as it runs', () => {
  const read = (file: string) => readFileSync(path.join(__dirname, '..', file), 'utf8');
  const example = read('examples/checkout-backend.ts');
  // Every TypeScript block of the guide but the client's setup (which starts with its imports) is an excerpt.
  const excerpts = [...read('docs/CHECKOUT.md').matchAll(/```ts\n([\s\S]*?)```/g)]
    .map(([, code]) => code!)
    .filter((code) => !code.startsWith('import'));
  expect(excerpts.length).toBeGreaterThanOrEqual(3);
  for (const excerpt of excerpts) expect(example).toContain(excerpt);
});

describe('answers the stack does not give on demand', () => {
  /** A client whose fetch answers `status` with `body`: the API's answers that need a worker down or a burst. */
  const answering = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    createOrdersClient('http://127.0.0.1:1', 'dev-checkout', {
      fetch: async () =>
        new Response(JSON.stringify(body), {
          status,
          headers: { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json', ...headers },
        }),
    });

  test('202: the order is followed until its link comes', async () => {
    const recorded = { orderId: 'A-202', status: 'RECEIVED', payment: null };
    const placed = await placeOrder(answering(202, recorded), makeOrder());
    expect(placed).toMatchObject({ kind: 'follow', order: { status: 'RECEIVED', payment: null } });
  });

  test('503: tried again after Retry-After', async () => {
    const problem = { type: 'about:blank', title: 'Too many orders in flight', status: 503 };
    const placed = await placeOrder(answering(503, problem, { 'retry-after': '7' }), makeOrder());
    expect(placed).toEqual({ kind: 'retry', retryAfterS: 7 });
  });

  test('any other 5xx, or no answer at all, is tried again too: the order may exist', async () => {
    const gateway = { type: 'about:blank', title: 'Bad Gateway', status: 502 };
    expect(await placeOrder(answering(502, gateway), makeOrder())).toEqual({ kind: 'retry', retryAfterS: 1 });
    const unreachable = createOrdersClient('http://127.0.0.1:1', 'dev-checkout', {
      fetch: async () => {
        throw new TypeError('fetch failed');
      },
    });
    expect(await placeOrder(unreachable, makeOrder())).toEqual({ kind: 'retry', retryAfterS: 1 });
  });
});
