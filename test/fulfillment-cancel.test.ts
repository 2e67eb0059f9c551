import http from 'node:http';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createFulfillmentActivities } from '../activities/fulfillment';
import { createHttpClient } from '../activities/http';
import { devPaymentProviders } from '../config';
import { createSandbox } from '../sandbox/server';
import { closeServer, listen } from '../stack/parts';
import { failureOf } from './helpers/failures';

/**
 * Fulfillment's cancel, through the real HTTP client against the sandbox's fulfillment: what it found
 * (cancelled, shipped, never taken), and every way the call can fail.
 */
const sandbox = createSandbox({
  providers: devPaymentProviders('http://127.0.0.1:1'),
  webhookBaseUrl: 'http://127.0.0.1:1',
  paymentWindowMs: 60_000,
});
const server = http.createServer(sandbox.app);
let baseUrl: string;
// Short, so that a hang is seen as the timeout it is within the test.
const HTTP_TIMEOUT_MS = 500;
let cancel: ReturnType<typeof createFulfillmentActivities>['cancelFulfillment'];
let submit: ReturnType<typeof createFulfillmentActivities>['submitFulfillment'];
// Activities log their failures; these tests expect failures and assert on them instead.
const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });

beforeAll(async () => {
  baseUrl = `http://127.0.0.1:${await listen(server, 0)}`;
  ({ cancelFulfillment: cancel, submitFulfillment: submit } = createFulfillmentActivities(
    createHttpClient(HTTP_TIMEOUT_MS),
    { baseUrl },
  ));
});
afterAll(async () => {
  sandbox.close();
  await closeServer(server);
});
afterEach(async () => {
  await fetch(`${baseUrl}/_sandbox/reset`, { method: 'POST' });
});

const submitted = (orderId: string) =>
  env.run(submit, { orderId, items: [{ sku: 'SKU-TEE', quantity: 1, unitPrice: 1999 }], shippingAddress: ADDRESS });
const ADDRESS = { name: 'Ada', line1: '1 Rue', city: 'Paris', postalCode: '75001', country: 'FR' };
const switchFault = (fault: object) =>
  fetch(`${baseUrl}/_sandbox/faults/cancel-fulfillment`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(fault),
  });

test('a taken order is cancelled, and cancelled again alike; nothing of it ships after', async () => {
  await submitted('F-1');
  expect(await env.run(cancel, { orderId: 'F-1' })).toEqual({ outcome: 'cancelled' });
  expect(await env.run(cancel, { orderId: 'F-1' })).toEqual({ outcome: 'cancelled' });
  const ship = await fetch(`${baseUrl}/_sandbox/fulfillment/orders/F-1/ship`, { method: 'POST' });
  expect(ship.status).toBe(409);
  expect(sandbox.ledger.snapshot()).toMatchObject({ cancelledFulfillments: ['F-1'], shipped: [] });
});

test('an order whose goods left is "shipped"; one fulfillment never took is "not-taken"', async () => {
  await submitted('F-2');
  expect((await fetch(`${baseUrl}/_sandbox/fulfillment/orders/F-2/ship`, { method: 'POST' })).status).toBe(200);
  expect(await env.run(cancel, { orderId: 'F-2' })).toEqual({
    outcome: 'shipped',
    fulfillmentId: sandbox.ledger.snapshot().fulfillments['F-2'],
  });
  expect(await env.run(cancel, { orderId: 'F-never' })).toEqual({ outcome: 'not-taken' });
});

test('fulfillment down, a 5xx, a hang past the timeout and a refused connection are retryable: nothing is known', async () => {
  await submitted('F-3');
  await fetch(`${baseUrl}/_sandbox/fulfillment/outage`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ down: true }),
  });
  expect(await failureOf(env.run(cancel, { orderId: 'F-3' }))).toMatchObject({
    type: 'UPSTREAM_UNAVAILABLE',
    nonRetryable: false,
  });
  await fetch(`${baseUrl}/_sandbox/reset`, { method: 'POST' });
  await submitted('F-3');
  await switchFault({ kind: 'status', status: 502 });
  expect(await failureOf(env.run(cancel, { orderId: 'F-3' }))).toMatchObject({ type: 'UPSTREAM_UNAVAILABLE' });
  await switchFault({ kind: 'hang', ms: HTTP_TIMEOUT_MS * 4 });
  expect(await failureOf(env.run(cancel, { orderId: 'F-3' }))).toMatchObject({ type: 'UPSTREAM_UNAVAILABLE' });
  const nobody = createFulfillmentActivities(createHttpClient(HTTP_TIMEOUT_MS), { baseUrl: 'http://127.0.0.1:1' });
  expect(await failureOf(env.run(nobody.cancelFulfillment, { orderId: 'F-3' }))).toMatchObject({
    type: 'UPSTREAM_UNAVAILABLE',
    nonRetryable: false,
  });
});

test('an answer off the contract says so: another 4xx is not retried, a 2xx body it cannot read is', async () => {
  await submitted('F-4');
  await switchFault({ kind: 'status', status: 409, code: 'LOCKED' });
  expect(await failureOf(env.run(cancel, { orderId: 'F-4' }))).toMatchObject({
    type: 'UPSTREAM_CONTRACT',
    nonRetryable: true,
  });
  await switchFault({ kind: 'bad-body' });
  expect(await failureOf(env.run(cancel, { orderId: 'F-4' }))).toMatchObject({
    type: 'UPSTREAM_CONTRACT',
    nonRetryable: false,
  });
});
