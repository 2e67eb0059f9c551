import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import { OrderRequest } from './order-request';
import { StatusEventType } from './status-events';
import type { OrderEvent } from './order-events';
import type { OrderView } from './order-state';

/**
 * The order workflow's contract: everything the API, the worker and the tests share about it.
 * Every string that names the workflow, its queue or its handlers is written here and nowhere else.
 */
export const ORDER_TASK_QUEUE = 'orders';
export const ORDER_WORKFLOW_TYPE = 'orderWorkflow';

/**
 * The task queue of an order's webhook deliveries, beside its own: they get workers' slots of their own, so
 * a checkout's endpoint that hangs never keeps the saga's retries and compensations waiting for a slot.
 */
export function webhookTaskQueue(orderTaskQueue: string): string {
  return `${orderTaskQueue}-webhooks`;
}

/** One order, one workflow: the id is derived from the order id, so a retried POST finds the same run. */
export function orderWorkflowId(orderId: string): string {
  return `order-${orderId}`;
}

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
   * before the order compensates or waits for an operator. Absent in orders started before it existed:
   * those retry without end, as they did then.
   */
  stepGiveUpMs: z.int().positive().optional(),
  /** How long an order may stay in one non-terminal state before it is flagged as stuck; longer than the payment window. */
  stateSlaMs: z.int().positive(),
  /** Payment provider names, primary first; the saga fails over along this list. */
  paymentProviders: z.array(z.string().min(1)).min(1),
  /** Absent when no endpoint is registered, and in orders started before order webhooks existed. */
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

/** What a payment provider calls back about: a payment that succeeded, or one that failed. */
export const PaymentEventType = z.enum(['payment.succeeded', 'payment.failed']);
export type PaymentEventType = z.infer<typeof PaymentEventType>;
export const PaymentEvent = PaymentEventType.enum;

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

/** Signal: a payment provider called back. Durable even while no worker runs. */
export const paymentCallbackSignal = defineSignal<[PaymentCallback]>('paymentCallback');
/** Signal: an operator asks to run the failed compensations again. */
export const retryCompensationSignal = defineSignal<[OperatorRequest]>('retryCompensation');
/** Signal: an operator settled the order by hand; it ends `CANCELLED`. */
export const markResolvedSignal = defineSignal<[OperatorRequest]>('markResolved');
/**
 * Signal: cancel the order. A signal, not an update, because it must be durable with no worker running;
 * the workflow ignores it once the order is paid.
 */
export const cancelOrderSignal = defineSignal<[CancelRequest]>('cancelOrder');
/**
 * Update: wait for a cancel to play out. Answers once the order is cancelled, needs an operator, or turned
 * out not cancellable (paid, confirmed, rejected). Read-only, so it is harmless if it reaches the workflow late.
 */
export const awaitCancellationUpdate = defineUpdate<OrderView, []>('awaitCancellation');
/** What a POST /orders asks of the order it starts or finds: refused when the order was placed with another body. */
export const AcceptanceRequest = z.object({ requestHash: z.string() });
export type AcceptanceRequest = z.infer<typeof AcceptanceRequest>;
/** Failure type of an acceptance whose request hash differs from the order's (the API answers 409). */
export const ORDER_CONFLICT = 'ORDER_CONFLICT';
/** Update: wait until the order has a payment link or has ended (used with update-with-start). */
export const awaitAcceptanceUpdate = defineUpdate<OrderView, [AcceptanceRequest]>('awaitAcceptance');
/** Query: the current view. */
export const getOrderQuery = defineQuery<OrderView>('getOrder');
/** Query: the domain events so far. */
export const getEventsQuery = defineQuery<OrderEvent[]>('getEvents');

export const LATE_REFUND_WORKFLOW_TYPE = 'latePaymentRefundWorkflow';

/** A payment that succeeded where no open order takes it. */
export const LatePayment = z.object({
  provider: z.string(),
  paymentId: z.string(),
  orderId: z.string(),
  /** How often a refund that got an unexpected answer is tried again (absent in refunds started before it existed). */
  retryEveryMs: z.int().positive().optional(),
});
export type LatePayment = z.infer<typeof LatePayment>;

/** One refund workflow per payment, ever: the id makes "refunded exactly once" the server's job. */
export function latePaymentRefundWorkflowId(payment: Pick<LatePayment, 'provider' | 'paymentId'>): string {
  return `refund-${payment.provider}-${payment.paymentId}`;
}
