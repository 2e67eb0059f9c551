import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import type { Client } from '@temporalio/client';
import { getEventsQuery, ORDER_WORKFLOW_TYPE, orderWorkflowId } from '../domain/contract';
import { viewInMemo } from '../domain/schemas/order-record';
import type { OrderStore } from '../store/order-store';
import { closedOtherwise, notTerminal } from '../api/closed-orders';
import { isTerminal, toOrderView, type OrderView } from '../domain/order-state';
import { foldEvents } from '../domain/evolve';
import { OrderSearchAttributes } from '../domain/search-attributes';
import type { Ledger } from '../sandbox/ledger';
import type { StatusEvent } from '../domain/status-events';
import type { ReceivedStatusEvent } from '../sandbox/status-event-receiver';

/**
 * The money invariant over ended orders, from the sandbox's ledger: a confirmed order's payments net
 * exactly its total, any other order's net zero, and no order has money held at two payments.
 */
/** What the checks need of an order: a full view, or a list's summary. */
type EndedOrder = Pick<OrderView, 'orderId' | 'status' | 'total'>;

function checkMoney(ended: Iterable<EndedOrder>, ledger: ReturnType<Ledger['snapshot']>) {
  const problems: string[] = [];
  let moneyMismatches = 0;
  let doubleCharges = 0;
  for (const view of ended) {
    const payments = ledger.payments.filter((payment) => payment.orderId === view.orderId);
    const net = payments.reduce((sum, payment) => sum + payment.captured - payment.refunded, 0);
    const expected = view.status === 'CONFIRMED' ? view.total : 0;
    if (net !== expected) {
      moneyMismatches++;
      problems.push(`money mismatch: ${view.orderId} is ${view.status}, net ${net}, expected ${expected}`);
    }
    if (payments.filter((payment) => payment.captured - payment.refunded > 0).length > 1) {
      doubleCharges++;
      problems.push(`double charge: ${view.orderId}`);
    }
  }
  return { moneyMismatches, doubleCharges, problems };
}

/**
 * Reads every order until each has ended or `timeoutMs` passes, a second between rounds; `onView` sees each
 * view as read (chaos retries compensations there). Returns the last view of each order read.
 */
export async function waitForOrdersToEnd(
  orderIds: Iterable<string>,
  read: (orderId: string) => Promise<OrderView | null>,
  { timeoutMs, onView = async () => {} }: { timeoutMs: number; onView?: (view: OrderView) => Promise<void> },
): Promise<Map<string, OrderView>> {
  const ids = [...orderIds];
  const views = new Map<string, OrderView>();
  const ended = () => ids.filter((id) => views.has(id) && isTerminal(views.get(id)!.status)).length;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const orderId of ids) {
      const known = views.get(orderId);
      if (known && isTerminal(known.status)) continue;
      const view = await read(orderId);
      if (!view) continue;
      views.set(orderId, view);
      await onView(view);
    }
    if (ended() === ids.length) break;
    await sleep(1_000);
  }
  return views;
}

/** The verdict over a run's orders: how many ended, how many were lost, the money invariant, a count per status. */
export function judgeOrders<V extends EndedOrder>(
  placed: number,
  views: Map<string, V>,
  ledger: ReturnType<Ledger['snapshot']>,
) {
  const terminal = [...views.values()].filter((view) => isTerminal(view.status));
  const counts = new Map<string, number>();
  for (const view of terminal) counts.set(view.status, (counts.get(view.status) ?? 0) + 1);
  return {
    terminal,
    lost: placed - terminal.length,
    byStatus: [...counts].map(([status, count]) => `${status} ${count}`).join(', '),
    ...checkMoney(terminal, ledger),
  };
}

/**
 * What Temporal's visibility says of every workflow of a run (its own server or namespace), once none is
 * running or `timeoutMs` has passed: `failed`, the workflows that closed other than by completing; `stale`,
 * the order workflows that closed with a status that is not terminal (what the API would show as alive).
 */
