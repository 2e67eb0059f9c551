import { z } from 'zod';
import { PaymentEvent } from '../statuses';
import { OrderRequest } from './order-request';
import { StatusEventType } from './status-events';

/**
 * The schemas of what the order workflow's contract carries (domain/contract.ts names its handlers): its
 * settings and input, which the API checks before it starts an order, and its signals' payloads, which
 * the workflow checks when they arrive.
 */

/**
 * The webhook endpoints an order tells of its status changes (`ORDER_WEBHOOKS`), by id: their URLs and
 * secrets stay in the worker's configuration, out of history.
 */
export const WebhookSettings = z.object({
  endpoints: z.array(z.object({ id: z.string().min(1), events: z.array(StatusEventType).optional() })).min(1),
  /** How long a delivery fails before the order is flagged (`WebhooksFailing`) for support. */
  flagAfterMs: z.int().positive(),
  /** How long a delivery is retried before that endpoint hears nothing more of the order. */
  giveUpMs: z.int().positive(),
});
export type WebhookSettings = z.infer<typeof WebhookSettings>;

/** Timings and bounds the saga takes from configuration, fixed per order at its start (so replay sees the same). */
export const SagaSettings = z.object({
  /** How long the order waits for the payment callback before it reconciles with the provider. */
  paymentWindowMs: z.int().positive(),
  /** How long a failing compensation is retried before the order needs an operator. */
  compensationGiveUpMs: z.int().positive(),
  /**
   * How long a forward step (catalog, reservation, reconciliation) retries a system that does not answer
   * before the order compensates or waits for an operator.
   */
  stepGiveUpMs: z.int().positive(),
  /** How long an order may stay in one non-terminal state before it is flagged as stuck; longer than the payment window. */
  stateSlaMs: z.int().positive(),
  /**
   * How long the API waits for the order's answer to its checkout (`ORDER_ACCEPT_TIMEOUT_MS`): the API
   * writes the answer's events into the store of record, unless it came too late and the checkout was
   * answered 202; the workflow then writes them itself.
   */
  answerWaitMs: z.int().positive(),
  /**
   * When the order reminds a customer who has not paid (`PAYMENT_REMINDERS`), earliest first: each point as
   * configuration named it, and its time after the payment link.
   */
  paymentReminders: z.array(z.object({ point: z.string().min(1), afterMs: z.int().positive() })),
  /** Payment provider names, primary first; the saga fails over along this list. */
  paymentProviders: z.array(z.string().min(1)).min(1),
  /** Absent when no endpoint is registered. */
  webhooks: WebhookSettings.optional(),
});
export type SagaSettings = z.infer<typeof SagaSettings>;

export const OrderWorkflowInput = z.object({
  request: OrderRequest,
  /** Canonical hash of the parsed request: a second POST with the same orderId but another body is a conflict. */
  requestHash: z.string(),
  /** When the API accepted the order: the order's `createdAt`, the same before and after a worker runs it. */
  receivedAt: z.iso.datetime(),
  settings: SagaSettings,
  /**
   * True when the start request already wrote the first event to the memo and the search attributes (the
   * API does): the workflow then does not write them again. Part of the input, so replay decides the same.
   */
  startWroteFirstEvent: z.boolean().optional(),
});
export type OrderWorkflowInput = z.infer<typeof OrderWorkflowInput>;

export const PaymentEventType = z.enum(PaymentEvent);

/** A payment provider's callback, as the webhook endpoint passes it on after checking its signature. */
export const PaymentCallback = z.object({
  provider: z.string(),
  eventId: z.string().min(1),
  type: PaymentEventType,
  paymentId: z.string().min(1),
  orderId: z.string(),
  amount: z.int(),
  currency: z.string(),
  failureReason: z.string().nullable(),
});
export type PaymentCallback = z.infer<typeof PaymentCallback>;

export const CancelRequest = z.object({
  by: z.enum(['customer', 'support']),
  reason: z.string().max(500).optional(),
});
export type CancelRequest = z.infer<typeof CancelRequest>;

export const OperatorRequest = z.object({
  operator: z.string().min(1).max(200),
  note: z.string().max(2000),
});
export type OperatorRequest = z.infer<typeof OperatorRequest>;

/** A payment that succeeded where no open order takes it. */
export const LatePayment = z.object({
  provider: z.string(),
  /** Absent: the order's payment at the provider, found by order id (its order never learnt the payment's id). */
  paymentId: z.string().optional(),
  orderId: z.string(),
  /** How long the wait after the first refused try is; it doubles with each. */
  retryEveryMs: z.int().positive(),
  /** The tries refused in the workflow's earlier runs, carried when it continues as new. */
  refusedTries: z.int().nonnegative().optional(),
  /** Whether an earlier run told the order's record that support must settle the payment. */
  orderTold: z.boolean().optional(),
});
export type LatePayment = z.infer<typeof LatePayment>;
