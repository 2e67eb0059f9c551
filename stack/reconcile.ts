import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { ActivityEndpoints } from '../activities';
import type { HttpClient } from '../activities/http';
import { createInventoryActivities, createReservationLister, type ReservationPage } from '../activities/inventory';
import { createPaymentActivities, createPaymentLister, type SettleOutcome } from '../activities/payments';
import type { PaymentRecord } from '../payment-provider/protocol';
import { orderWorkflowId } from '../domain/contract';
import { viewInMemo } from '../domain/schemas/order-record';
import { isTerminal } from '../domain/order-state';
import { errorMessage } from '../domain/errors';
import { formatAmount } from '../domain/money';
import type { OrderStore } from '../store/order-store';

/**
 * After a restore, the providers may hold money the restored server knows nothing of: payments of orders
 * accepted after the backup, and payments an order the backup holds made after it at another provider
 * than the one it keeps now. This finds every payment each provider opened since a time and settles,
 * through the same idempotent settle the saga uses (refund what was captured, void what is pending):
 *
 * - a payment whose order is unknown: to the server, and to the store of record as an ended order (an
 *   order Temporal forgot after its retention is known by its record);
 * - a payment whose order is known but which is not the order's payment: the order keeps another, or
 *   ended without one.
 *
 * A payment that is its order's, and one of an order still before its payment (whose saga may yet take it
 * at that provider), are left alone: the saga settles those. Last, the orders the store holds as placed
 * since the time and not ended, which the server does not know, were lost with what came after the
 * backup: the store forgets them as the server did, so that their ids answer as unknown (404) and a
 * checkout's retry places them again. Run it again at will, once the restored orders have ended too: a
 * settled payment settles to nothing.
 */
export interface ReconcileParts {
  providers: readonly string[];
  /** A provider's payments opened since `from`, a page at a time. */
  page(
    provider: string,
    from: Date,
    cursor: string | null,
  ): Promise<{ payments: PaymentRecord[]; nextCursor: string | null }>;
  /** The saga's settle (activities/payments.ts): refund or void, idempotent. */
  settle(input: { provider: string; orderId: string; paymentId: string }): Promise<SettleOutcome>;
  /** Inventory's reservations made since `from`, a page at a time, and the saga's release (idempotent). */
  stock: {
    page(from: Date, cursor: string | null): Promise<ReservationPage>;
    release(input: { orderId: string }): Promise<void>;
  };
  /** A client that decodes the orders' memos (the payload codec): where an order's own payment is read. */
  client: Client;
  /** The store of record: ended orders Temporal no longer holds, and orders placed that a restore lost. */
  store: Pick<OrderStore, 'find' | 'openOrders' | 'forget'>;
  say(line: string): void;
  /** Say what would be settled, settle nothing. */
  dryRun?: boolean;
  /** Tries per call before a provider or the server counts as down; waits double from `retryDelayMs`. */
  attempts?: number;
  retryDelayMs?: number;
}

export interface ReconcileReport {
  /** Payments the providers opened since the time. */
  listed: number;
  /** Of those, payments whose order the server does not know. */
  unknown: number;
  /** Of those, payments of known orders that are not the order's own. */
  strays: number;
  settled: { refunded: number; voided: number; nothing: number };
  /** Reservations still held that were made since the time, and those released (their order unknown). */
  stock: { held: number; released: number };
  /** Orders the store held as placed since the time, not ended, that the server does not know: forgotten. */
  forgotten: number;
  /** What could not be done (a provider or the server down past its retries): run again. */
  failures: string[];
}

/** What reconcile calls, over `http`: each provider's list and settle, inventory's list and release. */
export function reconcileThrough(
  http: HttpClient,
  endpoints: Pick<ActivityEndpoints, 'paymentProviders' | 'inventoryUrl' | 'catalogUrl'>,
): Pick<ReconcileParts, 'providers' | 'page' | 'settle' | 'stock'> {
  const { paymentProviders } = endpoints;
  return {
    providers: paymentProviders.map((provider) => provider.name),
    page: createPaymentLister(http, paymentProviders).page,
    settle: createPaymentActivities(http, paymentProviders).settlePayment,
    stock: {
      page: createReservationLister(http, endpoints).page,
      release: createInventoryActivities(http, endpoints).releaseStock,
    },
  };
}

