import net from 'node:net';
import request from 'supertest';
import { signWebhook } from '../payment-provider/signature';
import { DEV_PROVIDER_SECRETS } from '../config';
import { auth, LOST_PAYMENT, makeOrder, startStack, type TestStack } from './helpers/stack';
import { expectProblem } from './helpers/problems';

/**
 * A corpus of hostile requests against every route: each must get its 4xx as a problem document, never a
 * 5xx, and the API must still answer (and still take a real order) afterwards.
 */
const REQUEST_TIMEOUT_MS = 1_500;
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ requestTimeoutMs: REQUEST_TIMEOUT_MS });
});
afterAll(async () => {
  await stack?.stop();
});

const checkout = auth('dev-checkout');
const support = auth('dev-support');
const order = makeOrder();
const deepArray = `${'['.repeat(50_000)}${']'.repeat(50_000)}`;
const deepObject = `${'{"a":'.repeat(15_000)}1${'}'.repeat(15_000)}`;
const manyItems = `{"items":[${Array.from({ length: 40_000 }, () => '0').join(',')}]}`;

type Hostile = {
  name: string;
  method: 'get' | 'post';
  path: string;
  headers?: Record<string, string>;
  body?: string | object;
  type?: string;
  /** What docs/API.md gives this request. */
  status: number;
};

/**
 * Each route with what any body below gets there, and what one over the orders' 100 kB limit gets: the
 * unsigned webhook is refused before its body matters; the codec takes bodies up to 4 MB, so a large one
 * fails on its contents.
 */
const POST_ROUTES: { path: string; headers: Record<string, string>; status: number; tooLarge: number }[] = [
  { path: '/orders', headers: checkout, status: 400, tooLarge: 413 },
  { path: `/orders/${order.orderId}/cancel`, headers: checkout, status: 400, tooLarge: 413 },
  { path: `/orders/${order.orderId}/actions/retry-compensation`, headers: support, status: 400, tooLarge: 413 },
  { path: `/orders/${order.orderId}/actions/mark-resolved`, headers: support, status: 400, tooLarge: 413 },
  { path: '/webhooks/payments/primary', headers: {}, status: 401, tooLarge: 413 },
  { path: '/codec/encode', headers: support, status: 400, tooLarge: 400 },
  { path: '/codec/decode', headers: support, status: 400, tooLarge: 400 },
];
const TOO_LARGE = 'a body over 100 kB';

const bodies: { name: string; body: string | object; type?: string }[] = [
  { name: 'arrays nested 50,000 deep', body: deepArray, type: 'application/json' },
  { name: 'objects nested 15,000 deep', body: deepObject, type: 'application/json' },
  { name: 'an array of 40,000 items', body: manyItems, type: 'application/json' },
  { name: TOO_LARGE, body: { ...order, padding: 'x'.repeat(110 * 1024) } },
  {
    name: 'control and bidi characters in ids',
    body: { ...order, orderId: 'A\u0000B\u202eC', customer: { id: 'c\u0007', email: 'a\u0000@example.com' } },
  },
  {
    name: 'a lone surrogate',
    body: '{"orderId":"\\ud800","note":"\\udfff","reason":"\\ud800"}',
    type: 'application/json',
  },
  {
    name: 'numbers out of range',
    body: '{"orderId":"N-1","items":[{"sku":"SKU-TEE","quantity":1e400,"unitPrice":-1e308}],"amount":1e999,"note":1e999}',
    type: 'application/json',
  },
  {
    name: 'a prototype-pollution key',
    body: '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"note":{"__proto__":{"polluted":true}}}',
    type: 'application/json',
  },
  { name: 'strings where objects go', body: '"just a string"', type: 'application/json' },
  { name: 'null', body: 'null', type: 'application/json' },
  { name: 'text/plain', body: 'orderId=A-1', type: 'text/plain' },
  { name: 'a form', body: 'orderId=A-1&items[0][sku]=x', type: 'application/x-www-form-urlencoded' },
  { name: 'XML', body: '<order><orderId>A-1</orderId></order>', type: 'application/xml' },
  { name: 'JSON in UTF-16', body: '{"orderId":"A-1"}', type: 'application/json; charset=utf-16' },
  { name: 'truncated JSON', body: '{"orderId":"A-1","items":[', type: 'application/json' },
];

