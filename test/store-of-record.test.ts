import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { DEV_PROVIDER_SECRETS } from '../config';
import { latePaymentRefundWorkflowId, orderWorkflowId } from '../domain/contract';
import type { OrderView } from '../domain/order-state';
import { signWebhook } from '../payment-provider/signature';
import { PaymentToken } from '../sandbox/ledger';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { spawnSync } from 'node:child_process';
import { ANONYMISED_CUSTOMER_ID } from '../domain/personal-data';
import { testTemporalAddress } from './helpers/test-env';
import { createApp } from '../api/server';
import { OrderStore } from '../store/order-store';
import { expectProblem } from './helpers/problems';
import {
  auth,
  eventually,
  makeOrder,
  NAMESPACE,
  netMoney,
  startStack,
  TEST_API_KEYS,
  type TestStack,
} from './helpers/stack';

/**
 * The store of record through the real stack: an order outlives its workflow. Each test ends an order,
 * deletes its workflow as the namespace's retention does, and asks the API what a checkout, support and a
 * payment provider would ask after that.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ paymentWindowMs: 2_000 });
});
afterAll(async () => {
  await stack?.stop();
});

const checkout = () => stack.api('dev-checkout');
const support = () => stack.api('dev-support');

async function placed(order = makeOrder()): Promise<OrderView> {
  const { data, response } = await checkout().POST('/orders', { body: order });
  if (response.status !== 201) throw new Error(`POST /orders answered ${response.status}`);
  return data as OrderView;
}

/** Waits for the order's workflow to complete, then deletes it as retention does, and waits until Temporal has forgotten it. */
async function forgottenByTemporal(orderId: string): Promise<void> {
  const handle = stack.client.workflow.getHandle(orderWorkflowId(orderId));
  await handle.result();
  await stack.client.workflowService.deleteWorkflowExecution({
    namespace: NAMESPACE,
    workflowExecution: { workflowId: orderWorkflowId(orderId) },
  });
  await eventually(
    () =>
      handle.describe().then(
        () => 'still there',
        (err: unknown) => (err instanceof WorkflowNotFoundError ? 'gone' : `unexpected: ${String(err)}`),
      ),
    (state) => state === 'gone',
    90_000,
  );
}

