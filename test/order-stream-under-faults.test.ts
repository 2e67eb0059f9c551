import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { createHardenedServer } from '../api/http-server';
import { createApp } from '../api/server';
import { orderWorkflowId } from '../domain/contract';
import type { OrderView } from '../domain/order-state';
import { DevServerProcess } from '../stack/dev-server-process';
import { closeServer, freePort } from '../stack/parts';
import { ensureTemporalCli } from '../stack/temporal-cli';
import { auth, LOST_PAYMENT, listenAt, makeOrder, startStack, TEST_API_KEYS, type TestStack } from './helpers/stack';
import { SseReader, type SseBlock } from './helpers/sse';

/**
 * A live stream tells every status change of its order whatever else fails: the checkout's webhook endpoint
 * down, the worker down, Temporal restarted, the API restarted. The stand-in faults (a failed read, a client
 * that stops reading) are in order-streams-faults.test.ts.
 */

/** The stacks' stream poll (test/helpers/stack.ts) plus a second: a change reaches its stream within it. */
const NEWS_WITHIN_MS = 250 + 1_000;

const streams: SseReader[] = [];
afterEach(() => {
  for (const stream of streams.splice(0)) stream.close();
});

/** An order at its payment link on `stack`, followed live from `apiUrl` (the stack's API unless another). */
async function placeAndFollow(
  stack: TestStack,
  { apiUrl = stack.apiUrl, lastEventId }: { apiUrl?: string; lastEventId?: string } = {},
): Promise<{ view: OrderView; stream: SseReader }> {
  const placed = await stack.api('dev-checkout').POST('/orders', { body: makeOrder({ payment: LOST_PAYMENT }) });
  expect(placed.response.status).toBe(201);
  const view = placed.data as OrderView;
  return { view, stream: await follow(view.orderId, apiUrl, lastEventId) };
}

async function follow(orderId: string, apiUrl: string, lastEventId?: string): Promise<SseReader> {
  const headers = { ...auth('dev-checkout'), ...(lastEventId ? { 'last-event-id': lastEventId } : {}) };
  const { response, stream } = await SseReader.open(`${apiUrl}/orders/${orderId}/stream`, headers);
  expect(response.status).toBe(200);
  streams.push(stream!);
  return stream!;
}

/** The stream's next event, which must come within the poll plus a second of the change. */
const news = (stream: SseReader): Promise<SseBlock | null> => stream.nextEvent(NEWS_WITHIN_MS);

/** Paid and confirmed, each within the bound, then the end: the story of a paid order on its stream. */
async function expectPaidConfirmedEnd(stream: SseReader): Promise<void> {
  expect((await news(stream))?.event).toBe('order.paid');
  expect((await news(stream))?.event).toBe('order.confirmed');
  expect(await news(stream)).toBeNull();
}

/** Each way a checkout's webhook receiver can be down while its order goes on. */
const ENDPOINT_DOWN: Record<string, (stack: TestStack) => Promise<unknown>> = {
  refusing: (stack) => stack.refuseConnections('checkout', true),
  hanging: (stack) => stack.callSandbox('/_sandbox/faults/order-webhooks', 'PUT', { kind: 'hang', ms: 60_000 }),
  'answering 500': (stack) =>
    stack.callSandbox('/_sandbox/faults/order-webhooks', 'PUT', { kind: 'status', status: 500 }),
};

// The order stays open after its last change while its deliveries are retried: its stream must not wait for that.
describe.each(Object.keys(ENDPOINT_DOWN))('with the order webhook endpoint %s', (fault) => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ orderWebhooks: { flagAfterMs: 500 }, httpTimeoutMs: 1_000 });
    await ENDPOINT_DOWN[fault]!(stack);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('a paid order tells paid and confirmed as they happen, then ends', async () => {
    const { view, stream } = await placeAndFollow(stack);
    expect((await stream.nextEvent())?.event).toBe('order');
    await stack.payAtLink(view);
    await expectPaidConfirmedEnd(stream);
  });

  test('a cancelled order tells its cancellation, then ends', async () => {
    const { view, stream } = await placeAndFollow(stack);
    expect((await stream.nextEvent())?.event).toBe('order');
    const cancel = await stack.api('dev-checkout').POST('/orders/{orderId}/cancel', {
      params: { path: { orderId: view.orderId } },
      body: { reason: 'changed my mind' },
    });
    expect(cancel.response.status).toBe(200);
    expect((await news(stream))?.event).toBe('order.cancelled');
    expect(await news(stream)).toBeNull();
  });
});

