import request from 'supertest';
import { signWebhook } from '../api/webhook-signature';
import { DEV_PROVIDER_SECRETS } from '../config';
import { orderWorkflowId, paymentCallbackSignal } from '../domain/contract';
import { auth, eventually, makeOrder, netMoney, startStack, type TestStack } from './helpers/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: false, orderAcceptTimeoutMs: 1_000 });
});
afterAll(async () => {
  await stack?.stop();
});

const checkout = auth('dev-checkout');

test('with no worker: POST answers 202, reads and webhooks answer; once a worker starts, the order completes', async () => {
  const order = makeOrder();
  const accepted = await request(stack.app).post('/orders').set(checkout).send(order);
  expect(accepted.status).toBe(202);
  expect(accepted.body).toMatchObject({ orderId: order.orderId, status: 'RECEIVED', total: 3998, payment: null });

  const again = await request(stack.app).post('/orders').set(checkout).send(order);
  expect(again.status).toBe(200);
  expect(again.body.createdAt).toBe(accepted.body.createdAt);

  const read = await request(stack.app).get(`/orders/${order.orderId}`).set(checkout);
  expect(read.status).toBe(200);
  expect(read.body).toEqual(accepted.body);
  const events = await request(stack.app).get(`/orders/${order.orderId}/events`).set(checkout);
  expect(events.body.events).toEqual([expect.objectContaining({ seq: 1, type: 'OrderReceived', at: accepted.body.createdAt })]);
  await eventually(
    () => request(stack.app).get(`/orders?customerId=${order.customer.id}&status=RECEIVED&limit=100`).set(checkout),
    (res) => res.body.orders?.some((o: { orderId: string }) => o.orderId === order.orderId),
  );

  // A provider calls back while no worker runs: accepted durably (the signal waits in history).
  const body = JSON.stringify({
    id: 'evt_while_down',
    type: 'payment.failed',
    created: Math.floor(Date.now() / 1000),
    data: { paymentId: 'pay_from_an_abandoned_attempt', orderId: order.orderId, amount: 3998, currency: 'EUR', failureReason: 'card_declined' },
  });
  const hook = await request(stack.app)
    .post('/webhooks/payments/primary')
    .set('content-type', 'application/json')
    .set('payment-signature', signWebhook(DEV_PROVIDER_SECRETS.primary, body, Math.floor(Date.now() / 1000)))
    .send(body);
  expect(hook.status).toBe(200);
  expect(hook.body).toEqual({ received: true });
  // Taken durably: the signal is in the order's history before any worker has run it.
  const { events: history } = await stack.client.workflow.getHandle(orderWorkflowId(order.orderId)).fetchHistory();
  expect(history!.filter((event) => event.workflowExecutionSignaledEventAttributes?.signalName === paymentCallbackSignal.name)).toHaveLength(1);

  await stack.startWorker();
  const done = await eventually(() => request(stack.app).get(`/orders/${order.orderId}`).set(checkout), (res) => res.body.status === 'CONFIRMED', 30_000);
  expect(done.body.createdAt).toBe(accepted.body.createdAt);
  expect(netMoney(stack, order.orderId)).toBe(3998);
  await stack.stopWorker();
});

test('with no worker a cancel is recorded durably (202) and carried out once a worker runs', async () => {
  const order = makeOrder({ payment: { method: 'card', token: 'tok_lost' } });
  await request(stack.app).post('/orders').set(checkout).send(order).expect(202);
  const cancel = await request(stack.app).post(`/orders/${order.orderId}/cancel`).set(checkout).send({ reason: 'too slow' });
  expect(cancel.status).toBe(202);
  expect(cancel.body.status).toBe('RECEIVED');

  await stack.startWorker();
  const done = await eventually(() => request(stack.app).get(`/orders/${order.orderId}`).set(checkout), (res) => res.body.status === 'CANCELLED', 30_000);
  expect(done.body.reason).toEqual({ code: 'CANCELLED_BY_CUSTOMER', message: 'too slow' });
  expect(stack.ledger.snapshot().payments.filter((p) => p.orderId === order.orderId)).toEqual([]);
});
