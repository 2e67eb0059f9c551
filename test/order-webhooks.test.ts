import type { WorkflowHandle } from '@temporalio/client';
import { cancelOrderSignal } from '../domain/contract';
import { OrderSearchAttributes } from '../domain/search-attributes';
import type { ReceivedStatusEvent } from '../sandbox/status-event-receiver';
import {
  eventually,
  LOST_PAYMENT,
  makeOrder,
  netMoney,
  startStack,
  type StackOptions,
  type TestStack,
} from './helpers/stack';

/** Long enough that the first attempts fail (the endpoint refuses), short enough for a test to see it recover. */
const RECEIVER_DOWN_MS = 4_000;
/** A Standard Webhooks secret that is not the sandbox's: every signature made with it fails there. */
const ANOTHER_SECRET = `whsec_${Buffer.from('a secret the sandbox does not share').toString('base64')}`;

const stacks: TestStack[] = [];
async function stackWith(options: StackOptions): Promise<TestStack> {
  const stack = await startStack(options);
  stacks.push(stack);
  return stack;
}
afterAll(async () => {
  await Promise.all(stacks.map((stack) => stack.stop()));
});

/** What the sandbox's endpoint took for one order: first receipts, in the order they came. */
async function receivedFor(stack: TestStack, orderId: string): Promise<ReceivedStatusEvent[]> {
  return (await receiver(stack)).received.filter((event) => event.orderId === orderId);
}
async function receiver(stack: TestStack): Promise<{ received: ReceivedStatusEvent[]; rejected: number }> {
  return (await (await stack.callSandbox('/_sandbox/order-webhooks', 'GET')).json()) as {
    received: ReceivedStatusEvent[];
    rejected: number;
  };
}
const types = (events: ReceivedStatusEvent[]) => events.map((event) => event.type);
/** Until the API shows the order at `status`, as a checkout polling it would see. */
async function statusBecomes(stack: TestStack, orderId: string, status: string): Promise<void> {
  await eventually(
    async () => (await stack.api('dev-support').GET('/orders/{orderId}', { params: { path: { orderId } } })).data,
    (view) => view?.status === status,
  );
}
async function webhooksFailing(handle: WorkflowHandle): Promise<boolean | undefined> {
  return (await handle.describe()).typedSearchAttributes.get(OrderSearchAttributes.webhooksFailing);
}

describe('with the endpoint up', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await stackWith({ orderWebhooks: {} });
  });

  test('a paid order tells each status change once, in order, signed, and completes once they are taken', async () => {
    const request = makeOrder();
    const handle = await stack.startOrder(request);
    const view = await stack.result(handle);
    expect(view.status).toBe('CONFIRMED');
    // The workflow completed after its three deliveries did, not beside them.
    const { events } = await handle.fetchHistory();
    const completedDeliveries = events!.filter((event) => event.activityTaskCompletedEventAttributes).length;
    expect(completedDeliveries).toBe(3);
    // On a task queue of their own: a hung endpoint takes no slot the saga's own activities need.
    const queues = events!.flatMap((event) => event.activityTaskScheduledEventAttributes?.taskQueue?.name ?? []);
    expect(queues).toEqual(Array(3).fill(`${stack.taskQueue}-webhooks`));
    const received = await receivedFor(stack, request.orderId);
    expect(types(received)).toEqual(['order.awaiting_payment', 'order.paid', 'order.confirmed']);
    expect(received.map((event) => event.copies)).toEqual([1, 1, 1]);
    expect(new Set(received.map((event) => event.id)).size).toBe(3);
    // Each event's number is the domain event that changed the status: increasing, as the order went.
    expect(received.map((event) => event.seq)).toEqual([...received.map((event) => event.seq)].sort((a, b) => a - b));
    expect((await receiver(stack)).rejected).toBe(0);
  });

  test('a cancelled order tells its payment link, then its cancellation', async () => {
    const request = makeOrder({ payment: LOST_PAYMENT });
    const handle = await stack.startOrder(request);
    await eventually(
      () => receivedFor(stack, request.orderId),
      (events) => events.length === 1,
    );
    await handle.signal(cancelOrderSignal, { by: 'customer' });
    expect((await stack.result(handle)).status).toBe('CANCELLED');
    expect(types(await receivedFor(stack, request.orderId))).toEqual(['order.awaiting_payment', 'order.cancelled']);
  });

  test('a rejected order tells its rejection alone', async () => {
    const request = makeOrder({ items: [{ sku: 'SKU-NOPE', quantity: 1, unitPrice: 100 }] });
    expect((await stack.result(await stack.startOrder(request))).status).toBe('REJECTED');
    expect(types(await receivedFor(stack, request.orderId))).toEqual(['order.rejected']);
  });

  test('an order with no endpoint registered records no delivery at all', async () => {
    const quiet = await stackWith({});
    const request = makeOrder();
    const handle = await quiet.startOrder(request);
    await quiet.result(handle);
    const { events } = await handle.fetchHistory();
    expect(events!.some((event) => event.activityTaskScheduledEventAttributes)).toBe(false);
    expect(await receivedFor(quiet, request.orderId)).toEqual([]);
  });
});

test('an endpoint that hears some event types gets only those', async () => {
  const stack = await stackWith({ orderWebhooks: { events: ['order.confirmed', 'order.cancelled'] } });
  const request = makeOrder();
  await stack.result(await stack.startOrder(request));
  expect(types(await receivedFor(stack, request.orderId))).toEqual(['order.confirmed']);
});

