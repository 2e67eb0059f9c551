import * as wf from '@temporalio/workflow';
import type { OrderActivities } from '../activities';
import type { SettleOutcome } from '../activities/payments';
import type { LatePayment } from '../domain/contract';

/** The money is never ours to keep: retried however long the provider's refunds are down. */
const { settlePayment } = wf.proxyActivities<OrderActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/**
 * Refunds a payment that succeeded for an order that is closed, cancelled, rejected or unknown. Started
 * once per payment (its workflow id is the payment's), and settling is idempotent at the provider, so
 * money the saga already refunded is not refunded again.
 */
export async function latePaymentRefundWorkflow(payment: LatePayment): Promise<SettleOutcome> {
  return settlePayment({ provider: payment.provider, orderId: payment.orderId, paymentId: payment.paymentId });
}