const corpus: Hostile[] = [
  ...POST_ROUTES.flatMap(({ path, headers, status, tooLarge }) =>
    bodies.map(({ name, body, type }) => ({
      name: `POST ${path} with ${name}`,
      method: 'post' as const,
      path,
      headers,
      body,
      type,
      status: name === TOO_LARGE ? tooLarge : status,
    })),
  ),
  { name: 'a path with a NUL', method: 'get', path: '/orders/%00', headers: checkout, status: 404 },
  {
    name: 'a traversal path',
    method: 'get',
    path: '/orders/..%2F..%2Fetc%2Fpasswd/events',
    headers: checkout,
    status: 404,
  },
  { name: 'a 2,000-character id', method: 'get', path: `/orders/${'a'.repeat(2_000)}`, headers: checkout, status: 404 },
  { name: 'a limit of 1e999', method: 'get', path: '/orders?limit=1e999', headers: checkout, status: 400 },
  {
    name: 'a repeated status',
    method: 'get',
    path: '/orders?status=CONFIRMED&status=REJECTED',
    headers: checkout,
    status: 400,
  },
  {
    name: 'a prototype key in the query',
    method: 'get',
    path: '/orders?__proto__[polluted]=1&constructor[prototype][polluted]=1',
    headers: checkout,
    status: 400,
  },
  {
    name: 'a garbage page token',
    method: 'get',
    path: `/orders?pageToken=${'%FF'.repeat(300)}`,
    headers: checkout,
    status: 400,
  },
  {
    name: 'a 9 kB token',
    method: 'get',
    path: '/orders',
    headers: { authorization: `Bearer ${'t'.repeat(9_000)}` },
    status: 401,
  },
  {
    name: 'a non-bearer scheme',
    method: 'get',
    path: '/orders',
    headers: { authorization: 'Basic YWRtaW46YWRtaW4=' },
    status: 401,
  },
  {
    name: 'a forged signature',
    method: 'post',
    path: '/webhooks/payments/primary',
    headers: { 'payment-signature': 't=1,v1=00' },
    body: { id: 'evt' },
    status: 401,
  },
  {
    name: 'an unknown provider',
    method: 'post',
    path: '/webhooks/payments/__proto__',
    headers: {},
    body: {},
    status: 404,
  },
  { name: 'an unknown route', method: 'post', path: '/admin', headers: checkout, body: {}, status: 404 },
];

test.each(corpus.map((c) => [c.name, c.status, c] as const))(
  '%s: %i, as a problem document',
  async (_name, status, hostile) => {
    const app = request(stack.app);
    let req = app[hostile.method](hostile.path).set(hostile.headers ?? {});
    if (hostile.type) req = req.set('content-type', hostile.type);
    const res = hostile.body === undefined ? await req : await req.send(hostile.body as string);
    expectProblem(res, status);
  },
);

test("a query over Node's header limit is refused by the API's HTTP server itself (431)", async () => {
  const res = await fetch(`${stack.apiUrl}/orders?customerId=${'x'.repeat(20_000)}`, { headers: checkout });
  expect(res.status).toBe(431);
});

test('a cancel whose body is not JSON is refused, not read as a cancel without a reason; one with no body at all is a cancel', async () => {
  // A payment that never completes keeps the order cancellable for as long as the test needs.
  const order = makeOrder({ payment: LOST_PAYMENT });
  expect((await request(stack.app).post('/orders').set(checkout).send(order)).status).toBe(201);
  const cancelUrl = `/orders/${order.orderId}/cancel`;
  const refused = await request(stack.app)
    .post(cancelUrl)
    .set(checkout)
    .set('content-type', 'application/x-www-form-urlencoded')
    .send('reason=changed+my+mind');
  expect(refused.status).toBe(400);
  expect(refused.body).toMatchObject({ status: 400, title: 'Body is not JSON' });
  const after = await request(stack.app).get(`/orders/${order.orderId}`).set(checkout);
  expect(after.body).toMatchObject({ status: 'AWAITING_PAYMENT' });
  // fetch sends a bodiless POST with `Content-Length: 0` and no content type.
  const bare = await fetch(`${stack.apiUrl}${cancelUrl}`, { method: 'POST', headers: checkout });
  expect(bare.status).toBe(200);
  expect(await bare.json()).toMatchObject({ status: 'CANCELLED', reason: { code: 'CANCELLED_BY_CUSTOMER' } });
});

test('a valid signature over a hostile body is still a 400 (413 when too large)', async () => {
  for (const { name, body } of bodies) {
    const raw = typeof body === 'string' ? body : JSON.stringify(body);
    const res = await request(stack.app)
      .post('/webhooks/payments/primary')
      .set('content-type', 'application/json')
      .set('payment-signature', signWebhook(DEV_PROVIDER_SECRETS.primary, raw, Math.floor(Date.now() / 1000)))
      .send(raw);
    expectProblem(res, name === TOO_LARGE ? 413 : 400);
  }
});

test('a body sent a byte at a time is cut off, and other clients are served meanwhile', async () => {
  const { hostname, port } = new URL(stack.apiUrl);
  const socket = net.connect(Number(port), hostname);
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(
    'POST /orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer dev-checkout\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{',
  );
  const drip = setInterval(() => socket.write(' '), 200);
  const answer = new Promise<string>((resolve) => {
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString()));
    // A drip that lands after the server closed the connection is answered with a reset: cut off too, and
    // 'close' follows it.
    socket.on('error', () => {});
    socket.on('close', () => resolve(text));
  });
  expect((await fetch(`${stack.apiUrl}/healthz`)).status).toBe(200);
  const text = await answer;
  clearInterval(drip);
  // Node answers 408 when the request deadline passes (or just closes): never a 2xx or 5xx.
  expect(text === '' || text.startsWith('HTTP/1.1 408')).toBe(true);
});

test('afterwards: nothing was polluted, the API answers and still takes an order', async () => {
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect((await request(stack.app).get('/healthz')).status).toBe(200);
  const placed = await request(stack.app).post('/orders').set(checkout).send(makeOrder());
  expect(placed.status).toBe(201);
});
