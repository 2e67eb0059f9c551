import { recordAtStart, recordedEvent } from '../../domain/order-record';
import type { OrderRequest } from '../../domain/order-request';
import type { OrderEvent } from '../../domain/schemas/order-events';
import { makeOrder } from './stack';

/**
 * A new order as the API places it in the store of record (its first event and view, made by the code that
 * makes them), `event(seq)`: that first event for seq 1, a later one of the order's for any other, and
 * `claim`: the API's claim of its id.
 */
export function placedOrder(overrides: Partial<OrderRequest> = {}, receivedAt: Date = new Date()) {
  const { firstEvent, view } = recordAtStart(makeOrder(overrides), 'h', receivedAt.toISOString());
  const event = (seq: number): OrderEvent =>
    seq === 1 ? firstEvent : recordedEvent(seq, { type: 'OrderValidated', data: { total: 3998 } }, view.createdAt);
  const claim = { orderId: view.orderId, requestHash: 'h', events: [firstEvent], view, lastSeq: 1 };
  return { view, event, claim };
}
