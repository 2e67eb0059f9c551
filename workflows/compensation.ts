import { CancellationScope } from '@temporalio/workflow';
import { OperatorAction } from '../domain/operator-actions';
import type { OrderReason } from '../domain/order-state';
import { Reason } from '../domain/reasons';
import { Status } from '../domain/statuses';
import type { EventDelivery } from './event-delivery';
import type { MoneySettlement } from './money-settlement';
import { liveStep, type OrderContext } from './order-context';
import type { OrderRequests } from './order-requests';
import type { StepFailure } from './step-failure';

/** The compensations' names: what support reads in a prompt, and how the saga knows which it added. */
const RELEASE_STOCK = 'release stock';
/** The release's summary in history, where support reads it. */
export const RELEASE_STOCK_SUMMARY = 'release stock at inventory';
const settlePaymentAt = (provider: string) => `settle payment at ${provider}`;

/**
 * Undoing what the order did: each undo registered before the step it undoes, run last first when the
 * order compensates, an operator asked when one keeps failing or a step got an answer the saga cannot
 * read; and, once the order has ended, what a lost workflow task may have done beyond the record.
 */
export class Compensation {
  constructor(
    private readonly context: OrderContext,
    private readonly requests: OrderRequests,
    private readonly money: MoneySettlement,
    private readonly delivery: EventDelivery,
  ) {}

  /** Registers the release of the order's stock, before its reservation. */
  addReleaseStock(): void {
    const { orderId, calls, log } = this.context;
    this.context.compensations.add(RELEASE_STOCK, async () => {
      await calls.undoing.call('releaseStock', RELEASE_STOCK_SUMMARY, { orderId });
      log.append({ type: 'StockReleased', data: {} });
    });
  }

  /**
   * Registers the settlement of a payment at `provider`, before it is asked for one. When it runs, the
   * order usually knows the payment; otherwise settle finds it by order id.
   */
  addSettlePayment(provider: string): void {
    this.context.compensations.add(settlePaymentAt(provider), async () => {
      await this.money.settle(provider, this.paymentIdAt(provider));
    });
  }

  /** Runs the compensations in reverse; if some keep failing, waits for an operator to retry or resolve. */
  async compensate(reason: OrderReason): Promise<void> {
    this.context.log.append({ type: 'CompensationStarted', data: reason });
    liveStep(`Compensating (${reason.code}): undoing the steps taken, last first`);
    await this.undoAll();
  }

  /**
   * A step the saga cannot give a meaning to: the order waits in `REQUIRES_ATTENTION` until an operator
   * has it compensated (retry compensation) or settles it by hand (mark resolved). `caution`: what the
   * operator must know before compensating.
   */
  async askOperator(step: string, failure: StepFailure, caution?: string): Promise<void> {
    const code = failure.kind === 'unavailable' ? Reason.RETRIES_EXHAUSTED : Reason.UNEXPECTED_ANSWER;
    this.context.log.append({ type: 'StepFailed', data: { step, code, message: failure.message } });
    const what = failure.kind === 'unavailable' ? 'gave up on its system' : 'got an answer the saga cannot read';
    const pending = this.context.compensations.pending;
    const undo = pending.length
      ? `undo what the order did (${pending.join(', ')}) and cancel it`
      : 'cancel it (nothing to undo)';
    const action = await this.requests.operatorDecides(
      `Needs an operator: "${step}" ${what} (${failure.message}).${caution ? ` ${caution}` : ''} Retry compensation to ${undo}, or mark resolved once settled by hand.`,
    );
    if (action === OperatorAction['retry-compensation']) await this.undoAll();
  }

  /**
   * Once the order has ended, undoes what a lost workflow task may have done beyond its record. A first
   * attempt acts before the server records it (SystemCalls): if its worker dies before the task is
   * recorded, another worker runs the task again with what arrived meanwhile (a cancel, a system now
   * down) and may take another way, never learning of the reservation or payment the lost attempts made.
   *
   * - An order that did not end confirmed releases its stock if its record never did, and settles at each
   *   provider its record never asked to settle, by order id.
   * - A confirmed order settles at each provider it failed over from, whatever they hold for it.
   *
   * These undos are speculative: each is harmless where nothing happened (releasing what was never
   * reserved, settling where no payment exists). So they run as late money does, never a reason to fail the
   * order or call an operator: a system down at the end of an order that never reached it must not put the
   * order in front of a person. A release records no event, since the inventory cannot say whether it held
   * anything; a settlement that finds money records it.
   */
  async undoWhatLostTasksMayHaveDone(): Promise<void> {
    const confirmed = this.context.log.state.status === Status.CONFIRMED;
    const providers = confirmed ? this.providersFailedOver() : this.providersNeverSettled();
    const release = !confirmed && !this.context.compensations.wasAdded(RELEASE_STOCK);
    if (!release && providers.length === 0) return;
    if (release) await this.money.releaseAfterEnd();
    for (const provider of providers) {
      await this.money.settleAfterEnd({ provider }, 'in case a lost workflow task made one');
    }
  }

  /** Runs the compensations until all succeed or an operator marks the order resolved; then it is cancelled. */
  private async undoAll(): Promise<void> {
    const { compensations, log } = this.context;
    await CancellationScope.nonCancellable(async () => {
      for (;;) {
        const failures = await compensations.run();
        if (failures.length === 0) break;
        const [first] = failures;
        log.append({ type: 'CompensationFailed', data: { step: first!.name, message: first!.message } });
        const action = await this.requests.operatorDecides(
          `Needs an operator: "${first!.name}" kept failing (${first!.message}). Retry compensation or mark resolved.`,
        );
        if (action === OperatorAction['mark-resolved']) return;
      }
      log.append({ type: 'OrderCancelled', data: {} });
      this.delivery.tellCustomer('order-cancelled');
    });
  }

  private providersNeverSettled(): string[] {
    return this.context.input.settings.paymentProviders.filter(
      (provider) => !this.context.compensations.wasAdded(settlePaymentAt(provider)),
    );
  }

  private providersFailedOver(): string[] {
    const { log } = this.context;
    const kept = log.state.payment?.provider;
    const failedOver = new Set<string>();
    for (const event of log.events) {
      if (event.type === 'PaymentProviderUnavailable' && event.data.provider !== kept) {
        failedOver.add(event.data.provider);
      }
    }
    return [...failedOver];
  }

  private paymentIdAt(provider: string): string | undefined {
    const payment = this.context.log.state.payment;
    return payment?.provider === provider ? payment.paymentId : undefined;
  }
}
