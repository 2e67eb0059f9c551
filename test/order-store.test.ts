import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensurePostgres, startPostgres } from '../stack/postgres';
import { OrderStore } from '../store/order-store';
import { eventually } from './helpers/stack';
import { placedOrder } from './helpers/stored-orders';
import { recordedEvent } from '../domain/order-record';
import { foldEvents } from '../domain/evolve';
import { toOrderView } from '../domain/order-state';
import { ANONYMISED_CUSTOMER_ID } from '../domain/personal-data';
import type { OrderEvent } from '../domain/schemas/order-events';

/**
 * The store of record's contract, on both of its databases: SQLite (the embedded default) and a private
 * PostgreSQL (the production shape's), each with its schema laid by the migrations.
 */
const workDir = mkdtempSync(path.join(os.tmpdir(), 'order-store-test-'));
// A folder of its own for PostgreSQL, which runs as its own user when the tests run as root.
const postgresDir = mkdtempSync(path.join(os.tmpdir(), 'order-store-postgres-'));
const log = createWriteStream(path.join(workDir, 'postgres.log'));
let postgres: Awaited<ReturnType<typeof startPostgres>> | undefined;
const urls: Record<'sqlite' | 'postgres', () => string> = {
  sqlite: () => `sqlite:${path.join(workDir, 'orders.db')}`,
  postgres: () => `postgres://temporal@127.0.0.1:${postgres!.port}/orders`,
};

beforeAll(async () => {
  const options = { workDir: postgresDir, log, say: () => undefined };
  postgres = await startPostgres(ensurePostgres(options), options);
  postgres.tool('createdb', ['orders']);
}, 120_000);
afterAll(() => {
  postgres?.stop();
  log.end();
  rmSync(workDir, { recursive: true, force: true });
  rmSync(postgresDir, { recursive: true, force: true });
});

let sequence = 0;
/** A new order of its own customer, each placed a second after the last (lists are newest first). */
function order() {
  sequence++;
  return placedOrder(
    { customer: { id: `c-store-${sequence}`, email: 'ada@example.com' } },
    new Date(Date.UTC(2026, 0, 1, 0, 0, sequence)),
  );
}