/** Resends a payment event the provider sent for the order, signed anew, as a provider resends on request. */
async function resendPaymentEvent(orderId: string, type: string): Promise<number> {
  const sent = (await (await stack.callSandbox('/_sandbox/webhooks', 'GET')).json()) as {
    webhooks: { provider: 'primary' | 'backup'; event: { type: string; data: { orderId: string } } }[];
  };
  const original = sent.webhooks.find(({ event }) => event.type === type && event.data.orderId === orderId);
  if (!original) throw new Error(`the provider sent no ${type} for ${orderId}`);
  const body = JSON.stringify(original.event);
  const response = await fetch(`${stack.apiUrl}/webhooks/payments/${original.provider}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'Payment-Signature': signWebhook(DEV_PROVIDER_SECRETS[original.provider], body, Math.floor(Date.now() / 1000)),
    },
    body,
  });
  return response.status;
}

/** Whether a late refund was started for the order's payment (its workflow id is the payment's). */
async function lateRefundStarted(orderId: string): Promise<boolean> {
  const payment = stack.ledger.snapshot().payments.find((p) => p.orderId === orderId);
  if (!payment) throw new Error(`the provider holds no payment for ${orderId}`);
  try {
    await stack.client.workflow.getHandle(latePaymentRefundWorkflowId(payment)).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

test('a confirmed order whose workflow Temporal forgot still answers its view, its events and its one id', async () => {
  const order = makeOrder();
  await placed(order);
  // tok_ok: the provider takes the money on its own, a moment after the link.
  const confirmed = await stack.result(stack.client.workflow.getHandle(orderWorkflowId(order.orderId)));
  const events = (await support().GET('/orders/{orderId}/events', { params: { path: { orderId: order.orderId } } }))
    .data!;
  expect(confirmed.status).toBe('CONFIRMED');

  await forgottenByTemporal(order.orderId);

  const read = await support().GET('/orders/{orderId}', { params: { path: { orderId: order.orderId } } });
  expect({ status: read.response.status, view: read.data }).toEqual({ status: 200, view: confirmed });
  const readEvents = await support().GET('/orders/{orderId}/events', { params: { path: { orderId: order.orderId } } });
  expect({ status: readEvents.response.status, events: readEvents.data }).toEqual({ status: 200, events });
  const customersList = await checkout().GET('/orders', { params: { query: { customerId: order.customer.id } } });
  expect(customersList.data!.orders.map(({ orderId, status }) => `${orderId} ${status}`)).toContain(
    `${order.orderId} CONFIRMED`,
  );

  // The checkout's retry of the same body: the order as recorded, and nothing started again.
  const again = await checkout().POST('/orders', { body: order });
  expect({ status: again.response.status, view: again.data }).toEqual({ status: 200, view: confirmed });
  const other = await checkout().POST('/orders', { body: { ...order, items: [{ ...order.items[0]!, quantity: 9 }] } });
  expect(other.response.status).toBe(409);
  await expect(stack.client.workflow.getHandle(orderWorkflowId(order.orderId)).describe()).rejects.toThrow(
    WorkflowNotFoundError,
  );

  // The provider resends the order's own success: the money stays, nothing is refunded.
  expect(await resendPaymentEvent(order.orderId, 'payment.succeeded')).toBe(200);
  expect(await lateRefundStarted(order.orderId)).toBe(false);
  expect(netMoney(stack, order.orderId)).toBe(confirmed.total);
}, 180_000);

test('money that arrives for a cancelled order Temporal forgot is returned once', async () => {
  // The provider takes the money only after the window closed: the order was cancelled meanwhile.
  const order = makeOrder({ payment: { method: 'card', token: PaymentToken.LATE } });
  await placed(order);
  const cancelled = await stack.result(stack.client.workflow.getHandle(orderWorkflowId(order.orderId)));
  expect(cancelled.status).toBe('CANCELLED');
  await forgottenByTemporal(order.orderId);
  const late = await eventually(
    () => stack.ledger.snapshot().payments.find((p) => p.orderId === order.orderId),
    (payment) => payment !== undefined && payment.captured > 0,
    30_000,
  );
  // The provider's own delivery may have come before or after the deletion; a resend always comes after.
  expect(await resendPaymentEvent(order.orderId, 'payment.succeeded')).toBe(200);
  await eventually(
    () => netMoney(stack, order.orderId),
    (net) => net === 0,
    30_000,
  );
  expect(late!.captured).toBe(cancelled.total);
  expect(await lateRefundStarted(order.orderId)).toBe(true);
}, 180_000);

test('late money its provider keeps refusing after the order ended: the order tells support, then that it was settled', async () => {
  // The order's own void is another route: only the late refund is refused.
  await stack.callSandbox('/_sandbox/faults/refund', 'PUT', { kind: 'status', status: 422, code: 'REFUND_REFUSED' });
  const order = makeOrder({
    customer: { id: `c-late-${Date.now()}`, email: 'late@example.com' },
    payment: { method: 'card', token: PaymentToken.LATE },
  });
  const read = () => support().GET('/orders/{orderId}', { params: { path: { orderId: order.orderId } } });
  try {
    await placed(order);
    expect((await stack.result(stack.client.workflow.getHandle(orderWorkflowId(order.orderId)))).status).toBe(
      'CANCELLED',
    );
    const flagged = await eventually(read, (res) => res.data?.needsAttention === true, 60_000);
    expect(flagged.data).toMatchObject({ status: 'CANCELLED', payment: { status: 'succeeded' } });
    const attention = await support().GET('/orders', {
      params: { query: { customerId: order.customer.id, needsAttention: 'true' } },
    });
    expect(attention.data!.orders.map(({ orderId }) => orderId)).toEqual([order.orderId]);
    expect(netMoney(stack, order.orderId)).toBe(flagged.data!.total);
  } finally {
    await stack.callSandbox('/_sandbox/faults/refund', 'DELETE');
  }
  const settled = await eventually(read, (res) => res.data?.needsAttention === false, 60_000);
  expect(settled.data).toMatchObject({ status: 'CANCELLED', payment: { status: 'refunded' } });
  expect(netMoney(stack, order.orderId)).toBe(0);
  const events = (await support().GET('/orders/{orderId}/events', { params: { path: { orderId: order.orderId } } }))
    .data!.events;
  expect(events.slice(-2)).toEqual([
    expect.objectContaining({ type: 'LateMoneyRefused', data: expect.objectContaining({ provider: 'primary' }) }),
    expect.objectContaining({ type: 'PaymentRefunded', data: expect.objectContaining({ late: true }) }),
  ]);
}, 120_000);

test('every order the API placed is in the store as Temporal ended it: its view and its event log', async () => {
  const order = makeOrder({ payment: { method: 'card', token: PaymentToken.DECLINE } });
  await placed(order);
  const handle = stack.client.workflow.getHandle(orderWorkflowId(order.orderId));
  const ended = await stack.result(handle);
  const fromTemporal = await support().GET('/orders/{orderId}/events', {
    params: { path: { orderId: order.orderId } },
  });
  expect(await stack.store.find(order.orderId)).toEqual({ view: ended, requestHash: expect.any(String), closed: true });
  expect(await stack.store.events(order.orderId)).toEqual(fromTemporal.data!.events);
});

/** `npm run erase-orders` with `args`, against this stack's Temporal and store of record. */
function eraseOrders(...args: string[]) {
  const script = path.resolve(__dirname, '..', 'scripts', 'erase-orders.ts');
  return spawnSync(process.execPath, ['--import', 'tsx', script, ...args], {
    encoding: 'utf8',
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: testTemporalAddress(),
      TEMPORAL_NAMESPACE: NAMESPACE,
      ORDER_STORE_URL: stack.storeUrl,
    },
  });
}

describe('npm run erase-orders', () => {
  test("anonymises a customer's ended orders everywhere they are read, keeps the books, and leaves the one still running", async () => {
    const customer = { id: `c-erase-${Date.now()}`, email: 'erase@example.com' };
    const ended = makeOrder({ customer });
    const running = makeOrder({ customer, payment: { method: 'card', token: PaymentToken.LOST } });
    const other = makeOrder();
    await placed(ended);
    await placed(other);
    const confirmed = await stack.result(stack.client.workflow.getHandle(orderWorkflowId(ended.orderId)));
    await stack.result(stack.client.workflow.getHandle(orderWorkflowId(other.orderId)));
    await placed(running);

    const dry = eraseOrders('--anonymise', '--customer', customer.id, '--dry-run');
    expect(dry.stdout).toContain(`[erase-orders] ${ended.orderId}: would be anonymised (dry run)`);
    expect((await stack.store.find(ended.orderId))!.view.customerId).toBe(customer.id);

    const run = eraseOrders('--anonymise', '--customer', customer.id);
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    expect(run.stdout).toContain(`[erase-orders] ${ended.orderId}: anonymised, and its workflow deleted from Temporal`);
    expect(run.stdout).toContain(
      "[erase-orders] 1 ended orders anonymised; 1 of the customer's orders have not ended: run again once they have",
    );
    await eventually(
      () =>
        stack.client.workflow
          .getHandle(orderWorkflowId(ended.orderId))
          .describe()
          .then(
            () => 'still there',
            (err: unknown) => (err instanceof WorkflowNotFoundError ? 'gone' : String(err)),
          ),
      (state) => state === 'gone',
      90_000,
    );

    const read = await support().GET('/orders/{orderId}', { params: { path: { orderId: ended.orderId } } });
    expect(read.data).toEqual({ ...confirmed, customerId: ANONYMISED_CUSTOMER_ID });
    const events = (await support().GET('/orders/{orderId}/events', { params: { path: { orderId: ended.orderId } } }))
      .data!.events;
    expect(JSON.stringify(events)).not.toContain(customer.id);
    expect(events[0]).toMatchObject({ type: 'OrderReceived', data: { customerId: ANONYMISED_CUSTOMER_ID } });
    const list = await checkout().GET('/orders', { params: { query: { customerId: customer.id } } });
    expect(list.data!.orders.map((order) => order.orderId)).toEqual([running.orderId]);
    // Its id stays used; the other customer's order and the running one are untouched.
    expect((await checkout().POST('/orders', { body: ended })).response.status).toBe(409);
    expect((await stack.store.find(other.orderId))!.view.customerId).toBe(other.customer.id);
    expect((await stack.store.find(running.orderId))!.view.customerId).toBe(customer.id);
  }, 180_000);

  test('deletes the ended orders a retention policy names, and refuses what it cannot read', async () => {
    const order = makeOrder();
    await placed(order);
    await stack.result(stack.client.workflow.getHandle(orderWorkflowId(order.orderId)));
    const endedBefore = new Date(Date.now() + 1_000).toISOString();
    const run = eraseOrders('--delete', '--customer', order.customer.id, '--ended-before', endedBefore);
    expect(run.stdout).toContain(`[erase-orders] ${order.orderId}: deleted, and its workflow deleted from Temporal`);
    expect(await stack.store.find(order.orderId)).toBeNull();
    expect(await stack.store.events(order.orderId)).toBeNull();

    for (const [args, message] of [
      [['--customer', 'c-1'], 'say either --anonymise or --delete'],
      [['--delete', '--anonymise', '--customer', 'c-1'], 'say either --anonymise or --delete'],
      [['--delete'], 'say whose orders'],
      [['--delete', '--ended-before', 'last year'], '--ended-before "last year" is not an ISO 8601 time with a zone'],
    ] as const) {
      const refused = eraseOrders(...args);
      expect({ status: refused.status, message: refused.stderr.includes(message) }).toEqual({
        status: 2,
        message: true,
      });
    }
  }, 120_000);
});

/**
 * The production-shape test found it with PostgreSQL restarting under Temporal: the frontend answered
 * reads (no such workflow) while the history shard refused the start, and the API took the store's claim
 * for the order, answering 202, then 200 to the retry, for an order that never started.
 */
test("a start Temporal refused leaves no order behind: the id answers 404, and the checkout's retry places it", async () => {
  const shardUnavailable = () =>
    Object.assign(new Error('MultiOperation could not be executed: Start failed: shard status unknown'), {
      code: 14,
      details: 'shard status unknown',
      metadata: {},
    });
  // The stack's own client, but for the start: Temporal's reads answer, its start does not.
  const workflow = Object.create(stack.client.workflow, {
    executeUpdateWithStart: { value: () => Promise.reject(shardUnavailable()) },
  }) as Client['workflow'];
  const client = Object.create(stack.client, { workflow: { value: workflow } }) as Client;
  const app = createApp({
    client,
    store: stack.store,
    config: { ...stack.settingsForApp(), apiKeys: TEST_API_KEYS },
    codec: stack.codec,
    taskQueue: stack.taskQueue,
  });
  const order = makeOrder();
  try {
    expectProblem(
      await request(app).post('/orders').set(auth('dev-checkout')).send(order),
      503,
      'Order outcome unknown',
    );
    expectProblem(
      await request(app).post('/orders').set(auth('dev-checkout')).send(order),
      503,
      'Order outcome unknown',
    );
  } finally {
    app.stopBackground();
  }
  const listed = async () =>
    (await checkout().GET('/orders', { params: { query: { customerId: order.customer.id } } })).data!.orders.map(
      ({ orderId }) => orderId,
    );
  expect(await listed()).toEqual([]);
  expect(
    (await support().GET('/orders/{orderId}', { params: { path: { orderId: order.orderId } } })).response.status,
  ).toBe(404);
  expect(
    (await support().GET('/orders/{orderId}/events', { params: { path: { orderId: order.orderId } } })).response.status,
  ).toBe(404);

  const placedNow = await checkout().POST('/orders', { body: order });
  expect(placedNow.response.status).toBe(201);
  expect((await stack.result(stack.client.workflow.getHandle(orderWorkflowId(order.orderId)))).status).toBe(
    'CONFIRMED',
  );
  expect(await listed()).toEqual([order.orderId]);
});

describe('with the store of record unavailable', () => {
  /** The API over a store that no longer answers (its connection closed), Temporal and the worker up. */
  async function appWithoutStore() {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'order-store-down-'));
    const store = await OrderStore.open(`sqlite:${path.join(dir, 'orders.db')}`);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    return createApp({
      client: stack.client,
      store,
      config: { ...stack.settingsForApp(), apiKeys: TEST_API_KEYS },
      codec: stack.codec,
      taskQueue: stack.taskQueue,
    });
  }

  test('an order is still placed and read through Temporal; a list, which only the store holds, is a 503', async () => {
    const app = await appWithoutStore();
    try {
      const order = makeOrder();
      const placedRes = await request(app).post('/orders').set(auth('dev-checkout')).send(order);
      expect(placedRes.status).toBe(201);
      const read = await request(app).get(`/orders/${order.orderId}`).set(auth('dev-support'));
      expect({ status: read.status, orderId: read.body.orderId }).toEqual({ status: 200, orderId: order.orderId });
      expectProblem(await request(app).get('/orders').set(auth('dev-support')), 503, 'Order store unavailable');
      // Nobody can tell an order Temporal does not hold from one it forgot: 503, not 404.
      expectProblem(
        await request(app).get('/orders/T-never-placed').set(auth('dev-support')),
        503,
        'Order store unavailable',
      );
    } finally {
      app.stopBackground();
    }
  });
});
