import { isCancellation } from '@temporalio/workflow';
import type { FulfillmentCancelOutcome } from '../activities/fulfillment';
import { formatAmount } from '../domain/money';
import { orderTotal, type OrderItem } from '../domain/order-request';
import type { OrderReason } from '../domain/order-state';
import { Reason, REJECTION_CODES } from '../domain/reasons';
import type { Compensation } from './compensation';
import type { EventDelivery } from './event-delivery';
import { asLiveStep, liveStep, type OrderContext } from './order-context';
import { stepFailure, type StepFailure } from './step-failure';

/** Where the steps up to payment leave the order. */
export type ForwardOutcome =
  | { kind: 'paid' }
  | { kind: 'rejected'; reason: OrderReason }
  | { kind: 'compensate'; reason: OrderReason }
  /** A step got an answer it has no meaning for, or gave up with nothing of its own to undo: an operator decides. */
  | { kind: 'attention'; step: string; failure: StepFailure };

/** Thrown by a forward step that ends the forward steps there, with where the order goes next. */
export class Halt {
  constructor(readonly outcome: Exclude<ForwardOutcome, { kind: 'paid' }>) {}
}

/** The fulfillment step's label: the live step support sees, and its call's summary in history. */
const SUBMIT_LABEL = 'submit the order to fulfillment';

// The forward steps' summaries, alone and in the call that takes the three at once.
const catalogCheck = (items: readonly OrderItem[]) => `check ${items.length} line(s) against the catalog`;
const RESERVE_STOCK_LABEL = 'reserve stock at inventory';
const paymentRequest = (amount: number, currency: string, provider: string) =>
  `request payment of ${formatAmount(amount, currency)} at ${provider}`;

/**
 * The order's steps forward: validate, reserve stock and request payment (at once when all goes well, one
 * by one otherwise), then, once paid, confirm at fulfillment. Each registers its undo before it acts, and
 * a step that ends the way forward throws {@link Halt} with where the order goes.
 */
export class OrderSteps {
  constructor(
    private readonly context: OrderContext,
    private readonly compensation: Compensation,
    private readonly delivery: EventDelivery,
  ) {}

  /**
   * The steps up to the payment link (validate, reserve stock, request payment at the first provider) in
   * one local activity: an order whose systems all answer gets its link in two activations of its worker
   * instead of four. True when all three went through, recorded as each step records its own. On any
   * failure (a refusal, a system down, a timeout) the record holds none of them, and the order takes the
   * steps one by one from the first, each with its own retries and answers: every step is idempotent, so
   * what this attempt did is found again, not done twice, and what it did that the steps never find again
   * (a reservation behind a catalog that now refuses) is undone as a lost task's would be
   * ({@link Compensation.undoWhatLostTasksMayHaveDone}). A cancel is a cancel here as anywhere.
   */
  async allAtOnce(): Promise<boolean> {
    const { orderId, input, calls, log } = this.context;
    const { items, currency, payment } = input.request;
    const provider = input.settings.paymentProviders[0]!;
    // The lines' own total: the catalog refuses any other price, so it is the amount the payment is for.
    const payingFor = paymentRequest(orderTotal(items), currency, provider);
    const label = `${catalogCheck(items)}, ${RESERVE_STOCK_LABEL} and ${payingFor}`;
    liveStep(asLiveStep(label));
    let done;
    try {
      done = await calls.forwardAtOnce.attemptHere('validateReserveAndRequestPayment', label, {
        orderId,
        items,
        provider,
        currency,
        token: payment.token,
      });
    } catch (err) {
      if (isCancellation(err)) throw err;
      return false;
    }
    const { total, payment: created } = done;
    log.append({ type: 'OrderValidated', data: { total } });
    this.compensation.addReleaseStock();
    log.append({ type: 'StockReserved', data: {} });
    this.compensation.addSettlePayment(provider);
    const { paymentId, checkoutUrl } = created;
    log.append({ type: 'PaymentRequested', data: { provider, paymentId, amount: total, checkoutUrl } });
    return true;
  }

  /** Checks the lines against the catalog and returns the total it prices them at. */
  async validate(): Promise<number> {
    const { orderId, input, calls, log } = this.context;
    const { items } = input.request;
    const label = catalogCheck(items);
    let total: number;
    try {
      ({ total } = await this.context.step(calls.catalogAndInventory, 'validateOrder', label, { orderId, items }));
    } catch (err) {
      const failure = stepFailure(err);
      // What the catalog refuses ends the order before anything has moved; anything else waits for an operator.
      if (failure.kind === 'refused' && REJECTION_CODES.includes(failure.reason.code)) {
        throw new Halt({ kind: 'rejected', reason: failure.reason });
      }
      throw new Halt({ kind: 'attention', step: label, failure });
    }
    log.append({ type: 'OrderValidated', data: { total } });
    return total;
  }

