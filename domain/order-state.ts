import { z } from 'zod';
import { OrderItem } from './order-request';
import { ReasonCode } from './reasons';

/** Order status (docs/API.md, "Order statuses"). */
export const OrderStatus = z.enum([
  'RECEIVED',
  'RESERVED',
  'AWAITING_PAYMENT',
  'PAID',
  'CONFIRMED',
  'COMPENSATING',
  'CANCELLED',
  'REJECTED',
  'REQUIRES_ATTENTION',
]);
export type OrderStatus = z.infer<typeof OrderStatus>;
export const Status = OrderStatus.enum;

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

export const PaymentStatus = z.enum(['pending', 'succeeded', 'failed', 'refunded', 'voided']);
export type PaymentStatus = z.infer<typeof PaymentStatus>;

export const OrderPayment = z.object({
  provider: z.string(),
  paymentId: z.string(),
  status: PaymentStatus,
  checkoutUrl: z.string(),
});
export type OrderPayment = z.infer<typeof OrderPayment>;

export const OrderReason = z.object({ code: ReasonCode, message: z.string() });
export type OrderReason = z.infer<typeof OrderReason>;

/** What checkout services and support read (docs/API.md, "The order view"). No email, no address. */
export const OrderView = z.object({
  orderId: z.string(),
  status: OrderStatus,
  customerId: z.string(),
  currency: z.string(),
  items: z.array(OrderItem),
  total: z.int(),
  payment: OrderPayment.nullable(),
  reason: OrderReason.nullable(),
  needsAttention: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type OrderView = z.infer<typeof OrderView>;

/**
 * The state the reducer folds: the view plus what the saga needs to resume compensation after an
 * operator retry (the reason it started compensating for).
 */
export const OrderState = OrderView.extend({
  compensationReason: OrderReason.nullable(),
});
export type OrderState = z.infer<typeof OrderState>;

/** The view of a state: drops what is internal to the saga. */
export function toOrderView(state: OrderState): OrderView {
  const { compensationReason: _internal, ...view } = state;
  return view;
}
