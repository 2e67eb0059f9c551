import * as wf from '@temporalio/workflow';
import type { OrderActivities } from '../activities';
import type { SettleOutcome } from '../activities/payments';
import type { LatePayment } from '../domain/contract';
import { OrderSearchAttributes } from '../domain/search-attributes';
import type { OrderEventBody } from '../domain/schemas/order-events';
import { TAKEN_OVER_OPTIONS, untilDone, type Owed } from './after-end';
import { recordLateRefund, recordLateRefundRefused } from './order-metrics';

const { settlePayment } = wf.proxyActivities<OrderActivities>(TAKEN_OVER_OPTIONS);

/**
 * Late money, as the order and the refund that takes it over both try it: the payment settled at its
 * provider (by order id when the order never learnt the payment's id).
 */
export function lateMoney(payment: LatePayment, settle: () => Promise<SettleOutcome>): Owed<SettleOutcome> {
  const { provider, paymentId, orderId } = payment;
  const held = paymentId ?? `the payment of order ${orderId}`;
  return {
    orderId,
    what: `${held} at ${provider}`,
    retryEveryMs: payment.retryEveryMs,
    attempt: settle,
    support: {
      holds: `${provider} still holds ${held} for order ${orderId} and refused its refund`,
      does: 'Settle it with the provider',
    },
    refusedEvent: (message) => ({
      type: 'LateMoneyRefused',
      data: { provider, paymentId: paymentId ?? null, message },
    }),
    countRefused: () => recordLateRefundRefused(provider, paymentId ?? `order ${orderId}`),
  };
}

/**
 * Refunds a payment that succeeded for an order that is closed, cancelled, rejected or unknown, or that its
 * order kept failing to settle. Started once per payment (its workflow id is the payment's), and settling
 * is idempotent at the provider, so money the saga already refunded is not refunded again. A payment the
 * provider has no record of has nothing to refund: the workflow completes saying so. A refund the provider
 * refuses is tried on until it goes through, support told after a few tries (./after-end.ts); the workflow
 * then carries `NeedsAttention`, `OrderId` and `PaymentProvider`, and the Web UI lists it beside the order.
 */
export async function latePaymentRefundWorkflow(payment: LatePayment): Promise<SettleOutcome> {
  const { provider, paymentId, orderId } = payment;
  const outcome = await untilDone({
    ...lateMoney(payment, () => settlePayment({ provider, orderId, paymentId })),
    progress: payment,
    doneEvent: (settled) => settledEvent(payment, settled),
    flag: (on) => flagForSupport(payment, on),
    continueAsNew: (progress) => wf.continueAsNew<typeof latePaymentRefundWorkflow>({ ...payment, ...progress }),
  });
  recordLateRefund(outcome.outcome);
  if (outcome.outcome === 'not-found')
    wf.log.info('late payment unknown to its provider: nothing to refund', { provider, paymentId, orderId });
  wf.setCurrentDetails(`Late payment ${outcome.paymentId ?? `of order ${orderId}`} at ${provider}: ${outcome.outcome}`);
  return outcome;
}

/** The order's event for a late payment settled at last. */
function settledEvent({ provider, paymentId }: LatePayment, outcome: SettleOutcome): OrderEventBody {
  switch (outcome.outcome) {
    case 'refunded':
      return {
        type: 'PaymentRefunded',
        data: { provider, paymentId: outcome.paymentId, amount: outcome.amount, late: true },
      };
    case 'voided':
      return { type: 'PaymentVoided', data: { provider, paymentId: outcome.paymentId } };
    case 'nothing-to-settle':
    case 'not-found':
      return { type: 'PaymentNotFound', data: { provider, paymentId: outcome.paymentId ?? paymentId ?? null } };
  }
}

function flagForSupport({ provider, orderId }: LatePayment, on: boolean): void {
  wf.upsertSearchAttributes(
    on
      ? [
          { key: OrderSearchAttributes.orderId, value: orderId },
          { key: OrderSearchAttributes.paymentProvider, value: provider },
          { key: OrderSearchAttributes.needsAttention, value: true },
        ]
      : [{ key: OrderSearchAttributes.needsAttention, value: false }],
  );
}
