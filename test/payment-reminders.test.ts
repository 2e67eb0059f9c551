import { cancelOrderSignal, getEventsQuery, getOrderQuery } from '../domain/contract';
import type { OrderView } from '../domain/order-state';
import { reminderSchedule } from '../domain/payment-reminders';
import type { StatusEvent } from '../domain/status-events';
import {
  auth,
  eventAt,
  atPaymentLink,
  eventTypes,
  eventually,
  LOST_PAYMENT,
  makeOrder,
  startStack,
  type TestStack,
} from './helpers/stack';
import { SseReader } from './helpers/sse';

/**
 * Payment reminders through the real stack: the saga, the worker, the sandbox's notification service and
 * its checkout's webhook endpoint, the API's live stream. The window is 4 s, the reminder at its half.
 */
const WINDOW_MS = 4_000;
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({
    paymentWindowMs: WINDOW_MS,
    paymentReminders: reminderSchedule(['50%'], WINDOW_MS),
    orderWebhooks: {},
  });
});
afterAll(async () => {
  await stack?.stop();
});

const notificationsOf = (orderId: string) =>
  stack.ledger.snapshot().notifications.filter((key) => key.includes(`/${orderId}`));

test('an order left at its payment link is reminded once, at its point, with the link, then cancelled', async () => {
  const request = makeOrder({ payment: LOST_PAYMENT });
  const handle = await stack.startOrder(request);
  const view = await stack.result(handle);
  expect(view).toMatchObject({ status: 'CANCELLED', reason: { code: 'PAYMENT_TIMEOUT' } });
  const events = await handle.query(getEventsQuery);
  const reminders = events.filter((event) => event.type === 'PaymentReminderSent');
  expect(reminders.map((event) => event.data)).toEqual([
    {
      provider: 'primary',
      paymentId: view.payment!.paymentId,
      point: '50%',
      closesAt: expect.any(String),
    },
  ]);
  // At half the window after the link, and before the window closed.
  const afterLinkMs = Date.parse(reminders[0]!.at) - eventAt(events, 'PaymentRequested');
  expect(afterLinkMs).toBeGreaterThanOrEqual(WINDOW_MS / 2);
  expect(afterLinkMs).toBeLessThan(WINDOW_MS);
  expect(Date.parse(reminders[0]!.at)).toBeLessThan(eventAt(events, 'PaymentWindowExpired'));
  expect(notificationsOf(request.orderId).sort()).toEqual(
    [`order-cancelled/${request.orderId}`, `payment-reminder/${request.orderId}/50%`].sort(),
  );
});

test('an order paid at once is never reminded', async () => {
  const request = makeOrder();
  const view = await stack.result(await stack.startOrder(request));
  expect(view.status).toBe('CONFIRMED');
  expect(notificationsOf(request.orderId)).toEqual([`order-confirmed/${request.orderId}`]);
});

test('a customer who pays after the reminder gets the order confirmed, and is not reminded again', async () => {
  const request = makeOrder({ payment: LOST_PAYMENT });
  const handle = await stack.startOrder(request);
  await eventually(
    () => eventTypes(handle),
    (types) => types.includes('PaymentReminderSent'),
  );
  await stack.payAtLink((await handle.query(getOrderQuery)) as OrderView);
  const view = await stack.result(handle);
  expect(view.status).toBe('CONFIRMED');
  expect((await eventTypes(handle)).filter((type) => type === 'PaymentReminderSent')).toHaveLength(1);
});

test('a notification service that is down: no reminder, and the order ends as it would have, on time', async () => {
  const request = makeOrder({ payment: LOST_PAYMENT });
  await stack.refuseConnections('notifications', true);
  try {
    const handle = await stack.startOrder(request);
    const view = await stack.result(handle);
    expect(view).toMatchObject({ status: 'CANCELLED', reason: { code: 'PAYMENT_TIMEOUT' } });
    const events = await handle.query(getEventsQuery);
    expect(events.map((event) => event.type)).not.toContain('PaymentReminderSent');
    // The window closed when it was due: the reminder's retries held nothing up.
    expect(eventAt(events, 'PaymentWindowExpired') - eventAt(events, 'PaymentRequested')).toBeLessThan(
      WINDOW_MS + 1_000,
    );
  } finally {
    await stack.refuseConnections('notifications', false);
  }
  expect(notificationsOf(request.orderId)).toEqual([]);
});