export async function reconcile(since: Date, parts: ReconcileParts): Promise<ReconcileReport> {
  const { providers, say } = parts;
  const run = new Run(parts);
  const { report } = run;
  for (const provider of providers) {
    const pages = run.pages(`${provider}'s payments`, (cursor) => parts.page(provider, since, cursor));
    for await (const page of pages) {
      for (const payment of page.payments) {
        report.listed++;
        const what = `${payment.paymentId} at ${provider} (order ${payment.orderId}, ${formatAmount(payment.amount, payment.currency)})`;
        const order = await run.orderOf(payment.orderId, what);
        if (order === UNANSWERED) continue;
        const why = whySettle(order, provider, payment.paymentId);
        if (!why.settle) {
          say(`${what}: left alone, ${why.reason}`);
          continue;
        }
        if (order) report.strays++;
        else report.unknown++;
        const outcome = await run.act(`${what}: ${why.reason}`, `settling ${payment.paymentId}`, 'settled', () =>
          parts.settle({ provider, orderId: payment.orderId, paymentId: payment.paymentId }),
        );
        if (!outcome) continue;
        if (outcome.outcome === 'refunded') report.settled.refunded++;
        else if (outcome.outcome === 'voided') report.settled.voided++;
        else report.settled.nothing++;
        say(`${what}: ${why.reason}, ${describeOutcome(outcome, payment.currency)}`);
      }
    }
  }
  await reconcileStock(since, run);
  await forgetLostOrders(since, run);
  const { refunded, voided, nothing } = report.settled;
  say(
    `since ${since.toISOString()}: ${report.listed} payments at ${providers.length} providers, ` +
      `${report.unknown} of orders the server does not know, ${report.strays} not their known order's` +
      `${parts.dryRun ? ' (dry run: nothing settled)' : ''}: refunded ${refunded}, voided ${voided}, ` +
      `nothing to settle ${nothing}; ${report.stock.held} reservations held, ${report.stock.released} released; ` +
      `${report.forgotten} lost orders forgotten by the store; failures ${report.failures.length}`,
  );
  return report;
}

/**
 * Stock reserved since the time for an order the server does not know is released: its order was lost
 * with what came after the backup. A known order's reservation is its saga's (released if it
 * compensates, kept if it is confirmed).
 */
async function reconcileStock(since: Date, run: Run): Promise<void> {
  const { parts, report } = run;
  for await (const page of run.pages("inventory's reservations", (cursor) => parts.stock.page(since, cursor))) {
    for (const reservation of page.reservations) {
      if (reservation.status !== 'reserved') continue;
      report.stock.held++;
      const what = `the stock reserved for order ${reservation.orderId}`;
      const order = await run.orderOf(reservation.orderId, what);
      if (order === UNANSWERED) continue;
      if (order) {
        parts.say(`${what}: left alone, the order's saga releases or keeps it`);
        continue;
      }
      const released = await run.act(`${what}: unknown to the server`, `releasing ${what}`, 'released', () =>
        parts.stock.release({ orderId: reservation.orderId }),
      );
      if (released === null) continue;
      report.stock.released++;
      parts.say(`${what}: unknown to the server, released`);
    }
  }
}

/**
 * Orders the store holds as placed since the time and not ended, whose workflow the server does not know:
 * lost with what came after the backup (their money and stock are settled above). The store forgets them
 * as the server did. Orders placed while this runs are not looked at.
 */
async function forgetLostOrders(since: Date, run: Run): Promise<void> {
  const { parts, report } = run;
  let placed: string[];
  try {
    placed = await run.retried('listing the orders the store holds as placed', () =>
      parts.store.openOrders(since, run.startedAt),
    );
  } catch (err) {
    return run.fail(`could not list the store's placed orders (${errorMessage(err)})`, 'run again');
  }
  for (const orderId of placed) {
    const what = `order ${orderId}, placed in the store`;
    const order = await run.orderOf(orderId, what);
    if (order !== null) continue;
    const forgotten = await run.act(`${what}: unknown to the server`, `forgetting ${orderId}`, 'forgotten', () =>
      parts.store.forget(orderId),
    );
    if (forgotten === null) continue;
    report.forgotten++;
    parts.say(`${what}: unknown to the server, lost in the restore: forgotten by the store`);
  }
}

/** The order's lookup got no answer: the failure is reported, and nothing is done on a guess. */
const UNANSWERED = Symbol('unanswered');

/** One reconcile run: its parts, its report, and the steps every kind of record goes through. */
class Run {
  /** The server's answer about each order asked so far (failures are not kept: they are asked again). */
  private readonly answers = new Map<string, KnownOrder | null>();
  readonly report: ReconcileReport = {
    listed: 0,
    unknown: 0,
    strays: 0,
    settled: { refunded: 0, voided: 0, nothing: 0 },
    stock: { held: 0, released: 0 },
    forgotten: 0,
    failures: [],
  };
  /** Orders placed from here on are the restored stack's own, not lost ones. */
  readonly startedAt = new Date();

  constructor(readonly parts: ReconcileParts) {}

  /** Something that could not be done: counted as a failure and said, with what to do about it. */
  fail(line: string, advice: string): void {
    this.report.failures.push(line);
    this.parts.say(`${line}: ${advice}`);
  }

  retried<T>(what: string, call: () => Promise<T>): Promise<T> {
    const { attempts = 5, retryDelayMs = 500, say } = this.parts;
    return withRetries(what, call, attempts, retryDelayMs, say);
  }

