import { isTerminal, type OrderView } from '../domain/order-state';
import type { StatusEvent } from '../domain/status-events';
import { auth, eventually, LOST_PAYMENT, makeOrder, startStack, type TestStack } from './helpers/stack';
import { SseReader, type SseBlock } from './helpers/sse';

/** Short, so a test sees a heartbeat within a second (the default is 15 s). */
const HEARTBEAT_MS = 300;

let stack: TestStack;
const streams: SseReader[] = [];
beforeAll(async () => {
  stack = await startStack({ streamHeartbeatMs: HEARTBEAT_MS });
});
afterEach(() => {
  for (const stream of streams.splice(0)) stream.close();
});
afterAll(async () => {
  await stack?.stop();
});

/** Places an order whose customer has not paid yet: it waits at its payment link. */
async function orderAtPaymentLink(): Promise<OrderView> {
  const { data, response } = await stack
    .api('dev-checkout')
    .POST('/orders', { body: makeOrder({ payment: LOST_PAYMENT }) });
  expect(response.status).toBe(201);
  return data as OrderView;
}

async function openStream(orderId: string, headers: Record<string, string> = {}) {
  const opened = await SseReader.open(`${stack.apiUrl}/orders/${orderId}/stream`, {
    ...auth('dev-checkout'),
    ...headers,
  });
  if (opened.stream) streams.push(opened.stream);
  return opened;
}

/** A client that took the stream's first event and went away (a closed tab, a lost connection). */
async function firstEventThenGone(orderId: string): Promise<SseBlock | null> {
  const { stream } = await openStream(orderId);
  const first = await stream!.nextEvent();
  stream!.close();
  return first;
}

const data = <T>(block: SseBlock | null) => JSON.parse(block!.data!) as T;

test('the order as it is at once, then each status change as it happens; the stream ends at a terminal status', async () => {
  const view = await orderAtPaymentLink();
  const { response, stream } = await openStream(view.orderId);
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const current = await stream!.nextEvent();
  expect(current).toMatchObject({ event: 'order' });
  expect(data<OrderView>(current)).toMatchObject({ orderId: view.orderId, status: 'AWAITING_PAYMENT' });

  await stack.payAtLink(view);
  const paid = await stream!.nextEvent();
  const confirmed = await stream!.nextEvent();
  expect([paid?.event, confirmed?.event]).toEqual(['order.paid', 'order.confirmed']);
  expect(data<StatusEvent>(confirmed)).toMatchObject({ type: 'order.confirmed', data: { status: 'CONFIRMED' } });
  // Ids are the numbers of the domain events behind them: increasing.
  expect(Number(paid!.id)).toBeGreaterThan(Number(current!.id));
  expect(Number(confirmed!.id)).toBeGreaterThan(Number(paid!.id));
  expect(await stream!.nextEvent()).toBeNull();
});

test('a client that reconnects with Last-Event-ID gets the changes it missed, then the order as it is', async () => {
  const view = await orderAtPaymentLink();
  const seen = await firstEventThenGone(view.orderId);

  await stack.payAtLink(view);
  // Until the order has ended, so the resumed stream has two changes to catch up on.
  const { stream } = await eventuallyTerminal(view.orderId).then(() =>
    openStream(view.orderId, { 'last-event-id': seen!.id! }),
  );
  const blocks = [await stream!.nextEvent(), await stream!.nextEvent(), await stream!.nextEvent()];
  expect(blocks.map((block) => block?.event)).toEqual(['order.paid', 'order.confirmed', 'order']);
  expect(data<OrderView>(blocks[2]!).status).toBe('CONFIRMED');
  expect(await stream!.nextEvent()).toBeNull();
});

test('a client that reconnects while the order goes on gets the order as it is, then the changes as they come', async () => {
  const view = await orderAtPaymentLink();
  const seen = await firstEventThenGone(view.orderId);

  const { stream } = await openStream(view.orderId, { 'last-event-id': seen!.id! });
  const current = await stream!.nextEvent();
  expect(current).toMatchObject({ event: 'order', id: seen!.id });
  await stack.payAtLink(view);
  expect([(await stream!.nextEvent())?.event, (await stream!.nextEvent())?.event]).toEqual([
    'order.paid',
    'order.confirmed',
  ]);
  expect(await stream!.nextEvent()).toBeNull();
});

