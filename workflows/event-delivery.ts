import * as wf from '@temporalio/workflow';
import type { NotificationTemplate } from '../activities/notifications';
import { errorMessage } from '../domain/errors';
import { endedAs, liveStep, type OrderContext } from './order-context';
import type { MoneySettlement } from './money-settlement';

/**
 * Who hears of the order besides its log: the customer (how it ended, and reminders to pay) and the
 * checkout's webhook endpoints. Best effort beside the saga's steps, never holding them up; the order's
 * end waits for what is on its way.
 */
export class EventDelivery {
  /** The customer's notifications on their way, beside the order's last steps: its end waits for them. */
  private readonly telling: Promise<void>[] = [];
  /** Payment reminders on their way: their events go in the order's log before its webhooks are waited for. */
  private readonly reminding: Promise<void>[] = [];

  constructor(
    private readonly context: OrderContext,
    private readonly money: MoneySettlement,
  ) {}

  /** Tells the customer how the order ended, beside what follows; best effort (a failure is logged). */
  tellCustomer(template: NotificationTemplate): void {
    this.telling.push(this.notify(template));
  }

  /** The customer's notifications still on their way. */
  get toldCustomer(): Promise<void[]> {
    return Promise.all(this.telling);
  }

  /**
   * Reminds the customer to pay, with the payment link, beside the wait: best effort, never holding the
   * order up (a failure is logged). Its event follows the notification service's answer.
   */
  remind(point: string, closesAt: string): void {
    const { orderId, log, input, calls } = this.context;
    const { provider, paymentId, checkoutUrl } = log.state.payment!;
    const { currency } = input.request;
    const reminder = { point, checkoutUrl, amount: log.state.total, currency, closesAt };
    const sending = (async () => {
      try {
        await calls.reminders.call('notifyCustomer', `remind the customer to pay (${point} of the window)`, {
          orderId,
          email: input.request.customer.email,
          template: 'payment-reminder',
          reminder,
        });
      } catch (err) {
        return wf.log.warn('payment reminder failed', { orderId, point, error: errorMessage(err) });
      }
      log.append({ type: 'PaymentReminderSent', data: { provider, paymentId, point, closesAt } });
    })();
    this.reminding.push(sending);
  }

  /**
   * Waits until the order's webhook endpoints have taken its status events (or been given up on), which
   * can take as long as an endpoint stays down. The workflow stays open for them and takes callbacks
   * meanwhile: stray money that arrives is settled at once, never held until a checkout's endpoint is back.
   * First, any payment reminder still on its way: its event is one the endpoints are told.
   */
  async webhooksDelivered(): Promise<void> {
    await Promise.all(this.reminding);
    const { webhooks, log } = this.context;
    if (!webhooks) return;
    liveStep(`${endedAs(log.view)}; telling its webhooks`);
    for (;;) {
      await wf.condition(() => webhooks.delivered || this.money.unsettledStray() !== undefined);
      if (!this.money.unsettledStray()) return;
      await this.money.settleStrayPayments();
    }
  }

  private async notify(template: NotificationTemplate): Promise<void> {
    const { orderId, calls, input } = this.context;
    try {
      const summary = `notify the customer (${template})`;
      await calls.notifications.call('notifyCustomer', summary, {
        orderId,
        email: input.request.customer.email,
        template,
      });
    } catch (err) {
      wf.log.warn('customer notification failed', { orderId, template, error: errorMessage(err) });
    }
  }
}