test('an endpoint that is down delays nothing of the order, flags it while it fails, and gets everything in order once back', async () => {
  const stack = await stackWith({ orderWebhooks: { flagAfterMs: 1_000 } });
  await stack.refuseConnections('checkout', true);
  const request = makeOrder();
  const handle = await stack.startOrder(request);
  // The order goes on without its webhooks: confirmed while the endpoint still refuses.
  await statusBecomes(stack, request.orderId, 'CONFIRMED');
  await eventually(
    () => webhooksFailing(handle),
    (failing) => failing === true,
  );
  expect(await receivedFor(stack, request.orderId)).toEqual([]);
  // Ended for its customer, open for its checkout: the workflow waits for its deliveries.
  expect((await handle.describe()).status.name).toBe('RUNNING');
  await new Promise((resolve) => setTimeout(resolve, RECEIVER_DOWN_MS));
  await stack.refuseConnections('checkout', false);

  await stack.result(handle);
  expect(types(await receivedFor(stack, request.orderId))).toEqual([
    'order.awaiting_payment',
    'order.paid',
    'order.confirmed',
  ]);
  expect(await webhooksFailing(handle)).toBe(false);
}, 60_000);

test('a delivery whose answer is lost is sent again, and the receiver drops the repeat', async () => {
  // The endpoint takes each event, then answers after the worker has stopped waiting.
  const stack = await stackWith({ orderWebhooks: {}, httpTimeoutMs: 300 });
  const fault = await stack.callSandbox('/_sandbox/faults/order-webhooks', 'PUT', { kind: 'hang', ms: 600 });
  expect(fault.status).toBe(200);
  const request = makeOrder();
  const handle = await stack.startOrder(request);
  await eventually(
    () => receivedFor(stack, request.orderId),
    (events) => events.length === 1 && events[0]!.copies >= 2,
  );
  await stack.callSandbox('/_sandbox/faults/order-webhooks', 'DELETE');
  await stack.result(handle);
  const received = await receivedFor(stack, request.orderId);
  expect(types(received)).toEqual(['order.awaiting_payment', 'order.paid', 'order.confirmed']);
  expect(received[0]!.copies).toBeGreaterThanOrEqual(2);
}, 60_000);

test('a delivery signed with another secret is refused by the receiver; the order is flagged, not failed, and given up on it', async () => {
  const stack = await stackWith({
    orderWebhooks: { secret: ANOTHER_SECRET, flagAfterMs: 500, giveUpMs: 2_000 },
    // The customer pays after the endpoint was given up on, well inside the window.
    paymentWindowMs: 30_000,
  });
  const request = makeOrder({ payment: LOST_PAYMENT });
  const handle = await stack.startOrder(request);
  await eventually(
    () => webhooksFailing(handle),
    (failing) => failing === true,
  );
  // Past the budget the endpoint is given up on: the order's later changes are not even tried.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const refusedBefore = (await receiver(stack)).rejected;
  expect(refusedBefore).toBeGreaterThan(0);
  const view = (
    await stack.api('dev-checkout').GET('/orders/{orderId}', { params: { path: { orderId: request.orderId } } })
  ).data!;
  await stack.payAtLink(view);
  expect((await stack.result(handle)).status).toBe('CONFIRMED');
  expect((await receiver(stack)).rejected).toBe(refusedBefore);
  expect(await receivedFor(stack, request.orderId)).toEqual([]);
  expect(await webhooksFailing(handle)).toBe(true);
}, 60_000);

test('money that arrives while the endpoint is down goes back at once, not once the endpoint is back', async () => {
  const stack = await stackWith({ orderWebhooks: {} });
  await stack.refuseConnections('checkout', true);
  // Cancelled at once; its provider takes the money anyway, just after the payment window.
  const request = makeOrder({ payment: { method: 'card', token: 'tok_late' } });
  const handle = await stack.startOrder(request);
  await statusBecomes(stack, request.orderId, 'AWAITING_PAYMENT');
  await handle.signal(cancelOrderSignal, { by: 'customer' });
  await eventually(
    () => stack.ledger.snapshot().payments.find((payment) => payment.orderId === request.orderId)?.captured ?? 0,
    (captured) => captured > 0,
  );
  await eventually(
    () => netMoney(stack, request.orderId),
    (net) => net === 0,
  );
  // Still waiting for its checkout's endpoint, which has heard nothing yet.
  expect((await handle.describe()).status.name).toBe('RUNNING');
  expect(await receivedFor(stack, request.orderId)).toEqual([]);
  await stack.refuseConnections('checkout', false);
  await stack.result(handle);
  expect(types(await receivedFor(stack, request.orderId))).toEqual(['order.awaiting_payment', 'order.cancelled']);
}, 60_000);

test("a cancel through Temporal (support's) ends the order, never its deliveries: they arrive once the endpoint is back", async () => {
  const stack = await stackWith({ orderWebhooks: { flagAfterMs: 500 }, paymentWindowMs: 30_000 });
  await stack.refuseConnections('checkout', true);
  const request = makeOrder({ payment: LOST_PAYMENT });
  const handle = await stack.startOrder(request);
  await eventually(
    () => webhooksFailing(handle),
    (failing) => failing === true,
  );
  // The workflow's own cancellation, as support asks it in the Web UI: taken as a support cancel.
  await handle.cancel();
  await statusBecomes(stack, request.orderId, 'CANCELLED');
  await stack.refuseConnections('checkout', false);
  expect((await stack.result(handle)).status).toBe('CANCELLED');
  expect(types(await receivedFor(stack, request.orderId))).toEqual(['order.awaiting_payment', 'order.cancelled']);
});