  /** Every page of a list, each fetched with retries; a list that stays unavailable is a failure, and ends there. */
  async *pages<P extends { nextCursor: string | null }>(
    what: string,
    fetch: (cursor: string | null) => Promise<P>,
  ): AsyncGenerator<P> {
    let cursor: string | null = null;
    do {
      let page: P;
      try {
        page = await this.retried(`listing ${what}`, () => fetch(cursor));
      } catch (err) {
        return this.fail(`could not list ${what} (${errorMessage(err)})`, 'the rest is left for the next run');
      }
      yield page;
      cursor = page.nextCursor;
    } while (cursor !== null);
  }

  /**
   * What the server knows of the order behind `what`; {@link UNANSWERED} (and a failure) if it would not say.
   * Asked once per order and run: its payments and its reservation all need the same answer.
   */
  async orderOf(orderId: string, what: string): Promise<KnownOrder | null | typeof UNANSWERED> {
    if (this.answers.has(orderId)) return this.answers.get(orderId)!;
    try {
      const order = await this.retried(`asking the server about order ${orderId}`, () =>
        knownOrder(this.parts, orderId),
      );
      this.answers.set(orderId, order);
      return order;
    } catch (err) {
      // Never act on a guess: an order the server may know settles its own payment and stock.
      this.fail(`${what}: the server did not say whether it knows the order (${errorMessage(err)})`, 'left alone');
      return UNANSWERED;
    }
  }

  /** Does `call` (with retries) unless this is a dry run; null when it was not done. */
  async act<T>(what: string, trying: string, done: string, call: () => Promise<T>): Promise<T | null> {
    if (this.parts.dryRun) {
      this.parts.say(`${what}, would be ${done} (dry run)`);
      return null;
    }
    try {
      return await this.retried(trying, call);
    } catch (err) {
      this.fail(`${what}, not ${done} (${errorMessage(err)})`, 'run again');
      return null;
    }
  }
}

/** What the server knows of an order: whether it has ended, and the payment it keeps (null: none yet). */
interface KnownOrder {
  ended: boolean;
  payment: { provider: string; paymentId: string } | null;
}

/**
 * The order as the server knows it, from its memo; else as the store of record ended it (Temporal forgets
 * a closed workflow after its retention); null when neither knows it. An order the store holds as placed
 * but not ended, which the server does not know, is unknown: its workflow never started or was lost.
 */
async function knownOrder(
  { client, store }: Pick<ReconcileParts, 'client' | 'store'>,
  orderId: string,
): Promise<KnownOrder | null> {
  const server = await serverOrder(client, orderId);
  if (server) return server;
  const kept = await store.find(orderId);
  return kept?.closed ? { ended: true, payment: kept.view.payment ?? null } : null;
}

async function serverOrder(client: Client, orderId: string): Promise<KnownOrder | null> {
  try {
    const view = viewInMemo((await client.workflow.getHandle(orderWorkflowId(orderId)).describe()).memo);
    if (!view)
      throw new Error(
        `order ${orderId}'s record cannot be read (is the payload codec's key the one it was written with?)`,
      );
    return { ended: isTerminal(view.status), payment: view.payment ?? null };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
}

function whySettle(order: KnownOrder | null, provider: string, paymentId: string): { settle: boolean; reason: string } {
  if (!order) return { settle: true, reason: 'unknown to the server' };
  const own = order.payment;
  if (own?.provider === provider && own.paymentId === paymentId)
    return { settle: false, reason: "the order's own payment: its saga settles it" };
  if (own) return { settle: true, reason: `not the order's payment (it keeps ${own.paymentId} at ${own.provider})` };
  if (order.ended) return { settle: true, reason: 'the order ended without a payment' };
  return { settle: false, reason: 'the order has no payment yet and may still take this one: run again once it ends' };
}

function describeOutcome(outcome: SettleOutcome, currency: string): string {
  switch (outcome.outcome) {
    case 'refunded':
      return `refunded ${formatAmount(outcome.amount, currency)}`;
    case 'voided':
      return 'voided';
    case 'nothing-to-settle':
      return 'nothing to settle (already refunded, voided or failed)';
    case 'not-found':
      return 'the provider no longer knows it: nothing to settle';
  }
}

/**
 * A call retried while what it calls is unavailable (a retryable failure, a server not answering), with
 * doubling waits; an answer that says no (a non-retryable failure) is not retried.
 */
async function withRetries<T>(
  what: string,
  call: () => Promise<T>,
  attempts: number,
  firstDelayMs: number,
  say: (line: string) => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if ((err instanceof ApplicationFailure && err.nonRetryable) || attempt >= attempts) throw err;
      const delayMs = firstDelayMs * 2 ** (attempt - 1);
      say(`${what} failed (${errorMessage(err)}): try ${attempt + 1} of ${attempts} in ${delayMs} ms`);
      await sleep(delayMs);
    }
  }
}
