import type { OrderState, OrderView } from './schemas/order-state';

export type { OrderPayment, OrderReason, OrderState, OrderView } from './schemas/order-state';

/** Order status (docs/API.md, "Order statuses"). */
export const Status = {
  RECEIVED: 'RECEIVED',
  RESERVED: 'RESERVED',
  AWAITING_PAYMENT: 'AWAITING_PAYMENT',
  PAID: 'PAID',
  CONFIRMED: 'CONFIRMED',
  COMPENSATING: 'COMPENSATING',
  CANCELLED: 'CANCELLED',
  REJECTED: 'REJECTED',
  REQUIRES_ATTENTION: 'REQUIRES_ATTENTION',
} as const;
export type OrderStatus = (typeof Status)[keyof typeof Status];

/** A payment's state, as its provider reports it and as the order's view shows it. */
export const PaymentState = {
  pending: 'pending',
  succeeded: 'succeeded',
  failed: 'failed',
  refunded: 'refunded',
  voided: 'voided',
} as const;
export type PaymentStatus = (typeof PaymentState)[keyof typeof PaymentState];

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
  ref: { provider: string; paymentId: string },
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