describe.each(['sqlite', 'postgres'] as const)('the store of record on %s', (kind) => {
  let store: OrderStore;
  beforeAll(async () => {
    store = await OrderStore.open(urls[kind]());
  });
  afterAll(() => store.close());

  test('its migrations run again at every start, changing nothing', async () => {
    const again = await OrderStore.open(urls[kind]());
    await again.close();
    expect(await store.claim(order().claim)).toBe(null);
  });

  test('an id is claimed once: a second claim gets what the store holds, whatever it brings', async () => {
    const { view, event } = order();
    const claim = {
      orderId: view.orderId,
      requestHash: 'first',
      events: [event(1)],
      view,
      lastSeq: 1,
    };
    expect(await store.claim(claim)).toBeNull();
    expect(await store.claim({ ...claim, requestHash: 'other' })).toEqual({
      view,
      requestHash: 'first',
      closed: false,
    });
  });

  test('a write made again, or late, never replaces a newer view; the last one closes the order', async () => {
    const { view, event } = order();
    const base = { orderId: view.orderId, requestHash: 'h' };
    const reserved = { ...view, status: 'RESERVED' as const };
    const paid = { ...view, status: 'PAID' as const };
    await store.record({ ...base, events: [event(1), event(2)], view: reserved, lastSeq: 2, closed: false });
    await store.record({ ...base, events: [event(3)], view: paid, lastSeq: 3, closed: false });
    // The first write again (a retried activity whose answer was lost): nothing moves back.
    await store.record({ ...base, events: [event(1), event(2)], view: reserved, lastSeq: 2, closed: false });
    expect(await store.find(view.orderId)).toEqual({ view: paid, requestHash: 'h', closed: false });
    await store.record({ ...base, events: [], view: paid, lastSeq: 3, closed: true });
    expect(await store.find(view.orderId)).toEqual({ view: paid, requestHash: 'h', closed: true });
    // The API's write of what the order answered its checkout, arriving after the end: the end stays.
    await store.recordAnswer({ ...base, events: [event(1), event(2)], view: reserved, lastSeq: 2, closed: false });
    expect(await store.find(view.orderId)).toEqual({ view: paid, requestHash: 'h', closed: true });
  });

  test('a workflow task run again after its worker was lost replaces what the lost run wrote, even the end', async () => {
    const { view, event } = order();
    const base = { orderId: view.orderId, requestHash: 'h' };
    const lostEnd = { ...view, status: 'CONFIRMED' as const, updatedAt: '2026-03-03T00:00:00.000Z' };
    await store.record({ ...base, events: [event(1), event(2), event(3)], view: lostEnd, lastSeq: 3, closed: true });
    const end = { ...view, status: 'CONFIRMED' as const, updatedAt: '2026-03-03T00:00:01.000Z' };
    const again = [event(1), event(2), { ...event(3), at: '2026-03-03T00:00:01.000Z' }];
    await store.record({ ...base, events: again, view: end, lastSeq: 3, closed: true });
    expect(await store.find(view.orderId)).toEqual({ view: end, requestHash: 'h', closed: true });
    expect(await store.events(view.orderId)).toEqual(again);
    expect((await store.events(view.orderId))!.map(({ seq }) => seq)).toEqual([1, 2, 3]);
  });

  test('a run again that took another way with fewer events than the lost run wrote: its end is the whole record', async () => {
    const { view, event } = order();
    const base = { orderId: view.orderId, requestHash: 'h' };
    const lost = { ...view, status: 'PAID' as const };
    await store.record({
      ...base,
      events: [event(1), event(2), event(3), event(4)],
      view: lost,
      lastSeq: 4,
      closed: false,
    });
    const end = { ...view, status: 'CANCELLED' as const };
    await store.record({ ...base, events: [event(1), event(2), event(3)], view: end, lastSeq: 3, closed: true });
    expect(await store.find(view.orderId)).toEqual({ view: end, requestHash: 'h', closed: true });
    expect((await store.events(view.orderId))!.map(({ seq }) => seq)).toEqual([1, 2, 3]);
  });

  test("the workflow's first event replaces the claim's (a start that failed, placed again later)", async () => {
    const { view, event, claim } = order();
    await store.claim(claim);
    const later = { ...event(1), at: '2026-02-02T00:00:00.000Z' };
    await store.record({ orderId: view.orderId, requestHash: 'h', events: [later], view, lastSeq: 1, closed: false });
    expect((await store.events(view.orderId))![0]!.at).toBe(later.at);
  });

  test('lists page newest first through every order of a filter once, and leave out a claim Temporal never took', async () => {
    const customerId = `c-list-${kind}-${Date.now()}`;
    const placed = [order(), order(), order()].map(({ view, event }) => ({ view: { ...view, customerId }, event }));
    for (const { view, event } of placed)
      await store.claim({ orderId: view.orderId, requestHash: 'h', events: [event(1)], view, lastSeq: 1 });
    expect((await store.list({ customerId }, 10, null)).views).toEqual([]);
    await store.markPlaced(placed[0]!.view.orderId);
    await store.recordAnswer({
      orderId: placed[1]!.view.orderId,
      requestHash: 'h',
      events: [placed[1]!.event(1), placed[1]!.event(2)],
      view: placed[1]!.view,
      lastSeq: 2,
      closed: false,
    });
    await store.record({
      orderId: placed[2]!.view.orderId,
      requestHash: 'h',
      events: [placed[2]!.event(2)],
      view: placed[2]!.view,
      lastSeq: 2,
      closed: false,
    });
    const first = await store.list({ customerId }, 2, null);
    const second = await store.list({ customerId }, 2, first.next);
    expect([...first.views, ...second.views].map(({ orderId }) => orderId)).toEqual(
      placed.map(({ view }) => view.orderId).reverse(),
    );
    expect(second.next).toBeNull();
    expect((await store.list({ customerId, status: 'CONFIRMED' }, 10, null)).views).toEqual([]);
    expect((await store.list({ customerId, needsAttention: false }, 10, null)).views).toHaveLength(3);
  });

  test('an order the store never heard of is recorded whole by one write, as the sweep of terminated orders makes', async () => {
    const { view, event } = order();
    const shown = { ...view, status: 'REQUIRES_ATTENTION' as const, needsAttention: true };
    const events = [event(1), event(2)];
    await store.record({ orderId: view.orderId, requestHash: null, events, view: shown, lastSeq: 2, closed: true });
    expect(await store.find(view.orderId)).toEqual({ view: shown, requestHash: null, closed: true });
    expect(await store.events(view.orderId)).toEqual(events);
    expect((await store.list({ needsAttention: true, customerId: view.customerId }, 10, null)).views).toEqual([shown]);
  });

  test("an erasure picks a customer's ended orders, or those that ended before a time; anonymised, they name nobody and keep the books", async () => {
    const customerId = `c-erase-${kind}-${Date.now()}`;
    const [ended, live] = [order(), order()].map(({ view, event }) => ({ view: { ...view, customerId }, event }));
    const note = recordedEvent(
      2,
      {
        type: 'OperatorAction',
        data: { action: 'retry-compensation', operator: 'sam', note: 'Ada called from 555-0100' },
      },
      ended!.view.createdAt,
    );
    const endedView = { ...ended!.view, status: 'CANCELLED' as const, updatedAt: '2026-01-02T00:00:00.000Z' };
    const events = [{ ...ended!.event(1), data: { ...ended!.event(1).data, customerId } } as OrderEvent, note];
    await store.record({
      orderId: ended!.view.orderId,
      requestHash: 'h',
      events,
      view: endedView,
      lastSeq: 2,
      closed: true,
    });
    await store.claim({
      orderId: live!.view.orderId,
      requestHash: 'h',
      events: [live!.event(1)],
      view: live!.view,
      lastSeq: 1,
    });

    expect(await store.endedOrders({ customerId }, 10, null)).toEqual([ended!.view.orderId]);
    expect(
      await store.endedOrders({ customerId, endedBefore: new Date('2026-01-02T00:00:00.000Z') }, 10, null),
    ).toEqual([]);
    expect(
      await store.endedOrders({ customerId, endedBefore: new Date('2026-01-03T00:00:00.000Z') }, 10, null),
    ).toEqual([ended!.view.orderId]);
    expect(await store.endedOrders({ customerId }, 10, ended!.view.orderId)).toEqual([]);
    expect(await store.liveOrders(customerId)).toBe(1);

    expect(await store.anonymise(live!.view.orderId)).toBe(false);
    expect(await store.anonymise(ended!.view.orderId)).toBe(true);
    expect(await store.find(ended!.view.orderId)).toEqual({
      view: { ...endedView, customerId: ANONYMISED_CUSTOMER_ID },
      requestHash: null,
      closed: true,
    });
    const kept = await store.events(ended!.view.orderId);
    expect(JSON.stringify(kept)).not.toMatch(new RegExp(`${customerId}|555-0100`));
    expect(kept).toEqual([
      { ...events[0], data: { ...events[0]!.data, customerId: ANONYMISED_CUSTOMER_ID } },
      { ...note, data: { ...note.data, note: '(anonymised)' } },
    ]);
    expect(await store.endedOrders({ customerId }, 10, null)).toEqual([]);

    expect(await store.forget(ended!.view.orderId)).toBe(true);
    expect(await store.forget(ended!.view.orderId)).toBe(false);
    expect([await store.find(ended!.view.orderId), await store.events(ended!.view.orderId)]).toEqual([null, null]);
  });

  test("what an ended order's money did since is added to its record once, its view folded again; not before its end", async () => {
    const { view, event, claim } = order();
    await store.claim(claim);
    const refused = {
      type: 'LateMoneyRefused',
      data: { provider: 'primary', paymentId: 'pay_late', message: 'refused' },
    } as const;
    const at = '2026-02-01T00:00:00.000Z';
    expect(await store.appendAfterEnd('T-unknown', refused, at)).toBe('no-order');
    // A claim whose start failed is no order; once Temporal holds it, the order has not ended yet.
    expect(await store.appendAfterEnd(view.orderId, refused, at)).toBe('no-order');
    await store.markPlaced(view.orderId);
    expect(await store.appendAfterEnd(view.orderId, refused, at)).toBe('not-ended');
    const cancelled = [
      event(1),
      recordedEvent(2, { type: 'CompensationStarted', data: { code: 'CANCELLED_BY_CUSTOMER', message: 'c' } }, at),
      recordedEvent(3, { type: 'OrderCancelled', data: {} }, at),
    ];
    const end = toOrderView(foldEvents(cancelled)!);
    await store.record({
      orderId: view.orderId,
      requestHash: 'h',
      events: cancelled,
      view: end,
      lastSeq: 3,
      closed: true,
    });

    expect(await store.appendAfterEnd(view.orderId, refused, at)).toBe('appended');
    expect(await store.appendAfterEnd(view.orderId, refused, '2026-02-02T00:00:00.000Z')).toBe('appended');
    expect((await store.events(view.orderId))!.map(({ seq, type }) => `${seq} ${type}`)).toEqual([
      '1 OrderReceived',
      '2 CompensationStarted',
      '3 OrderCancelled',
      '4 LateMoneyRefused',
    ]);
    expect(await store.find(view.orderId)).toMatchObject({
      view: { status: 'CANCELLED', needsAttention: true },
      closed: true,
    });
    expect((await store.list({ customerId: view.customerId, needsAttention: true }, 10, null)).views).toHaveLength(1);
    const refund = {
      type: 'PaymentRefunded',
      data: { provider: 'primary', paymentId: 'pay_late', amount: 3998, late: true },
    } as const;
    expect(await store.appendAfterEnd(view.orderId, refund, at)).toBe('appended');
    expect(await store.find(view.orderId)).toMatchObject({ view: { needsAttention: false, updatedAt: at } });
  });

  test('the orders placed in a span of time that have not ended, oldest first', async () => {
    const [first, second, closed] = [order(), order(), order()];
    for (const { claim } of [first!, second!, closed!]) await store.claim(claim);
    await store.record({
      orderId: closed!.view.orderId,
      requestHash: 'h',
      events: [],
      view: closed!.view,
      lastSeq: 1,
      closed: true,
    });
    const from = new Date(first!.view.createdAt);
    const until = new Date(new Date(closed!.view.createdAt).getTime() + 1);
    expect(await store.openOrders(from, until)).toEqual([first!.view.orderId, second!.view.orderId]);
    expect(await store.openOrders(from, new Date(second!.view.createdAt))).toEqual([first!.view.orderId]);
  });
});

test('a PostgreSQL that restarts under the store is used again once it is back', async () => {
  const store = await OrderStore.open(urls.postgres());
  try {
    const { view, claim } = order();
    await store.claim(claim);
    postgres!.stop();
    await expect(store.find(view.orderId)).rejects.toThrow();
    postgres!.start();
    // Each pooled connection the restart closed fails its next query once; then the store answers again.
    const found = await eventually(
      () => store.find(view.orderId).catch(() => null),
      (stored) => stored !== null,
    );
    expect(found!.view).toEqual(view);
  } finally {
    await store.close();
  }
}, 60_000);
