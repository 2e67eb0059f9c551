import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpClient } from '../activities/http';
import { FailureType } from '../domain/reasons';
import { failureOf } from './helpers/failures';
import { loopbackAddressOfItsOwn } from './helpers/loopback';

/** A real loopback server whose answer each test sets; it records what it received. */
let server: Server;
let baseUrl: string;
let answer: (req: IncomingMessage, body: string) => { status: number; body?: string } | 'hang';
const received: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      const reply = answer(req, body);
      if (reply === 'hang') return;
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(reply.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  received.length = 0;
});

describe('the activities HTTP client', () => {
  const http = createHttpClient();

  test('sends the JSON body with its idempotency key and returns the parsed answer', async () => {
    answer = () => ({ status: 201, body: '{"paymentId":"pay_1"}' });
    const response = await http.send({
      method: 'POST',
      url: `${baseUrl}/payments`,
      body: { orderId: 'o-1' },
      idempotencyKey: 'o-1',
    });
    expect(response).toEqual({ status: 201, body: { paymentId: 'pay_1' } });
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ method: 'POST', url: '/payments', body: '{"orderId":"o-1"}' });
    expect(received[0]!.headers).toMatchObject({
      'content-type': 'application/json',
      'idempotency-key': 'o-1',
      accept: 'application/json',
    });
  });

  test('returns a 4xx as an answer, and a body that is not JSON as text', async () => {
    answer = () => ({ status: 409, body: 'out of stock' });
    expect(await http.send({ method: 'GET', url: `${baseUrl}/stock` })).toEqual({ status: 409, body: 'out of stock' });
    answer = () => ({ status: 204 });
    expect(await http.send({ method: 'GET', url: `${baseUrl}/stock` })).toEqual({ status: 204, body: null });
    expect(received[0]!.headers['content-type']).toBeUndefined();
  });

  test.each([500, 503, 429])('a %i is a retryable UPSTREAM_UNAVAILABLE failure', async (status) => {
    answer = () => ({ status, body: '{}' });
    const failure = await failureOf(http.send({ method: 'GET', url: `${baseUrl}/catalog` }));
    expect(failure.type).toBe(FailureType.UPSTREAM_UNAVAILABLE);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toBe(`GET ${baseUrl}/catalog answered ${status}`);
  });

  test('an answer that never comes is a retryable failure once the timeout passes', async () => {
    answer = () => 'hang';
    const failure = await failureOf(createHttpClient(300).send({ method: 'GET', url: `${baseUrl}/slow` }));
    expect(failure.type).toBe(FailureType.UPSTREAM_UNAVAILABLE);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toMatch(/^GET .*\/slow failed: .*timeout/i);
  });

  test('a system that is down is a retryable failure', async () => {
    const down = createServer();
    // An address of its own, so no server of a concurrent test can take the port once it is closed.
    const host = loopbackAddressOfItsOwn();
    await new Promise<void>((resolve) => down.listen(0, host, resolve));
    const url = `http://${host}:${(down.address() as AddressInfo).port}/down`;
    await new Promise((resolve) => down.close(resolve));
    const failure = await failureOf(http.send({ method: 'GET', url }));
    expect(failure.type).toBe(FailureType.UPSTREAM_UNAVAILABLE);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toMatch(/ECONNREFUSED/);
  });
});
