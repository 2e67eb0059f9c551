import { z } from 'zod';
import { PaymentState, Status } from '../statuses';
import { Reason } from '../reasons';
import { OrderItem } from './order-request';

/** The schemas of an order's state and view (domain/order-state.ts holds what the workflow reads of them). */
export const OrderStatus = z.enum(Status);
export const ReasonCode = z.enum(Reason);
export const PaymentStatus = z.enum(PaymentState);

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
