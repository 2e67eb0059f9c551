import type { SettleOutcome } from '../activities/payments';
import {
  type LatePayment,
  latePaymentRefundWorkflowId,
  lateStockReleaseWorkflowId,
  type PaymentCallback,
} from '../domain/contract';
import { isCurrentPayment } from '../domain/order-state';
import { PaymentEvent, Status } from '../domain/statuses';
import { handOver, triedBeforeSupport, type Owed } from './after-end';
import { lateMoney, latePaymentRefundWorkflow } from './late-refund';
import { lateRelease, lateStockReleaseWorkflow } from './late-release';
import { RELEASE_STOCK_SUMMARY } from './compensation';
import type { OrderContext } from './order-context';
import type { OrderRequests } from './order-requests';

/**
 * Money and stock the order gives back: a payment's refund or void (as a compensation, or once the order
 * has ended), money that arrived for a payment the order does not keep, and what a lost workflow task may
 * have left behind. What an ended order owes is tried within the compensation's budget; past it, support
 * is told and a workflow of its own takes it over, so the order can end.
 */
export class MoneySettlement {
  private readonly settledStrays = new Set<string>();

  constructor(
    private readonly context: OrderContext,
    private readonly requests: OrderRequests,
  ) {}

  /**
   * Refunds or voids the order's payment at `provider` (found by order id without `paymentId`), and records
   * what it found. `late`: the order has ended; `why` then replaces "late money" in the call's summary, for
   * support reading it in the Web UI.
   */
  async settle(
    provider: string,
    paymentId?: string,
    options: { late: boolean; why?: string | undefined } = { late: false },
  ): Promise<SettleOutcome> {
    const { orderId, calls, log } = this.context;
    const why = options.why ?? (options.late ? 'late money' : null);
    const summary = `refund or void ${paymentId ?? `the payment of order ${orderId}`} at ${provider}${why ? ` (${why})` : ''}`;
    const system = options.late ? calls.afterEnd : calls.undoing;
    const result = await system.call('settlePayment', summary, { provider, orderId, paymentId });
    if (result.outcome === 'refunded') {
      const { amount } = result;
      log.append({
        type: 'PaymentRefunded',
        data: { provider, paymentId: result.paymentId, amount, late: options.late },
      });
    } else if (result.outcome === 'voided') {
      log.append({ type: 'PaymentVoided', data: { provider, paymentId: result.paymentId } });
    } else if (result.outcome === 'not-found') {
      log.append({ type: 'PaymentNotFound', data: { provider, paymentId: result.paymentId } });
    }
    return result;
  }

  /**
   * Money that arrived for a payment the order does not keep (a late success after cancel, a provider
   * the saga failed over from) goes back, once per payment.
   */
  async settleStrayPayments(): Promise<void> {
    for (;;) {
      const stray = this.unsettledStray();
      if (!stray) return;
      this.settledStrays.add(strayKey(stray));
      await this.settleAfterEnd({ provider: stray.provider, paymentId: stray.paymentId });
    }
  }

  /** A callback with money the order does not keep, not yet given back. */
  unsettledStray(): PaymentCallback | undefined {
    for (const callback of this.requests.allCallbacks) {
      if (this.isStray(callback) && !this.settledStrays.has(strayKey(callback))) return callback;
    }
    return undefined;
  }

  /**
   * Returns money the order does not keep, once it has ended. A provider that keeps refusing puts the order
   * on support's list (`LateMoneyRefused`), and a late refund takes the money over: the order ends.
   */
  async settleAfterEnd(payment: Pick<LatePayment, 'provider' | 'paymentId'>, why?: string): Promise<void> {
    const { provider, paymentId } = payment;
    const late: LatePayment = {
      ...payment,
      orderId: this.context.orderId,
      retryEveryMs: this.context.input.settings.compensationGiveUpMs,
    };
    await this.oweAfterEnd(
      lateMoney(late, () => this.settle(provider, paymentId, { late: true, why })),
      () => handOver(latePaymentRefundWorkflow, latePaymentRefundWorkflowId(late), late),
    );
  }

  /**
   * Gives back stock a lost workflow task may have reserved, once the order has ended. An inventory that
   * keeps refusing puts the order on support's list (`StockReleaseRefused`), and a late release takes it
   * over: the order ends.
   */
  async releaseAfterEnd(): Promise<void> {
    const { orderId, calls } = this.context;
    const summary = `${RELEASE_STOCK_SUMMARY}, in case a lost workflow task reserved it`;
    const release = { orderId, retryEveryMs: this.context.input.settings.compensationGiveUpMs };
    await this.oweAfterEnd(
      lateRelease(release, () => calls.afterEnd.call('releaseStock', summary, { orderId })),
      () => handOver(lateStockReleaseWorkflow, lateStockReleaseWorkflowId(orderId), release),
    );
  }

  /**
   * Tries what the order owes; when each try was refused, the order's log tells support, the refusal is
   * counted, and `takeOver` starts the workflow that goes on trying.
   */
  private async oweAfterEnd(owed: Owed<unknown>, takeOver: () => Promise<void>): Promise<void> {
    const tried = await triedBeforeSupport(owed);
    if ('done' in tried) return;
    this.context.log.append(owed.refusedEvent(tried.refused));
    owed.countRefused();
    await takeOver();
  }

  private isStray(callback: PaymentCallback): boolean {
    if (callback.type !== PaymentEvent['payment.succeeded']) return false;
    const state = this.context.log.state;
    if (!isCurrentPayment(state, callback)) return true;
    return state.status !== Status.CONFIRMED && state.payment.status !== 'refunded';
  }
}

function strayKey(callback: PaymentCallback): string {
  return `${callback.provider}/${callback.paymentId}`;
}
