import type { SearchAttributePair } from '@temporalio/common';
import { evolve, orderReceived } from './evolve';
import { toOrderView, type OrderView } from './order-state';
import type { OrderEvent, OrderEventBody } from './schemas/order-events';
import type { OrderRequest } from './schemas/order-request';
import { OrderSearchAttributes, orderStateSearchAttributes, statusChangeSearchAttributes } from './search-attributes';

/**
 * The order's record in Temporal besides its history: how an event is enveloped, what the memo holds and
 * what the search attributes say. The API writes it when it starts the order (so the order is readable
 * and findable before any worker runs), the workflow at every transition after that, and the API reads it
 * back: one layout for all three.
 */

/**
 * Memo keys: the current view; the events written with it (the start's first event, then those of each
 * workflow task), so history alone tells the event log; the request's hash.
 */
export const MemoKey = { order: 'order', events: 'events', requestHash: 'requestHash' } as const;

/** An event as the log records it: numbered from 1, stamped, with its keys in the order docs/API.md shows. */
export function recordedEvent(seq: number, body: OrderEventBody, at: string): OrderEvent {
  return { seq, type: body.type, at, data: body.data } as OrderEvent;
}

/** What the start request writes (the first event, in the memo), the view it makes, and the search attributes. */
export function recordAtStart(request: OrderRequest, requestHash: string, receivedAt: string) {
  const firstEvent = recordedEvent(1, orderReceived(request), receivedAt);
  // The same first event the workflow records, folded by the same reducer: GET answers before a worker runs.
  const view = toOrderView(evolve(null, firstEvent));
  const searchAttributes: SearchAttributePair[] = [
    { key: OrderSearchAttributes.orderId, value: request.orderId },
    { key: OrderSearchAttributes.customerId, value: request.customer.id },
    ...orderStateSearchAttributes(view),
    ...statusChangeSearchAttributes(receivedAt),
  ];
  const memo = { [MemoKey.requestHash]: requestHash, ...memoAfter(view, [firstEvent]) };
  return { firstEvent, view, memo, searchAttributes };
}

/** The memo written after `events`, in order: the view they led to, and the events. */
export function memoAfter(view: OrderView, events: OrderEvent[]): Record<string, unknown> {
  return { [MemoKey.order]: view, [MemoKey.events]: events };
}