describe('with the stack’s own faults', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ streamHeartbeatMs: 300 });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('worker down: the stream keeps its heartbeats and tells the payment once a worker takes it', async () => {
    const { view, stream } = await placeAndFollow(stack);
    expect((await stream.nextEvent())?.event).toBe('order');
    await stack.stopWorker();
    try {
      // The callback is recorded in Temporal; nobody runs it yet, and the stream says nothing but that it lives.
      await stack.payAtLink(view);
      expect(await stream.next(1_500)).toEqual({ comment: 'heartbeat' });
      expect(await stream.next(1_500)).toEqual({ comment: 'heartbeat' });
    } finally {
      await stack.startWorker();
    }
    await expectPaidConfirmedEnd(stream);
  });

  test('an order whose workflow is terminated by hand: its stream ends, as nothing more will come', async () => {
    const { view, stream } = await placeAndFollow(stack);
    expect((await stream.nextEvent())?.event).toBe('order');
    await stack.client.workflow.getHandle(orderWorkflowId(view.orderId)).terminate('a test of its stream');
    // Closes are asked about every 10 s (api/order-streams.ts), and the stream's heartbeats go on meanwhile.
    expect(await stream.nextEvent(15_000)).toBeNull();
  }, 30_000);

  test('API restarted: its streams end with it, and a client that resumes with Last-Event-ID on another gets what it missed', async () => {
    const { view, stream } = await placeAndFollow(stack);
    const first = await stream.nextEvent();
    expect(first?.event).toBe('order');
    stack.app.stopBackground();
    expect(await stream.nextEvent()).toBeNull();

    await stack.payAtLink(view);
    // Another API process in all that matters: an app of its own, with streams of its own.
    const server = createHardenedServer(
      createApp({
        client: stack.client,
        store: stack.store,
        config: { ...stack.settingsForApp(), apiKeys: TEST_API_KEYS },
        codec: stack.codec,
      }),
    );
    try {
      const resumed = await follow(view.orderId, await listenAt(server), first!.id);
      const told: (string | undefined)[] = [];
      for (let block = await resumed.nextEvent(); block; block = await resumed.nextEvent()) told.push(block.event);
      // Every change it missed, once, in order, and the order as it is (after them, or between them when the
      // order was still going on as the stream opened), then the end.
      expect(told.filter((event) => event !== 'order')).toEqual(['order.paid', 'order.confirmed']);
      expect(told.filter((event) => event === 'order')).toHaveLength(1);
    } finally {
      server.closeAllConnections();
      await closeServer(server);
    }
  });
});

test('Temporal restarted: the stream stays open through the outage and tells the payment made after it', async () => {
  const cli = await ensureTemporalCli(() => {});
  if (!cli) throw new Error('no Temporal CLI');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'stream-restart-'));
  const server = new DevServerProcess(cli, { port: await freePort(), dbFile: path.join(dataDir, 'temporal.db') });
  await server.start();
  // The order waits at its payment link through the outage: with the stacks' 3 s window, a restart that
  // took longer on a busy machine let the window close first, and the payment was voided before it was made.
  const stack = await startStack({ temporalAddress: server.address, streamHeartbeatMs: 300, paymentWindowMs: 120_000 });
  try {
    const { view, stream } = await placeAndFollow(stack);
    expect((await stream.nextEvent())?.event).toBe('order');
    await server.stop();
    // Down: every poll fails, and the stream stays open on its heartbeats.
    for (let beat = 0; beat < 3; beat++) expect(await stream.next(1_500)).toEqual({ comment: 'heartbeat' });
    await server.start();
    await stack.payAtLink(view);
    await expectPaidConfirmedEnd(stream);
  } finally {
    await stack.stop();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 90_000);
