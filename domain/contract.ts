import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { OrderView } from './order-state';
import type { CancelRequest, LatePayment, OperatorRequest, PaymentCallback } from './schemas/contract';
import type { OrderEvent } from './schemas/order-events';

export type {
  CancelRequest,
  LatePayment,
  OperatorRequest,
  OrderWorkflowInput,
  PaymentCallback,
  SagaSettings,
  WebhookSettings,
} from './schemas/contract';

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
export interface AcceptanceRequest {
  requestHash: string;
}
/** Failure type of an acceptance whose request hash differs from the order's (the API answers 409). */
export const ORDER_CONFLICT = 'ORDER_CONFLICT';
/**
 * What the acceptance update answers: the view, and the events that led to it, which the API writes to the
 * store of record as it answers the checkout (the workflow does not, so that its answer waits for no write;
 * it does when the answer came after the API stopped waiting).
 */
export interface AcceptedOrder {
  view: OrderView;
  events: OrderEvent[];
}
/** Update: wait until the order has a payment link or has ended (used with update-with-start). */
export const awaitAcceptanceUpdate = defineUpdate<AcceptedOrder, [AcceptanceRequest]>('awaitAcceptance');
/** Query: the current view. */
export const getOrderQuery = defineQuery<OrderView>('getOrder');
/** Query: the domain events so far. */
export const getEventsQuery = defineQuery<OrderEvent[]>('getEvents');

export const LATE_REFUND_WORKFLOW_TYPE = 'latePaymentRefundWorkflow';

/**
 * One refund workflow per payment, ever: the id makes "refunded exactly once" the server's job. A payment
 * found by order id has one per order and provider.
 */
export function latePaymentRefundWorkflowId({
  provider,
  paymentId,
  orderId,
}: Pick<LatePayment, 'provider' | 'paymentId'> & Partial<Pick<LatePayment, 'orderId'>>): string {
  return `refund-${provider}-${paymentId ?? `order-${orderId}`}`;
}

/**
 * Stock a lost workflow task may have reserved for an ended order, which inventory kept
 * refusing to release: the input of the workflow that releases it (only ever started by its order, so
 * not checked as a schema).
 */
export interface LateRelease {
  orderId: string;
  /** How long the wait after the first refused try is; it doubles with each. */
  retryEveryMs: number;
  /** The tries refused so far, carried when the workflow continues as new. */
  refusedTries?: number | undefined;
  /** Whether the order's record says that support must release it. */
  orderTold?: boolean | undefined;
}

/** One late stock release per order, ever. */
export function lateStockReleaseWorkflowId(orderId: string): string {
  return `release-${orderId}`;
}
