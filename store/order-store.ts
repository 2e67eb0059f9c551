import type { Kysely } from 'kysely';
import type { OrderEvent, OrderEventBody } from '../domain/schemas/order-events';
import { foldEvents } from '../domain/evolve';
import { recordedEvent } from '../domain/order-record';
import { toOrderView } from '../domain/order-state';
import { OrderView } from '../domain/schemas/order-state';
import { anonymisedEvent, anonymisedView } from '../domain/personal-data';
import { openDatabase, storeLocation } from './dialects';
import { migrateToLatest } from './migrations';
import type { StoreTables } from './tables';

/** An order as the store holds it. */
export interface StoredOrder {
  view: OrderView;
  requestHash: string | null;
  /** The workflow recorded its last view: Temporal may have forgotten the order since, the store has not. */
  closed: boolean;
}

/** What a list of orders is filtered by (docs/API.md, "Listing orders"). */
export interface OrderFilter {
  customerId?: string;
  status?: string;
  needsAttention?: boolean;
}

/** What an erasure picks among ended orders: a customer's, those that ended before a time, or both. */
export interface ErasureFilter {
  customerId?: string;
  endedBefore?: Date;
}

/** Where a page of a list starts: after this order, newest first. */
export interface PagePosition {
  createdAt: string;
  orderId: string;
}

/** One write of the workflow's record: the events since its last write, the view they led to. */
export interface OrderRecord {
  orderId: string;
  requestHash: string | null;
  events: OrderEvent[];
  view: OrderView;
  /** The seq of the newest event folded into `view` (the log's length: `events` may be none of them). */
  lastSeq: number;
  /** The last write, made just before the workflow completes. */
  closed: boolean;
}

/** How often a migration that met another process's is tried again (the API and the worker start together). */
const MIGRATION_TRIES = 5;
const MIGRATION_RETRY_MS = 200;

/**
 * The store of record: every order's view and event log, kept for good beside Temporal, which forgets a
 * closed workflow after its namespace's retention. The workflow writes it (activities/order-record.ts), the
 * API places an order's id in it first and reads from it what Temporal no longer holds.
 *
 * Every write is idempotent: events are keyed by order and seq, and a view never replaces a newer one, so a
 * write made again (a retried activity, a workflow task run twice) changes nothing.
 */
export class OrderStore {
  private constructor(private readonly db: Kysely<StoreTables>) {}

  /** Opens the store at `url` (`ORDER_STORE_URL`) and brings its schema to the latest version. */
  static async open(url: string): Promise<OrderStore> {
    const db = openDatabase(storeLocation(url));
    try {
      for (let tries = 1; ; tries++) {
        try {
          await migrateToLatest(db as Kysely<unknown>);
          break;
        } catch (err) {
          if (tries === MIGRATION_TRIES) throw err;
          await new Promise((resolve) => setTimeout(resolve, MIGRATION_RETRY_MS * tries));
        }
      }
    } catch (err) {
      await db.destroy();
      throw err;
    }
    return new OrderStore(db);
  }

  /**
   * Places a new order's id and first event, unless the id is known: then what the store holds for it. An
   * id is used once, ever: this is what says so after Temporal has forgotten the order.
   */
  async claim(record: Omit<OrderRecord, 'closed'>): Promise<StoredOrder | null> {
    return this.db.transaction().execute(async (tx) => {
      const inserted = await tx
        .insertInto('orders')
        .values(orderRow({ ...record, closed: false }, false))
        .onConflict((conflict) => conflict.column('order_id').doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) return findIn(tx, record.orderId);
      await insertEvents(tx, record.orderId, record.events);
      return null;
    });
  }

