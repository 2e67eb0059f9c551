import * as wf from '@temporalio/workflow';
import type { OrderActivities } from '../activities';
import type { SettleOutcome } from '../activities/payments';
import type { LatePayment } from '../domain/contract';

/** Late or stray money is refunded however long the refund service is down: it is never ours to keep. */
export const LATE_MONEY_OPTIONS: wf.ActivityOptions = {
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
};

const { settlePayment } = wf.proxyActivities<OrderActivities>(LATE_MONEY_OPTIONS);

/**
 * Refunds a payment that succeeded for an order that is closed, cancelled, rejected or unknown. Started
 * once per payment (its workflow id is the payment's), and settling is idempotent at the provider, so
 * money the saga already refunded is not refunded again.
 */
export async function latePaymentRefundWorkflow(payment: LatePayment): Promise<SettleOutcome> {
  return settlePayment({ provider: payment.provider, orderId: payment.orderId, paymentId: payment.paymentId });
}