export async function judgeWorkflows(client: Client, { timeoutMs }: { timeoutMs: number }) {
  const count = async (query: string) => (await client.workflow.count(query)).count;
  const deadline = Date.now() + timeoutMs;
  let running = await count(`ExecutionStatus = 'Running'`);
  while (running > 0 && Date.now() < deadline) {
    await sleep(1_000);
    running = await count(`ExecutionStatus = 'Running'`);
  }
  const failed: string[] = [];
  for await (const run of client.workflow.list({ query: closedOtherwise }))
    failed.push(`workflow ${run.workflowId} ended ${run.status.name}`);
  const staleQuery = `WorkflowType = '${ORDER_WORKFLOW_TYPE}' AND ExecutionStatus != 'Running' AND ${notTerminal}`;
  const stale: string[] = [];
  for await (const run of client.workflow.list({ query: staleQuery })) {
    stale.push(
      `workflow ${run.workflowId} closed (${run.status.name}) at status ${String(run.typedSearchAttributes.get(OrderSearchAttributes.status))}`,
    );
  }
  return { running, failed: failed.length, stale: stale.length, problems: [...failed, ...stale] };
}

/**
 * Whether a checkout's endpoint heard each order's status changes, each once and in order: `expected` is
 * what each order's event log says it told (`statusEventsOf`), `received` the endpoint's first receipts in
 * the order they came. `missing` counts events never received; `outOfOrder`, events that came after a later
 * one of the same order.
 */
export function judgeStatusEvents(expected: Map<string, StatusEvent[]>, received: readonly ReceivedStatusEvent[]) {
  const problems: string[] = [];
  let missing = 0;
  let outOfOrder = 0;
  let told = 0;
  for (const [orderId, events] of expected) {
    told += events.length;
    const heard = received.filter((event) => event.orderId === orderId);
    const heardIds = new Set(heard.map((event) => event.id));
    for (const event of events) {
      if (heardIds.has(event.id)) continue;
      missing++;
      problems.push(`order webhook missing: ${event.id} (${event.type})`);
    }
    let latest = 0;
    for (const event of heard) {
      if (event.seq < latest) {
        outOfOrder++;
        problems.push(`order webhook out of order: ${event.id} (${event.type}) after event ${latest}`);
      }
      latest = Math.max(latest, event.seq);
    }
  }
  const repeats = received.reduce((sum, event) => sum + event.copies - 1, 0);
  return { told, taken: received.length, repeats, missing, outOfOrder, problems };
}

/**
 * What may follow an order's end in the store of record, told by the workflows that took over what it owed:
 * its late money, and stock a lost task may have reserved (workflows/after-end.ts).
 */
const AFTER_END: readonly string[] = [
  'LateMoneyRefused',
  'PaymentRefunded',
  'PaymentVoided',
  'PaymentNotFound',
  'StockReleased',
];

/**
 * Every ended order in the store of record as Temporal ended it: recorded as closed, with the view its
 * workflow's memo holds and the event log the workflow itself holds (asked of it: a worker must poll), or
 * that log followed by what its late money did since, and the view it folds to.
 * Orders whose workflow is not completed (still running, or closed otherwise) are not judged.
 */
export async function judgeStore(client: Client, store: OrderStore, orderIds: Iterable<string>) {
  const problems: string[] = [];
  let storeMismatches = 0;
  for (const orderId of orderIds) {
    const handle = client.workflow.getHandle(orderWorkflowId(orderId));
    const description = await handle.describe();
    if (description.status.name !== 'COMPLETED') continue;
    const [kept, keptEvents, events] = await Promise.all([
      store.find(orderId),
      store.events(orderId),
      handle.query(getEventsQuery),
    ]);
    const afterEnd = keptEvents?.slice(events.length) ?? [];
    const view = afterEnd.length ? toOrderView(foldEvents(keptEvents!)!) : viewInMemo(description.memo);
    const differs = !kept
      ? 'not in the store'
      : !kept.closed
        ? 'not recorded as ended'
        : !isDeepStrictEqual(kept.view, view)
          ? `its view is ${kept.view.status}, Temporal's ${view?.status}`
          : !isDeepStrictEqual(keptEvents?.slice(0, events.length), events) ||
              afterEnd.some((event) => !AFTER_END.includes(event.type))
            ? `its event log has ${keptEvents?.length ?? 0} events, Temporal's ${events.length}`
            : null;
    if (differs) {
      storeMismatches++;
      problems.push(`store mismatch: ${orderId} ${differs}`);
    }
  }
  return { storeMismatches, problems };
}