  /**
   * Writes one record of the workflow's: its events since its last write, and the view they led to, unless
   * the store holds a newer one. The workflow's record is the order's truth: a workflow task whose worker
   * was lost may have written before the task ran again, with other times, so what it writes replaces what
   * the store holds for the same seqs, even the end. The last write is the whole truth: a run again that
   * took another way with fewer events than the lost run wrote leaves none of the lost run's behind.
   */
  async record(record: OrderRecord): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await insertEvents(tx, record.orderId, record.events, 'replace');
      if (record.closed)
        await tx
          .deleteFrom('order_events')
          .where('order_id', '=', record.orderId)
          .where('seq', '>', record.lastSeq)
          .execute();
      await upsertOrder(tx, record, record.closed ? 'workflow-end' : 'workflow');
    });
  }

  /**
   * Writes what the order answered its checkout with (the API, as it answers): its events and view, unless
   * the workflow has written as much or more since, or the order's end.
   */
  async recordAnswer(record: OrderRecord): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await insertEvents(tx, record.orderId, record.events, 'keep');
      await upsertOrder(tx, record, 'answer');
    });
  }

  /**
   * Adds an event to an ended order's record, after its workflow: what happened to its money since (a late
   * refund, or its refusal). Once per event (the same type and data again changes nothing), its view folded
   * again from the whole log. `no-order` when the store holds no order with this id (a claim whose start
   * failed is none); `not-ended` while its workflow still writes its own record (then the caller tries again).
   */
  async appendAfterEnd(
    orderId: string,
    body: OrderEventBody,
    at: string,
  ): Promise<'appended' | 'no-order' | 'not-ended'> {
    return this.db.transaction().execute(async (tx) => {
      const row = await tx
        .selectFrom('orders')
        .select(['request_hash', 'closed', 'placed'])
        .where('order_id', '=', orderId)
        .executeTakeFirst();
      if (!row || Number(row.placed) === 0) return 'no-order';
      if (Number(row.closed) === 0) return 'not-ended';
      const events = (await eventsIn(tx, orderId))!;
      const same = JSON.stringify(body.data);
      if (events.some((event) => event.type === body.type && JSON.stringify(event.data) === same)) return 'appended';
      const event = recordedEvent(events.length + 1, body, at);
      const view = toOrderView(foldEvents([...events, event])!);
      await insertEvents(tx, orderId, [event]);
      const record = {
        orderId,
        requestHash: row.request_hash,
        events: [event],
        view,
        lastSeq: event.seq,
        closed: true,
      };
      await upsertOrder(tx, record, 'workflow-end');
      return 'appended';
    });
  }

  /** Temporal holds the claimed order (its start landed, though its answer was not waited for): lists show it. */
  async markPlaced(orderId: string): Promise<void> {
    await this.db.updateTable('orders').set({ placed: 1 }).where('order_id', '=', orderId).execute();
  }

  /** A page of the orders Temporal took, newest first: `limit` views, and where the next page starts (null: the last page). */
  async list(
    filter: OrderFilter,
    limit: number,
    after: PagePosition | null,
  ): Promise<{ views: OrderView[]; next: PagePosition | null }> {
    let query = this.db.selectFrom('orders').select(['view', 'created_at', 'order_id']).where('placed', '=', 1);
    if (filter.customerId !== undefined) query = query.where('customer_id', '=', filter.customerId);
    if (filter.status !== undefined) query = query.where('status', '=', filter.status);
    if (filter.needsAttention !== undefined) query = query.where('needs_attention', '=', filter.needsAttention ? 1 : 0);
    if (after)
      query = query.where((eb) =>
        eb.or([
          eb('created_at', '<', after.createdAt),
          eb.and([eb('created_at', '=', after.createdAt), eb('order_id', '<', after.orderId)]),
        ]),
      );
    const rows = await query
      .orderBy('created_at', 'desc')
      .orderBy('order_id', 'desc')
      .limit(limit + 1)
      .execute();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      views: page.map((row) => OrderView.parse(JSON.parse(row.view))),
      next: rows.length > limit && last ? { createdAt: last.created_at, orderId: last.order_id } : null,
    };
  }

  async find(orderId: string): Promise<StoredOrder | null> {
    return findIn(this.db, orderId);
  }

  /** The order's event log, oldest first; null when the store does not know the order. */
  async events(orderId: string): Promise<OrderEvent[] | null> {
    return eventsIn(this.db, orderId);
  }

  /**
   * Orders placed in [`from`, `before`) whose workflow has not recorded its end, oldest first: after a
   * restore, those the restored server does not know were lost with what came after the backup.
   */
  async openOrders(from: Date, before: Date): Promise<string[]> {
    const rows = await this.db
      .selectFrom('orders')
      .select('order_id')
      .where('closed', '=', 0)
      .where('created_at', '>=', from.toISOString())
      .where('created_at', '<', before.toISOString())
      .orderBy('created_at')
      .execute();
    return rows.map((row) => row.order_id);
  }

  /** A page of the ended orders `filter` picks, by id, after `afterOrderId`. */
  async endedOrders(filter: ErasureFilter, limit: number, afterOrderId: string | null): Promise<string[]> {
    let query = this.db.selectFrom('orders').select('order_id').where('closed', '=', 1);
    if (filter.customerId !== undefined) query = query.where('customer_id', '=', filter.customerId);
    if (filter.endedBefore) query = query.where('updated_at', '<', filter.endedBefore.toISOString());
    if (afterOrderId !== null) query = query.where('order_id', '>', afterOrderId);
    const rows = await query.orderBy('order_id').limit(limit).execute();
    return rows.map((row) => row.order_id);
  }

  /** How many of the customer's orders have not ended: an erasure leaves them to end first. */
  async liveOrders(customerId: string): Promise<number> {
    const { count } = await this.db
      .selectFrom('orders')
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .where('customer_id', '=', customerId)
      .where('closed', '=', 0)
      .executeTakeFirstOrThrow();
    return Number(count);
  }

  /**
   * Rewrites an ended order and its event log without what names the person who placed it
   * (domain/personal-data.ts), and drops the digest of the body that placed it: its id stays used (a POST
   * with it is a conflict). False when the store holds no ended order with this id.
   */
  async anonymise(orderId: string): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const kept = await findIn(tx, orderId);
      if (!kept?.closed) return false;
      const view = anonymisedView(kept.view);
      await tx
        .updateTable('orders')
        .set({ customer_id: view.customerId, request_hash: null, view: JSON.stringify(view) })
        .where('order_id', '=', orderId)
        .execute();
      for (const event of (await eventsIn(tx, orderId)) ?? []) {
        const anonymised = anonymisedEvent(event);
        if (anonymised === event) continue;
        await tx
          .updateTable('order_events')
          .set({ data: JSON.stringify(anonymised.data) })
          .where('order_id', '=', orderId)
          .where('seq', '=', event.seq)
          .execute();
      }
      return true;
    });
  }

  /** Deletes the order and its event log; false when the store did not hold it. */
  async forget(orderId: string): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('order_events').where('order_id', '=', orderId).execute();
      const deleted = await tx.deleteFrom('orders').where('order_id', '=', orderId).executeTakeFirst();
      return Number(deleted.numDeletedRows) > 0;
    });
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