test("the checkout hears of the reminder: its order webhook and the order's live stream, between the link and the end", async () => {
  const request = makeOrder({ payment: LOST_PAYMENT });
  const placed = await stack.api('dev-checkout').POST('/orders', { body: request });
  expect(placed.response.status).toBe(201);
  const { stream } = await SseReader.open(`${stack.apiUrl}/orders/${request.orderId}/stream`, auth('dev-checkout'));
  const heard: string[] = [];
  try {
    for (let block = await stream!.nextEvent(); block; block = await stream!.nextEvent()) heard.push(block.event!);
  } finally {
    stream!.close();
  }
  expect(heard).toEqual(['order', 'order.payment_reminder_sent', 'order.cancelled']);
  const received = await eventually(
    async () => {
      const { received } = (await (await stack.callSandbox('/_sandbox/order-webhooks', 'GET')).json()) as {
        received: (Pick<StatusEvent, 'type'> & { orderId: string })[];
      };
      return received.filter((event) => event.orderId === request.orderId).map((event) => event.type);
    },
    (types) => types.includes('order.cancelled'),
  );
  expect(received).toEqual(['order.awaiting_payment', 'order.payment_reminder_sent', 'order.cancelled']);
});

test('an order cancelled before its reminder is due is never reminded', async () => {
  const request = makeOrder({ payment: LOST_PAYMENT });
  const handle = await stack.startOrder(request);
  await atPaymentLink(handle);
  await handle.signal(cancelOrderSignal, { by: 'customer' });
  expect((await stack.result(handle)).status).toBe('CANCELLED');
  // The workflow completed before the point the reminder would have fallen on: nothing can send it now.
  const events = await handle.query(getEventsQuery);
  expect(eventAt(events, 'OrderCancelled') - eventAt(events, 'PaymentRequested')).toBeLessThan(WINDOW_MS / 2);
  expect(events.map((event) => event.type)).not.toContain('PaymentReminderSent');
  expect(notificationsOf(request.orderId)).toEqual([`order-cancelled/${request.orderId}`]);
});

test('a reminder whose answer comes after the order was paid is still heard by the checkout before the order completes', async () => {
  const request = makeOrder({ payment: LOST_PAYMENT });
  // The notification service takes the reminder (due at 2 s) but answers it 2.5 s later; the order's other
  // notifications, once it is paid, are answered at once.
  await stack.callSandbox('/_sandbox/faults/notifications', 'PUT', { kind: 'hang', ms: 2_500 });
  let handle;
  try {
    handle = await stack.startOrder(request);
    await atPaymentLink(handle!);
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MS / 2 + 300));
  } finally {
    await stack.callSandbox('/_sandbox/faults/notifications', 'DELETE');
  }
  await stack.payAtLink((await handle.query(getOrderQuery)) as OrderView);
  expect((await stack.result(handle)).status).toBe('CONFIRMED');
  const events = await handle.query(getEventsQuery);
  expect(events.map((event) => event.type).slice(-2)).toEqual(['OrderConfirmed', 'PaymentReminderSent']);
  const { received } = (await (await stack.callSandbox('/_sandbox/order-webhooks', 'GET')).json()) as {
    received: (Pick<StatusEvent, 'type'> & { orderId: string })[];
  };
  expect(received.filter((event) => event.orderId === request.orderId).map((event) => event.type)).toEqual([
    'order.awaiting_payment',
    'order.paid',
    'order.confirmed',
    'order.payment_reminder_sent',
  ]);
});
