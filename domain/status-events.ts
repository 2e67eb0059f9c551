import { evolve } from './evolve';
import { toOrderView, type OrderState, type OrderView } from './order-state';
import { Status, type OrderStatus, type StatusEventType } from './statuses';
import type { OrderEvent } from './schemas/order-events';
import type { StatusEvent } from './schemas/status-events';

export type { StatusEvent } from './schemas/status-events';

/**
 * What a checkout hears about its orders (docs/API.md, "Order webhooks" and "Following an order live"):
 * one event each time an order's status changes to one a checkout acts on. The same events go out as
 * signed webhooks (from the workflow) and down an order's live stream (from the API).
 */

/** Standard Webhooks' headers (https://www.standardwebhooks.com): the event id, the time signed, the signature. */
export const WebhookHeader = {
  id: 'webhook-id',
  timestamp: 'webhook-timestamp',
  signature: 'webhook-signature',
} as const;

/** The statuses a checkout hears about, and each one's event type; the steps between them are the saga's own. */
const EVENT_TYPE_OF: Partial<Record<OrderStatus, StatusEventType>> = {
  [Status.AWAITING_PAYMENT]: 'order.awaiting_payment',
  [Status.PAID]: 'order.paid',
  [Status.CONFIRMED]: 'order.confirmed',
  [Status.CANCELLED]: 'order.cancelled',
  [Status.REJECTED]: 'order.rejected',
  [Status.REQUIRES_ATTENTION]: 'order.requires_attention',
};

/**
 * What a checkout hears of a domain event of type `event` that left the order in `status`: a move to a
 * status it acts on (when `statusChanged`), or a payment reminder sent to its customer; nothing otherwise.
 */
export function heardAs(
  event: OrderEvent['type'],
  status: OrderStatus,
  statusChanged: boolean,
): StatusEventType | null {
  if (event === 'PaymentReminderSent') return 'order.payment_reminder_sent';
  return (statusChanged && EVENT_TYPE_OF[status]) || null;
}

/** The event a checkout hears of the order's `seq`-th domain event, which left the order at `view`. */
export function statusEvent(seq: number, at: string, type: StatusEventType, view: OrderView): StatusEvent {
  return { id: statusEventId(view.orderId, seq), type, createdAt: at, data: view };
}

/**
 * The status events of an order's event log, oldest first: the ones its workflow told its webhooks, read
 * back from the log alone (the live stream's source, and how a check knows what a checkout should have heard).
 */
export function statusEventsOf(events: readonly OrderEvent[]): StatusEvent[] {
  const told: StatusEvent[] = [];
  let state: OrderState | null = null;
  for (const event of events) {
    const before: OrderStatus | undefined = state?.status;
    state = evolve(state, event);
    const type = heardAs(event.type, state.status, state.status !== before);
    if (type) told.push(statusEvent(event.seq, event.at, type, toOrderView(state)));
  }
  return told;
}

/** An event's id: the order and the number of the domain event that changed its status. */
export function statusEventId(orderId: string, seq: number): string {
  return `evt_${orderId}_${seq}`;
}

/** The domain event number an event id ends with (the live stream's `Last-Event-ID` is this number alone). */
export function statusEventSeq(id: string): number {
  return Number(id.slice(id.lastIndexOf('_') + 1));
}