test('an idle stream gets a heartbeat comment', async () => {
  const view = await orderAtPaymentLink();
  const { stream } = await openStream(view.orderId);
  await stream!.nextEvent();
  expect(await stream!.next(HEARTBEAT_MS * 5)).toEqual({ comment: 'heartbeat' });
});

test('a stream of an order that has ended gives its view and ends', async () => {
  const view = await orderAtPaymentLink();
  await stack.payAtLink(view);
  await eventuallyTerminal(view.orderId);
  const { stream } = await openStream(view.orderId);
  expect(data<OrderView>(await stream!.nextEvent()).status).toBe('CONFIRMED');
  expect(await stream!.nextEvent()).toBeNull();
});

test('refusals: an unknown order is a 404 problem, no token a 401, a Last-Event-ID that is no event number a 400', async () => {
  const unknown = await openStream('no-such-order');
  expect(unknown.response.status).toBe(404);
  expect(unknown.response.headers.get('content-type')).toMatch(/application\/problem\+json/);

  const view = await orderAtPaymentLink();
  const anonymous = await SseReader.open(`${stack.apiUrl}/orders/${view.orderId}/stream`, {});
  expect(anonymous.response.status).toBe(401);
  const badResume = await openStream(view.orderId, { 'last-event-id': 'yesterday' });
  expect(badResume.response.status).toBe(400);
  expect(await badResume.response.json()).toMatchObject({ errors: [{ path: 'Last-Event-ID' }] });
});

describe('with no worker running', () => {
  let idle: TestStack;
  beforeAll(async () => {
    idle = await startStack({ worker: false });
  });
  afterAll(async () => {
    await idle?.stop();
  });

  test('the stream shows what the server knows, and goes on once a worker runs the order', async () => {
    const order = makeOrder({ payment: LOST_PAYMENT });
    const placed = await idle.api('dev-checkout').POST('/orders', { body: order });
    expect(placed.response.status).toBe(202);
    const opened = await SseReader.open(`${idle.apiUrl}/orders/${order.orderId}/stream`, auth('dev-checkout'));
    streams.push(opened.stream!);
    expect(data<OrderView>(await opened.stream!.nextEvent()).status).toBe('RECEIVED');

    await idle.startWorker();
    const next = await opened.stream!.nextEvent(20_000);
    expect(next?.event).toBe('order.awaiting_payment');
    expect(data<StatusEvent>(next).data.payment?.checkoutUrl).toBeTruthy();
  }, 40_000);
});

/** Until the order has ended, as a checkout polling it would see. */
async function eventuallyTerminal(orderId: string): Promise<void> {
  await eventually(
    async () => (await stack.api('dev-support').GET('/orders/{orderId}', { params: { path: { orderId } } })).data,
    (view) => view !== undefined && isTerminal(view.status),
  );
}

test('an API with as many streams open as it keeps refuses the next with a 503 and Retry-After, until one ends', async () => {
  const small = await startStack({ maxStreams: 1 });
  try {
    const order = makeOrder({ payment: LOST_PAYMENT });
    expect((await small.api('dev-checkout').POST('/orders', { body: order })).response.status).toBe(201);
    const url = `${small.apiUrl}/orders/${order.orderId}/stream`;
    const first = await SseReader.open(url, auth('dev-checkout'));
    streams.push(first.stream!);
    await first.stream!.nextEvent();
    const refused = await SseReader.open(url, auth('dev-checkout'));
    expect(refused.response.status).toBe(503);
    expect(refused.response.headers.get('retry-after')).toBeTruthy();
    expect(await refused.response.json()).toMatchObject({ title: 'Too many streams' });

    first.stream!.close();
    const again = await eventually(
      () => SseReader.open(url, auth('dev-checkout')),
      (opened) => opened.response.status === 200,
    );
    streams.push(again.stream!);
    expect((await again.stream!.nextEvent())?.event).toBe('order');
  } finally {
    await small.stop();
  }
});
