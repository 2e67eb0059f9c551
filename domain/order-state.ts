import type { OrderState, OrderView } from './schemas/order-state';
import { Status, type OrderStatus } from './statuses';

export type { OrderPayment, OrderReason, OrderState, OrderView } from './schemas/order-state';

export const TERMINAL_STATUSES: readonly OrderStatus[] = [Status.CONFIRMED, Status.CANCELLED, Status.REJECTED];
/** Cancel is allowed until the order is paid (docs/API.md, "Cancelling an order"). */
export const CANCELLABLE_STATUSES: readonly OrderStatus[] = [Status.RECEIVED, Status.RESERVED, Status.AWAITING_PAYMENT];
/** Statuses a cancel can no longer change: paid, or ended otherwise than by a cancel. */
export const NOT_CANCELLABLE_STATUSES: readonly OrderStatus[] = [Status.PAID, Status.CONFIRMED, Status.REJECTED];
/** Statuses at which a cancel has played out: done, stuck on an operator, or never possible. */
export const CANCELLATION_SETTLED_STATUSES: readonly OrderStatus[] = [
  Status.CANCELLED,
  Status.REQUIRES_ATTENTION,
  ...NOT_CANCELLABLE_STATUSES,
];

/** Whether `ref` names the order's current payment (not one it failed over from, nor a stray). */
export function isCurrentPayment<S extends { payment: { provider: string; paymentId: string } | null }>(
  state: S,
  ref: { provider: string; paymentId: string | null },
): state is S & { payment: NonNullable<S['payment']> } {
  return state.payment?.provider === ref.provider && state.payment.paymentId === ref.paymentId;
}

export function isTerminal(status: OrderStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** The view of a state: drops what is internal to the saga. */
export function toOrderView(state: OrderState): OrderView {
  const { compensationReason: _internal, ...view } = state;
  return view;
}
