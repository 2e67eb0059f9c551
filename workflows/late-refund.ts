import * as wf from '@temporalio/workflow';
import { ActivityFailure } from '@temporalio/workflow';
import type { OrderActivities } from '../activities';
import type { SettleOutcome } from '../activities/payments';
import type { LatePayment } from '../domain/contract';
import { recordLateRefund, recordLateRefundRefused } from './order-metrics';
import { OrderSearchAttributes } from '../domain/search-attributes';
import { errorMessage } from '../domain/errors';
import type { OrderEventBody } from '../domain/schemas/order-events';

/** Late or stray money is refunded however long the refund service is down: it is never ours to keep. */
export const LATE_MONEY_OPTIONS: wf.ActivityOptions = {
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
};

/** How often a refund that got an answer nobody expected is tried again at first, unless the payment says otherwise. */
const DEFAULT_RETRY_EVERY_MS = 10 * 60_000;
/** The longest wait between two tries of a refused refund: a refusal is seldom lifted within minutes. */
const LONGEST_RETRY_MS = 24 * 60 * 60_000;
/** Refused tries after which support is told: the workflow is flagged, and its live step says what to do. */
export const TRIES_BEFORE_SUPPORT = 3;
/**
 * Tries in one run of the workflow: then it continues as new, carrying its count. A try is about 11
 * history events, so a run stays near 1,100 however many years the refusal lasts.
 */
export const TRIES_PER_RUN = 100;

const { settlePayment } = wf.proxyActivities<OrderActivities>(LATE_MONEY_OPTIONS);
/**
 * How long telling the order may take (its record's store down, or the order's own end not yet written):
 * the refund never waits longer on it, and a refused refund tells the order again at its next refusal.
 */
const TELL_ORDER_PATIENCE = '1 hour';
const { recordAfterEnd } = wf.proxyActivities<OrderActivities>({
  ...LATE_MONEY_OPTIONS,
  scheduleToCloseTimeout: TELL_ORDER_PATIENCE,
});

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
      sayNotReturned(what, err, retryEveryMs, `every ${retryEveryMs} ms`);
      await wf.sleep(retryEveryMs);
    }
  }
}

/**
 * One warning per failed try, and the live step: what could not be returned, why, and when it is tried
 * again (`again`, in words: "every 600000 ms", "in 1200000 ms").
 */
function sayNotReturned(what: string, err: ActivityFailure, retryInMs: number, again: string): string {
  const message = errorMessage(err);
  wf.log.warn('late money could not be returned: trying again', { payment: what, error: message, retryInMs });
  wf.setCurrentDetails(`Returning ${what} failed (${message}); trying again ${again}`);
  return message;
}

/**
 * Refunds a payment that succeeded for an order that is closed, cancelled, rejected or unknown. Started
 * once per payment (its workflow id is the payment's), and settling is idempotent at the provider, so
 * money the saga already refunded is not refunded again. A payment the provider has no record of has
 * nothing to refund: the workflow completes saying so.
 *
 * A refund the provider refuses is tried again, the wait doubling from `retryEveryMs` to a day at most.
 * After {@link TRIES_BEFORE_SUPPORT} refusals support is told: the workflow carries `NeedsAttention`,
 * `OrderId` and `PaymentProvider` (the Web UI lists it beside the order), its live step says what the
 * provider holds, and so does the order's record in the store of record (`LateMoneyRefused`), which is told
 * again when the money is settled. Every {@link TRIES_PER_RUN} tries it continues as new: its history never nears
 * Temporal's limits, however long the refusal lasts.
 */
export async function latePaymentRefundWorkflow(payment: LatePayment): Promise<SettleOutcome> {
  const { provider, paymentId, orderId } = payment;
  const what = `${paymentId} at ${provider}`;
  let refused = payment.refusedTries ?? 0;
  let toldOrder = payment.orderTold ?? false;
  if (refused >= TRIES_BEFORE_SUPPORT) flagForSupport(payment);
  for (let inRun = 0; ; inRun++) {
    if (inRun === TRIES_PER_RUN) {
      return wf.continueAsNew<typeof latePaymentRefundWorkflow>({
        ...payment,
        refusedTries: refused,
        orderTold: toldOrder,
      });
    }
    try {
      const outcome = await settlePayment({ provider, orderId, paymentId });
      recordLateRefund(outcome.outcome);
      if (outcome.outcome === 'not-found')
        wf.log.info('late payment unknown to its provider: nothing to refund', { provider, paymentId, orderId });
      wf.setCurrentDetails(`Late payment ${paymentId} at ${provider}: ${outcome.outcome}`);
      if (refused >= TRIES_BEFORE_SUPPORT) unflag();
      // The order told support; it now tells that the money is settled.
      if (toldOrder) await tellOrder(orderId, settledEvent(payment, outcome));
      return outcome;
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      refused++;
      const waitMs = Math.min(LONGEST_RETRY_MS, (payment.retryEveryMs ?? DEFAULT_RETRY_EVERY_MS) * 2 ** (refused - 1));
      const message = sayNotReturned(what, err, waitMs, `in ${waitMs} ms`);
      if (refused === TRIES_BEFORE_SUPPORT) {
        flagForSupport(payment);
        recordLateRefundRefused(provider, paymentId);
        wf.log.error('late money kept being refused: support must settle it with the provider', {
          payment: what,
          orderId,
          tries: refused,
          error: message,
        });
      }
      // On the order too, past its end: listed under needsAttention, its payment as the provider holds it.
      if (refused >= TRIES_BEFORE_SUPPORT && !toldOrder)
        toldOrder = await tellOrder(orderId, { type: 'LateMoneyRefused', data: { provider, paymentId, message } });
      if (refused >= TRIES_BEFORE_SUPPORT) {
        wf.setCurrentDetails(
          `Needs support: ${provider} still holds ${paymentId} for order ${orderId} and refused its refund ${refused} times ` +
            `(${message}). Settle it with the provider; this workflow tries again in ${waitMs} ms and ends once the refund goes through.`,
        );
      }
      await wf.sleep(waitMs);
    }
  }
}

/**
 * Adds `event` to the order's record in the store of record; false, and a warning, when it could not within
 * {@link TELL_ORDER_PATIENCE}.
 */
async function tellOrder(orderId: string, event: OrderEventBody): Promise<boolean> {
  try {
    await recordAfterEnd({ orderId, event, at: new Date().toISOString() });
    return true;
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    wf.log.warn("the order's record did not take what its late money did", {
      orderId,
      event: event.type,
      error: errorMessage(err),
    });
    return false;
  }
}

/** The order's event for a late payment settled at last. */
function settledEvent({ provider, paymentId }: LatePayment, outcome: SettleOutcome): OrderEventBody {
  switch (outcome.outcome) {
    case 'refunded':
      return { type: 'PaymentRefunded', data: { provider, paymentId, amount: outcome.amount, late: true } };
    case 'voided':
      return { type: 'PaymentVoided', data: { provider, paymentId } };
    case 'nothing-to-settle':
    case 'not-found':
      return { type: 'PaymentNotFound', data: { provider, paymentId } };
  }
}

function flagForSupport({ provider, orderId }: LatePayment): void {
  wf.upsertSearchAttributes([
    { key: OrderSearchAttributes.orderId, value: orderId },
    { key: OrderSearchAttributes.paymentProvider, value: provider },
    { key: OrderSearchAttributes.needsAttention, value: true },
  ]);
}

function unflag(): void {
  wf.upsertSearchAttributes([{ key: OrderSearchAttributes.needsAttention, value: false }]);
}
