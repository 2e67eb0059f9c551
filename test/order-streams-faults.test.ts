import { EventEmitter } from 'node:events';
import type { Response } from 'express';
import { LOOKBACK_MS, OrderStreams, STALLED_BYTES, type OrderReader } from '../api/order-streams';
import { statusEventsOf } from '../domain/status-events';
import type { OrderEvent, OrderEventBody } from '../domain/schemas/order-events';
import { eventually } from './helpers/stack';

/**
 * What the live streams do when what they stand on fails: Temporal not answering mid-stream, a history read
 * that fails, a client that stops reading. The stream tests on the real stack (order-stream.test.ts) cover
 * the way streams work; these faults are made here, with the reader and the response as the stand-ins.
 */

const POLL_MS = 20;
const HEARTBEAT_MS = 20;
const ORDER_ID = 'A-1';
const payment = { provider: 'primary', paymentId: 'pay_1' };
const AT_PAYMENT_LINK: OrderEventBody[] = [
  {
    type: 'OrderReceived',
    data: {
      orderId: ORDER_ID,
      customerId: 'c-1',
      currency: 'EUR',
      items: [{ sku: 'SKU-TEE', quantity: 1, unitPrice: 1999 }],
    },
  },
  { type: 'OrderValidated', data: { total: 1999 } },
  { type: 'StockReserved', data: {} },
  { type: 'PaymentRequested', data: { ...payment, amount: 1999, checkoutUrl: 'http://pay' } },
];
const PAID: OrderEventBody = { type: 'PaymentSucceeded', data: { ...payment, eventId: 'evt_1' } };
const CONFIRMED: OrderEventBody = { type: 'OrderConfirmed', data: { fulfillmentId: 'ful_1' } };

/** An order's history as Temporal would hold it, and switches that make reading it fail. */
class FlakyReader implements OrderReader {
  readonly log: OrderEvent[] = [];
  temporalDown = false;
  private closedAt: Date | null = null;
  failedHistoryReads = 0;
  historyReadsToFail = 0;

  constructor(bodies: OrderEventBody[]) {
    for (const body of bodies) this.append(body);
  }

  /** Appends an event at the clock's time, a millisecond after the last at least (a workflow's event times increase). */
  append(body: OrderEventBody): void {
    const last = this.log.length > 0 ? Date.parse(this.log[this.log.length - 1]!.at) : 0;
    const at = new Date(Math.max(Date.now(), last + 1)).toISOString();
    this.log.push({ seq: this.log.length + 1, at, ...body } as OrderEvent);
  }

  async events(orderId: string): Promise<OrderEvent[] | null> {
    if (this.temporalDown) throw new Error('14 UNAVAILABLE: connection refused');
    if (this.historyReadsToFail > 0) {
      this.historyReadsToFail -= 1;
      this.failedHistoryReads += 1;
      throw new Error('4 DEADLINE_EXCEEDED');
    }
    return orderId === ORDER_ID ? [...this.log] : null;
  }

  /** As visibility answers: the order, when its status last changed at `since` or later. */
  async statusChangedSince(since: Date): Promise<Map<string, Date>> {
    if (this.temporalDown) throw new Error('14 UNAVAILABLE: connection refused');
    const changedAt = new Date(statusEventsOf(this.log).at(-1)!.createdAt);
    return new Map(changedAt >= since ? [[ORDER_ID, changedAt]] : []);
  }

  async closedOtherwiseSince(since: Date): Promise<Set<string>> {
    if (this.temporalDown) throw new Error('14 UNAVAILABLE: connection refused');
    return new Set(this.closedAt && this.closedAt >= since ? [ORDER_ID] : []);
  }

  /** Closes the workflow, whatever its last status (terminated by an operator, say). */
  close(): void {
    this.closedAt = new Date();
  }
}

