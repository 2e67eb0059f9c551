import type { z } from 'zod';
import type { PaymentCallback } from '../domain/contract';
import type { CreatePaymentRequest, PaymentPage, PaymentRecord } from './protocol';

/**
 * What the saga asks of a payment provider, whatever its wire protocol: one adapter per provider type
 * (`http-gateway.ts`: this project's own protocol, which the sandbox speaks). The activities decide what a
 * settlement does (refund what was captured, void what is pending); a gateway only says and does.
 */
export interface PaymentGateway {
  /**
   * Opens a payment for the order, idempotent per order: its `checkoutUrl` is where the customer pays.
   * The provider's refusal (the card, the token) throws `PAYMENT_DECLINED`, not retried.
   */
  create(payment: CreatePaymentRequest): Promise<PaymentRecord>;
  /** The payment, or null when the provider has no record of it. */
  get(paymentId: string): Promise<PaymentRecord | null>;
  /** The order's payment at this provider, or null (its create call may have landed unseen). */
  findByOrder(orderId: string): Promise<PaymentRecord | null>;
  /** Cancels a pending payment; `not-pending` when it left pending first (it succeeded meanwhile, say). */
  void(paymentId: string): Promise<'voided' | 'not-pending'>;
  /** Returns `amount` of what `payment` captured, once however often it is asked with the same record. */
  refund(payment: PaymentRecord, amount: number): Promise<PaymentRecord>;
  /** A page of the payments opened since `from` (an operator's reconciliation after a restore). */
  createdSince(from: Date, cursor: string | null): Promise<PaymentPage>;
}

/** A provider's webhook, as read by its gateway's type: the order's callback, or why it was refused. */
export type WebhookReading =
  | { ok: true; callback: Omit<PaymentCallback, 'provider'> }
  /** A genuine webhook the saga does not act on (another event type, a payment still on its way): acknowledged. */
  | { ok: true; callback: null; ignored: string }
  | { ok: false; status: 400 | 401; title: string; detail: string; error?: z.ZodError };

/** Reads a provider's webhook: its signature over the raw body first, then the body. */
export type PaymentWebhookReader = (
  rawBody: Buffer,
  header: (name: string) => string | undefined,
  nowSeconds: number,
) => WebhookReading;
