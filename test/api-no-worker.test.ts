import { signWebhook } from '../payment-provider/signature';
import { DEV_PROVIDER_SECRETS } from '../config';
import { orderWorkflowId, paymentCallbackSignal } from '../domain/contract';
import type { OrdersClient } from '../client';
import { eventually, LOST_PAYMENT, makeOrder, netMoney, startStack, type TestStack } from './helpers/stack';

let stack: TestStack;
let checkout: OrdersClient;
beforeAll(async () => {
  // Orders left at their payment links wait out the test: what they show is what they are.
  stack = await startStack({ worker: false, orderAcceptTimeoutMs: 1_000, paymentWindowMs: 120_000 });
  checkout = stack.api('dev-checkout');
});
afterAll(async () => {
  await stack?.stop();
});

const view = (orderId: string) => checkout.GET('/orders/{orderId}', { params: { path: { orderId } } });

test('with no worker: POST answers 202, reads and webhooks answer; once a worker starts, the order completes', async () => {
  const order = makeOrder();
  const accepted = await checkout.POST('/orders', { body: order });
  expect(accepted.response.status).toBe(202);
  expect(accepted.data).toMatchObject({ orderId: order.orderId, status: 'RECEIVED', total: 3998, payment: null });
  const { createdAt } = accepted.data!;

  const again = await checkout.POST('/orders', { body: order });
  expect(again.response.status).toBe(200);
  expect(again.data!.createdAt).toBe(createdAt);

  const read = await view(order.orderId);
  expect(read.response.status).toBe(200);
  expect(read.data).toEqual(accepted.data);
  const events = await checkout.GET('/orders/{orderId}/events', { params: { path: { orderId: order.orderId } } });
  expect(events.data!.events).toEqual([expect.objectContaining({ seq: 1, type: 'OrderReceived', at: createdAt })]);
  await eventually(
    () =>
      checkout.GET('/orders', { params: { query: { customerId: order.customer.id, status: 'RECEIVED', limit: 100 } } }),
    (res) => res.data?.orders.some((o) => o.orderId === order.orderId) ?? false,
  );

  // A provider calls back while no worker runs: accepted durably (the signal waits in history).
  const event = {
    id: 'evt_while_down',
    type: 'payment.failed',
    created: Math.floor(Date.now() / 1000),
    data: {
      paymentId: 'pay_from_an_abandoned_attempt',
      orderId: order.orderId,
      amount: 3998,
      currency: 'EUR',
      failureReason: 'card_declined',
    },
  } as const;
  const signature = signWebhook(DEV_PROVIDER_SECRETS.primary, JSON.stringify(event), Math.floor(Date.now() / 1000));
  const hook = await stack.api().POST('/webhooks/payments/{provider}', {
    params: { path: { provider: 'primary' }, header: { 'Payment-Signature': signature } },
    body: event,
  });
  expect(hook.response.status).toBe(200);
  expect(hook.data).toEqual({ received: true });
  // Taken durably: the signal is in the order's history before any worker has run it.
  const { events: history } = await stack.client.workflow.getHandle(orderWorkflowId(order.orderId)).fetchHistory();
  expect(
    history!.filter(
      (event) => event.workflowExecutionSignaledEventAttributes?.signalName === paymentCallbackSignal.name,
    ),
  ).toHaveLength(1);

  await stack.startWorker();
  const done = await eventually(
    () => view(order.orderId),
    (res) => res.data?.status === 'CONFIRMED',
    30_000,
  );
  expect(done.data!.createdAt).toBe(createdAt);
  expect(netMoney(stack, order.orderId)).toBe(3998);
  await stack.stopWorker();
});

test('with no worker a cancel is recorded durably (202) and carried out once a worker runs', async () => {
  const order = makeOrder({ payment: LOST_PAYMENT });
  expect((await checkout.POST('/orders', { body: order })).response.status).toBe(202);
  const cancel = await checkout.POST('/orders/{orderId}/cancel', {
    params: { path: { orderId: order.orderId } },
    body: { reason: 'too slow' },
  });
  expect(cancel.response.status).toBe(202);
  expect(cancel.data!.status).toBe('RECEIVED');

  await stack.startWorker();
  const done = await eventually(
    () => view(order.orderId),
    (res) => res.data?.status === 'CANCELLED',
    30_000,
  );
  expect(done.data!.reason).toEqual({ code: 'CANCELLED_BY_CUSTOMER', message: 'too slow' });
  expect(stack.ledger.snapshot().payments.filter((p) => p.orderId === order.orderId)).toEqual([]);
});

test('an order answered 202 is listed as it stands once a worker has run it, though nothing follows its answer', async () => {
  await stack.stopWorker();
  const order = makeOrder({ payment: LOST_PAYMENT });
  expect((await checkout.POST('/orders', { body: order })).response.status).toBe(202);
  await stack.startWorker();
  // At its payment link for the whole window: its answer went to nobody, so the workflow wrote it.
  await eventually(
    () =>
      checkout.GET('/orders', {
        params: { query: { customerId: order.customer.id, status: 'AWAITING_PAYMENT', limit: 100 } },
      }),
    (res) => res.data?.orders.some((o) => o.orderId === order.orderId) ?? false,
  );
  expect((await stack.store.events(order.orderId))!.map(({ type }) => type)).toEqual([
    'OrderReceived',
    'OrderValidated',
    'StockReserved',
    'PaymentRequested',
  ]);
});
