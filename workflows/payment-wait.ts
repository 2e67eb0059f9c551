import * as wf from '@temporalio/workflow';
import { Reason } from '../domain/reasons';
import { PaymentEvent } from '../domain/statuses';
import type { EventDelivery } from './event-delivery';
import { recordPaidAfterReminder } from './order-metrics';
import { liveStep, type OrderContext } from './order-context';
import type { OrderRequests } from './order-requests';
import type { ForwardOutcome } from './order-steps';
import { stepFailure } from './step-failure';

/**
 * The wait for the customer's payment: the provider's callback within the payment window, the customer
 * reminded meanwhile, and the provider asked once the window has closed without one.
 */
export class PaymentWait {
  constructor(
    private readonly context: OrderContext,
    private readonly requests: OrderRequests,
    private readonly delivery: EventDelivery,
  ) {}

  /** Waits for the provider's callback within the payment window, then reconciles if it never came. */
  async outcome(): Promise<ForwardOutcome> {
    const { log, input } = this.context;
    const { provider, paymentId } = log.state.payment!;
    const { paymentWindowMs } = input.settings;
    const deadline = new Date(Date.now() + paymentWindowMs).toISOString();
    liveStep(`Waiting for ${provider}'s payment callback for ${paymentId} until ${deadline}`);
    if (await this.callbackWithinWindow(deadline)) {
      const callback = this.requests.currentCallback()!;
      const { eventId } = callback;
      if (callback.type === PaymentEvent['payment.succeeded']) {
        log.append({ type: 'PaymentSucceeded', data: { provider, paymentId, eventId } });
        return this.paid();
      }
      const failureReason = callback.failureReason ?? 'payment failed';
      log.append({ type: 'PaymentFailed', data: { provider, paymentId, eventId, failureReason } });
      return { kind: 'compensate', reason: { code: Reason.PAYMENT_DECLINED, message: failureReason } };
    }
    log.append({ type: 'PaymentWindowExpired', data: { windowMs: paymentWindowMs } });
    return this.reconcile(provider, paymentId);
  }

  /**
   * Waits for the payment's callback until the window closes at `closesAt`, reminding the customer at each
   * of its points meanwhile; true when the callback came.
   */
  private async callbackWithinWindow(closesAt: string): Promise<boolean> {
    const linkAt = Date.now();
    const callbackCame = () => this.requests.currentCallback() !== undefined;
    for (const { point, afterMs } of this.context.input.settings.paymentReminders) {
      const waitMs = afterMs - (Date.now() - linkAt);
      // A point already past (the workflow ran late, its worker down) is skipped: one reminder, not a burst.
      if (waitMs <= 0) continue;
      if (await wf.condition(callbackCame, waitMs)) return true;
      this.delivery.remind(point, closesAt);
    }
    const leftMs = Date.parse(closesAt) - Date.now();
    return leftMs > 0 ? wf.condition(callbackCame, leftMs) : callbackCame();
  }

  /** The order is paid; counted among those paid after a reminder when one was sent. */
  private paid(): ForwardOutcome {
    if (this.context.log.events.some((event) => event.type === 'PaymentReminderSent')) recordPaidAfterReminder();
    return { kind: 'paid' };
  }

  /** Asks the provider what became of a payment whose callback never came. */
  private async reconcile(provider: string, paymentId: string): Promise<ForwardOutcome> {
    const { calls, log, input } = this.context;
    const label = `reconcile ${paymentId} at ${provider}`;
    let status;
    try {
      status = await this.context.step(calls.reconciliation, 'getPaymentStatus', label, { provider, paymentId });
    } catch (err) {
      return { kind: 'attention', step: label, failure: stepFailure(err) };
    }
    const timedOut = `no payment within ${input.settings.paymentWindowMs} ms`;
    if (status === null) {
      log.append({ type: 'PaymentNotFound', data: { provider, paymentId } });
      const message = `${timedOut}: ${provider} has no record of ${paymentId}`;
      return { kind: 'compensate', reason: { code: Reason.PAYMENT_TIMEOUT, message } };
    }
    log.append({ type: 'PaymentReconciled', data: { provider, paymentId, providerStatus: status.status } });
    if (status.status === 'succeeded') return this.paid();
    if (status.status === 'failed') {
      const message = 'the provider reports the payment failed';
      return { kind: 'compensate', reason: { code: Reason.PAYMENT_DECLINED, message } };
    }
    return { kind: 'compensate', reason: { code: Reason.PAYMENT_TIMEOUT, message: timedOut } };
  }
}
