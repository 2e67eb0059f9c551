/**
 * The closed lists an order's records are written in, apart from reasons (reasons.ts): the order's
 * statuses, its payment's states, what a provider calls back about, and the status events a checkout
 * hears. Plain constants: the workflows read them, and the schemas (schemas/) are built from them.
 */

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

/** What a payment provider calls back about: a payment that succeeded, or one that failed. */
export const PaymentEvent = { 'payment.succeeded': 'payment.succeeded', 'payment.failed': 'payment.failed' } as const;
export type PaymentEventType = (typeof PaymentEvent)[keyof typeof PaymentEvent];

/**
 * What a checkout hears about its orders (docs/API.md, "Order webhooks" and "Following an order live"):
 * one event each time an order's status changes to one a checkout acts on, and one for each payment
 * reminder its customer was sent (status-events.ts).
 */
export const STATUS_EVENT_TYPES = [
  'order.awaiting_payment',
  'order.paid',
  'order.confirmed',
  'order.cancelled',
  'order.rejected',
  'order.requires_attention',
  'order.payment_reminder_sent',
] as const;
export type StatusEventType = (typeof STATUS_EVENT_TYPES)[number];
