import * as wf from '@temporalio/workflow';
import { ActivityFailure } from '@temporalio/workflow';
import type { OrderActivities } from '../activities';
import type { SettleOutcome } from '../activities/payments';
import type { LatePayment } from '../domain/contract';
import { recordLateRefund } from './order-metrics';
import { errorMessage } from '../domain/errors';

/** Late or stray money is refunded however long the refund service is down: it is never ours to keep. */
export const LATE_MONEY_OPTIONS: wf.ActivityOptions = {
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
};

/** How often a refund that got an answer nobody expected is tried again, unless the payment says otherwise. */
const DEFAULT_RETRY_EVERY_MS = 10 * 60_000;

const { settlePayment } = wf.proxyActivities<OrderActivities>(LATE_MONEY_OPTIONS);

/**
 * Settles late money, however long it takes. Unavailability is retried by the activity's own policy; an
 * answer nobody expected (a refusal, a body off the contract) is tried again every `retryEveryMs`, until a
 * fix or the provider lets it through: never a reason to fail the workflow. Support reads why in the live
 * step and in one warning per try.
 */
export async function untilSettled<T>(what: string, retryEveryMs: number, settle: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await settle();
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      const message = errorMessage(err);
      wf.log.warn('late money could not be returned: trying again', {
        payment: what,
        error: message,
        retryInMs: retryEveryMs,
      });
      wf.setCurrentDetails(`Returning ${what} failed (${message}); trying again every ${retryEveryMs} ms`);
      await wf.sleep(retryEveryMs);
    }
  }
}

/**
 * Refunds a payment that succeeded for an order that is closed, cancelled, rejected or unknown. Started
 * once per payment (its workflow id is the payment's), and settling is idempotent at the provider, so
 * money the saga already refunded is not refunded again. A payment the provider has no record of has
 * nothing to refund: the workflow completes saying so.
 */
export async function latePaymentRefundWorkflow(payment: LatePayment): Promise<SettleOutcome> {
  const { provider, paymentId, orderId } = payment;
  const outcome = await untilSettled(
    `${paymentId} at ${provider}`,
    payment.retryEveryMs ?? DEFAULT_RETRY_EVERY_MS,
    () => settlePayment({ provider, orderId, paymentId }),
  );
  recordLateRefund(outcome.outcome);
  if (outcome.outcome === 'not-found')
    wf.log.info('late payment unknown to its provider: nothing to refund', { provider, paymentId, orderId });
  wf.setCurrentDetails(`Late payment ${paymentId} at ${provider}: ${outcome.outcome}`);
  return outcome;
}