/** The row of `record`; `placed` false for the API's claim of the id, which is not yet an order. */
function orderRow(record: OrderRecord, placed = true): StoreTables['orders'] {
  const { view } = record;
  return {
    order_id: record.orderId,
    customer_id: view.customerId,
    status: view.status,
    needs_attention: view.needsAttention ? 1 : 0,
    request_hash: record.requestHash,
    created_at: view.createdAt,
    updated_at: view.updatedAt,
    last_seq: record.lastSeq,
    closed: record.closed ? 1 : 0,
    placed: placed ? 1 : 0,
    view: JSON.stringify(view),
  };
}

/**
 * The order's row: inserted, or updated unless the store holds a newer view (or, for an answer, the end);
 * the workflow's end replaces whatever the store holds.
 */
async function upsertOrder(
  db: Kysely<StoreTables>,
  record: OrderRecord,
  by: 'workflow' | 'workflow-end' | 'answer',
): Promise<void> {
  const row = orderRow(record);
  await db
    .insertInto('orders')
    .values(row)
    .onConflict((conflict) =>
      conflict
        .column('order_id')
        .doUpdateSet({
          status: row.status,
          needs_attention: row.needs_attention,
          updated_at: row.updated_at,
          last_seq: row.last_seq,
          closed: row.closed,
          placed: row.placed,
          view: row.view,
        })
        .where((eb) =>
          by === 'workflow-end'
            ? eb.val(true)
            : by === 'workflow'
              ? eb('orders.last_seq', '<=', row.last_seq)
              : eb.and([eb('orders.closed', '=', 0), eb('orders.last_seq', '<', row.last_seq)]),
        ),
    )
    .execute();
}

async function insertEvents(
  db: Kysely<StoreTables>,
  orderId: string,
  events: OrderEvent[],
  known: 'keep' | 'replace' = 'keep',
): Promise<void> {
  if (events.length === 0) return;
  await db
    .insertInto('order_events')
    .values(
      events.map((event) => ({
        order_id: orderId,
        seq: event.seq,
        type: event.type,
        at: event.at,
        data: JSON.stringify(event.data),
      })),
    )
    .onConflict((conflict) => {
      const key = conflict.columns(['order_id', 'seq']);
      return known === 'keep'
        ? key.doNothing()
        : key.doUpdateSet((eb) => ({
            type: eb.ref('excluded.type'),
            at: eb.ref('excluded.at'),
            data: eb.ref('excluded.data'),
          }));
    })
    .execute();
}

async function eventsIn(db: Kysely<StoreTables>, orderId: string): Promise<OrderEvent[] | null> {
  const rows = await db
    .selectFrom('order_events')
    .select(['seq', 'type', 'at', 'data'])
    .where('order_id', '=', orderId)
    .orderBy('seq')
    .execute();
  if (rows.length === 0) return null;
  return rows.map(
    (row) => ({ seq: Number(row.seq), type: row.type, at: row.at, data: JSON.parse(row.data) }) as OrderEvent,
  );
}

async function findIn(db: Kysely<StoreTables>, orderId: string): Promise<StoredOrder | null> {
  const row = await db
    .selectFrom('orders')
    .select(['view', 'request_hash', 'closed'])
    .where('order_id', '=', orderId)
    .executeTakeFirst();
  if (!row) return null;
  return {
    view: OrderView.parse(JSON.parse(row.view)),
    requestHash: row.request_hash,
    closed: Number(row.closed) === 1,
  };
}
