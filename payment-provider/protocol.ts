import { z } from 'zod';
import { PaymentEventType } from '../domain/schemas/contract';
import { Currency, OrderId } from '../domain/schemas/order-request';
import { PaymentStatus } from '../domain/schemas/order-state';

/**
 * What a payment provider and this project say to each other, in one place: the API takes its webhooks,
 * the activities call its payment routes, and the sandbox plays a provider by the same rules. The
 * signature of a webhook is in `signature.ts`.
 */

/** A provider's webhook body (docs/API.md, "Payment webhooks"). */
export const PaymentWebhookEvent = z.object({
  id: z.string().min(1).max(200),
  type: PaymentEventType,
  created: z.int(),
  data: z.object({
    paymentId: z.string().min(1).max(200),
    orderId: OrderId,
    amount: z.int().min(0),
    currency: Currency,
    failureReason: z.string().max(500).nullable(),
  }),
});
export type PaymentWebhookEvent = z.infer<typeof PaymentWebhookEvent>;

/** A payment as a provider answers it (create, read, refund, void). */
export const PaymentRecord = z.object({
  paymentId: z.string(),
  orderId: z.string(),
  amount: z.int(),
  currency: z.string(),
  status: PaymentStatus,
  captured: z.int(),
  refunded: z.int(),
  checkoutUrl: z.string(),
  /** When the provider opened it; a provider that does not say is still read. */
  createdAt: z.iso.datetime().optional(),
});
export type PaymentRecord = z.infer<typeof PaymentRecord>;

/** A provider's answer to `GET /payments?orderId=`. */
export const PaymentList = z.object({ payments: z.array(PaymentRecord) });

/** `GET /payments?createdFrom=` (domain/schemas/paging.ts): a page of the payments opened since a time, and the next page's cursor. */
export const PaymentPage = z.object({ payments: z.array(PaymentRecord), nextCursor: z.string().nullable() });
export type PaymentPage = z.infer<typeof PaymentPage>;

/** What opening a payment asks of a provider (`POST /payments`). */
export const CreatePaymentRequest = z.object({
  orderId: z.string(),
  amount: z.int().min(0),
  currency: z.string(),
  token: z.string(),
});
export type CreatePaymentRequest = z.infer<typeof CreatePaymentRequest>;

/** The error code a provider answers (409) when a void comes after the payment already left `pending`. */
export const NOT_PENDING_CODE = 'PAYMENT_NOT_PENDING';
/** The error code a provider answers (404) for a payment it has no record of. */
export const NOT_FOUND_CODE = 'PAYMENT_NOT_FOUND';
/** The statuses at which a provider refuses a payment itself (the card, the token): a decline, not an error. */
export const DECLINE_STATUSES: readonly number[] = [402, 422];