/** The parts of an express response a stream uses; `writableLength` is what the client has not read yet. */
class ClientResponse extends EventEmitter {
  text = '';
  ended = false;
  destroyed = false;
  writableLength = 0;
  status() {
    return this;
  }
  set() {
    return this;
  }
  flushHeaders(): void {}
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
  end(): void {
    this.ended = true;
    this.emit('close');
  }
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
  asResponse(): Response {
    return this as unknown as Response;
  }
}

const streamsOver = (reader: OrderReader, max = 10) =>
  new OrderStreams(reader, { pollMs: POLL_MS, heartbeatMs: HEARTBEAT_MS, max });
const heartbeats = (client: ClientResponse) => client.text.split(': heartbeat').length - 1;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let streams: OrderStreams | undefined;
afterEach(() => streams?.endAll());

test('Temporal lost mid-stream: the stream stays open on its heartbeats, and tells the change once Temporal answers', async () => {
  const reader = new FlakyReader(AT_PAYMENT_LINK);
  streams = streamsOver(reader);
  const client = new ClientResponse();
  expect(await streams.open(ORDER_ID, null, client.asResponse())).toBe('open');

  // A few polls first: the stream's watch has read the history and now waits for visibility's news.
  await sleep(POLL_MS * 5);
  reader.temporalDown = true;
  reader.append(PAID);
  // Down for longer than a poll looks back: the first poll it answers must still ask from before the outage.
  await sleep(LOOKBACK_MS + POLL_MS * 10);
  expect(client.text).not.toContain('event: order.paid');
  expect(client.ended || client.destroyed).toBe(false);
  expect(heartbeats(client)).toBeGreaterThan(0);

  reader.temporalDown = false;
  await eventually(
    async () => client.text,
    (text) => text.includes('event: order.paid'),
  );
  reader.append(CONFIRMED);
  await eventually(
    async () => client.ended,
    (ended) => ended,
  );
  expect(client.text).toContain('event: order.confirmed');
});

test('a history read that fails is read again at the next poll, and the change is told once', async () => {
  const reader = new FlakyReader(AT_PAYMENT_LINK);
  streams = streamsOver(reader);
  const client = new ClientResponse();
  expect(await streams.open(ORDER_ID, null, client.asResponse())).toBe('open');

  reader.historyReadsToFail = 2;
  reader.append(PAID);
  await eventually(
    async () => client.text,
    (text) => text.includes('event: order.paid'),
  );
  expect(reader.failedHistoryReads).toBe(2);
  await sleep(POLL_MS * 5);
  expect(client.text.split('event: order.paid').length - 1).toBe(1);
  expect(client.ended).toBe(false);
});

test('a client that stops reading is cut off at the next heartbeat, and its place is free for another', async () => {
  const reader = new FlakyReader(AT_PAYMENT_LINK);
  streams = streamsOver(reader, 1);
  const stalled = new ClientResponse();
  expect(await streams.open(ORDER_ID, null, stalled.asResponse())).toBe('open');
  expect(await streams.open(ORDER_ID, null, new ClientResponse().asResponse())).toBe('full');

  stalled.writableLength = STALLED_BYTES + 1;
  await eventually(
    async () => stalled.destroyed,
    (destroyed) => destroyed,
  );
  const reading = new ClientResponse();
  expect(await streams.open(ORDER_ID, null, reading.asResponse())).toBe('open');
  reading.writableLength = STALLED_BYTES;
  await eventually(
    async () => heartbeats(reading),
    (count) => count > 1,
  );
  expect(reading.destroyed).toBe(false);
});

test('a workflow closed by hand at a status that is not terminal (terminated) ends its streams: nothing more will come', async () => {
  const reader = new FlakyReader(AT_PAYMENT_LINK);
  streams = streamsOver(reader);
  const client = new ClientResponse();
  expect(await streams.open(ORDER_ID, null, client.asResponse())).toBe('open');
  await sleep(POLL_MS * 5);
  expect(client.ended).toBe(false);

  reader.close();
  // Closes are asked about every 10 s, not at every poll.
  await eventually(
    async () => client.ended,
    (ended) => ended,
    15_000,
  );
});