  async reserveStock(): Promise<void> {
    const { orderId, input, calls, log } = this.context;
    this.compensation.addReleaseStock();
    const label = RESERVE_STOCK_LABEL;
    try {
      await this.context.step(calls.catalogAndInventory, 'reserveStock', label, {
        orderId,
        items: input.request.items,
      });
    } catch (err) {
      const failure = stepFailure(err);
      // Out of stock reserves nothing (all or nothing), so there is nothing to undo: the order is simply rejected.
      if (failure.kind === 'refused' && failure.reason.code === Reason.OUT_OF_STOCK) {
        throw new Halt({ kind: 'rejected', reason: failure.reason });
      }
      if (failure.kind === 'unavailable') {
        const reason = { code: Reason.INVENTORY_UNAVAILABLE, message: `${label}: ${failure.message}` };
        throw new Halt({ kind: 'compensate', reason });
      }
      throw new Halt({ kind: 'attention', step: label, failure });
    }
    log.append({ type: 'StockReserved', data: {} });
  }

  /**
   * Asks each provider in turn; the first that answers takes the payment. Only unavailability fails over:
   * a refusal compensates, an answer the saga cannot read waits for an operator.
   */
  async requestPayment(amount: number): Promise<void> {
    const { orderId, input, calls, log } = this.context;
    const { currency, payment } = input.request;
    for (const provider of input.settings.paymentProviders) {
      // Registered before the call: a payment created behind a timed-out answer is still undone.
      this.compensation.addSettlePayment(provider);
      const label = paymentRequest(amount, currency, provider);
      try {
        const created = await this.context.step(calls.paymentCreation, 'createPayment', label, {
          provider,
          orderId,
          amount,
          currency,
          token: payment.token,
        });
        const { paymentId, checkoutUrl } = created;
        log.append({ type: 'PaymentRequested', data: { provider, paymentId, amount, checkoutUrl } });
        return;
      } catch (err) {
        const failure = stepFailure(err);
        if (failure.kind === 'refused' && failure.reason.code === Reason.PAYMENT_DECLINED) {
          throw new Halt({ kind: 'compensate', reason: failure.reason });
        }
        if (failure.kind !== 'unavailable') throw new Halt({ kind: 'attention', step: label, failure });
        log.append({ type: 'PaymentProviderUnavailable', data: { provider, message: failure.message } });
      }
    }
    const reason = { code: Reason.PAYMENT_UNAVAILABLE, message: 'no payment provider could take the payment' };
    throw new Halt({ kind: 'compensate', reason });
  }

  /**
   * Hands the paid order to fulfillment and tells the customer. Fulfillment is the pivot: once it may have
   * taken the order, its goods may ship, and money is never returned for goods that left. So a submission
   * that failed, however it failed (a timeout, a 5xx, an answer the saga cannot read), is cancelled at
   * fulfillment first: cancelled, or never taken, and nothing will ship, so the order compensates; shipped,
   * and the order goes forward; no answer, and an operator decides, the money held meanwhile.
   */
  async confirm(): Promise<void> {
    const { orderId, calls, log } = this.context;
    let failure: StepFailure;
    try {
      return this.confirmed(await this.submitToFulfillment());
    } catch (err) {
      failure = stepFailure(err);
    }
    const label = 'cancel the order at fulfillment, in case it took it';
    let cancelled: FulfillmentCancelOutcome;
    try {
      cancelled = await this.context.step(calls.undoing, 'cancelFulfillment', label, { orderId });
    } catch (err) {
      const cancel = stepFailure(err);
      return this.compensation.askOperator(
        label,
        { ...cancel, message: `${cancel.message}, after the submission failed: ${failure.message}` },
        'Fulfillment may have taken the order: ask it before a refund.',
      );
    }
    // Its goods left: the order goes forward.
    if (cancelled.outcome === 'shipped') return this.confirmed(cancelled.fulfillmentId);
    log.append({ type: 'FulfillmentCancelled', data: { taken: cancelled.outcome === 'cancelled' } });
    const message = `fulfillment failed: ${failure.message}`;
    return this.compensation.compensate({ code: Reason.CONFIRMATION_FAILED, message });
  }

  reject(reason: OrderReason): void {
    this.context.log.append({ type: 'OrderRejected', data: reason });
  }

  private async submitToFulfillment(): Promise<string> {
    const { orderId, input, calls } = this.context;
    const { items, shippingAddress } = input.request;
    const { fulfillmentId } = await this.context.step(calls.fulfillment, 'submitFulfillment', SUBMIT_LABEL, {
      orderId,
      items,
      shippingAddress,
    });
    return fulfillmentId;
  }

  private confirmed(fulfillmentId: string): void {
    this.context.log.append({ type: 'OrderConfirmed', data: { fulfillmentId } });
    this.delivery.tellCustomer('order-confirmed');
  }
}
