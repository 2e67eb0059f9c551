import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy, WorkflowNotFoundError, type Client } from '@temporalio/client';
import {
  LATE_REFUND_WORKFLOW_TYPE,
  latePaymentRefundWorkflowId,
  orderWorkflowId,
  paymentCallbackSignal,
  type LatePayment,
  type PaymentCallback,
} from '../domain/contract';
import { Status } from '../domain/order-state';
import type { OrdersService } from './orders-service';

/**
 * What became of a callback: taken by its running order; late money sent to a refund (`refund-started`),
 * or already on its way back (`refund-exists`, a provider's retry); a repeated success for the order's own
 * confirmed payment (`already-settled`); a failure about an order that has ended or never was (`ignored`).
 */
export type CallbackOutcome = 'signalled' | 'refund-started' | 'refund-exists' | 'already-settled' | 'ignored';

/**
 * Hands a verified payment callback to its order. A workflow that is running takes it as a signal (durable
 * even with no worker up). Money that arrives for an order that is closed, unknown, cancelled or rejected
 * is refunded, once per payment; a repeated success for the order's own confirmed payment changes nothing.
 */
export async function routePaymentCallback(
  client: Client,
  orders: Pick<OrdersService, 'get'>,
  taskQueue: string,
  callback: PaymentCallback,
): Promise<CallbackOutcome> {
  const handle = client.workflow.getHandle(orderWorkflowId(callback.orderId));
  try {
    await handle.signal(paymentCallbackSignal, callback);
    return 'signalled';
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
  if (callback.type !== 'payment.succeeded') return 'ignored';
  const order = await orders.get(callback.orderId);
  if (order?.status === Status.CONFIRMED && order.payment?.paymentId === callback.paymentId) return 'already-settled';
  const payment: LatePayment = { provider: callback.provider, paymentId: callback.paymentId, orderId: callback.orderId };
  try {
    await client.workflow.start(LATE_REFUND_WORKFLOW_TYPE, {
      workflowId: latePaymentRefundWorkflowId(payment),
      taskQueue,
      args: [payment],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return 'refund-exists';
    throw err;
  }
  return 'refund-started';
}
