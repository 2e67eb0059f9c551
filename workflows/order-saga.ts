import * as wf from '@temporalio/workflow';
import { ApplicationFailure, CancellationScope, isCancellation } from '@temporalio/workflow';
import type { NotificationTemplate } from '../activities/notifications';
import type { FulfillmentCancelOutcome } from '../activities/fulfillment';
import type { SettleOutcome } from '../activities/payments';
import {
  ORDER_CONFLICT,
  type AcceptanceRequest,
  type AcceptedOrder,
  type CancelRequest,
  type LatePayment,
  latePaymentRefundWorkflowId,
  lateStockReleaseWorkflowId,
  type OperatorRequest,
  type OrderWorkflowInput,
  type PaymentCallback,
} from '../domain/contract';
import { orderReceived } from '../domain/evolve';
import { formatAmount } from '../domain/money';
import { orderTotal, type OrderItem } from '../domain/order-request';
import { OperatorAction } from '../domain/operator-actions';
import type { OperatorActionKind } from '../domain/schemas/order-events';
import {
  CANCELLABLE_STATUSES,
  CANCELLATION_SETTLED_STATUSES,
  isCurrentPayment,
  isTerminal,
  type OrderReason,
  type OrderView,
} from '../domain/order-state';
import { PaymentEvent, Status, type OrderStatus } from '../domain/statuses';
import { Reason, REJECTION_CODES } from '../domain/reasons';
import { AFTER_END_OPTIONS, handOver, triedBeforeSupport, type Owed } from './after-end';
import { lateMoney, latePaymentRefundWorkflow } from './late-refund';
import { lateRelease, lateStockReleaseWorkflow } from './late-release';
import { OrderLog } from './order-log';
import { StatusWebhooks } from './status-webhooks';
import { recordDuplicateCallback, recordPaidAfterReminder } from './order-metrics';
import { Compensations } from './saga';
import { signalSchemas } from './signal-payloads';
import { stepFailure, type StepFailure } from './step-failure';
import { StoreRecord } from './store-record';
import { LocalAttempts, SystemCalls, type ActivityArgs, type ActivityName, type ActivityResult } from './system-calls';
import { errorMessage } from '../domain/errors';

/** Catalog and inventory: retried while they are down, for the step's retry budget (see {@link withinBudget}). */
const INVENTORY_OPTIONS: wf.ActivityOptions = {
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '30 seconds' },
  // A reservation in flight lands before its release runs, so a cancel never leaks stock.
  cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
};
/** Payment creation: a few attempts per provider, then fail over to the next one. */
const CREATE_PAYMENT_OPTIONS: wf.ActivityOptions = {
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '500 milliseconds', maximumAttempts: 3 },
  cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
};
/**
 * The three forward steps in one call: bounded as one step's call is (a slower call fails like any other,
 * and the steps then go one by one), and like them it lets a reservation in flight land before a cancel
 * goes on.
 */
const FORWARD_AT_ONCE_OPTIONS: wf.ActivityOptions = {
  startToCloseTimeout: '10 seconds',
  cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
};
/** Reconciliation must get an answer: retried while the provider does not answer, for the step's retry budget. */
const RECONCILE_OPTIONS: wf.ActivityOptions = {
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
};
/** Fulfillment: a bounded outage is waited out; a longer one fails the confirmation and the money goes back. */
const CONFIRM_OPTIONS: wf.ActivityOptions = {
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '500 milliseconds', maximumAttempts: 5 },
};
/** Notifications are best effort: an order never fails because an email could not be sent. */
const NOTIFY_OPTIONS: wf.ActivityOptions = {
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumAttempts: 3 },
};

/** A step's options bounded by its retry budget (`stepGiveUpMs` or `compensationGiveUpMs`). */
function withinBudget(options: wf.ActivityOptions, giveUpMs: number): wf.ActivityOptions {
  return { ...options, startToCloseTimeout: Math.min(10_000, giveUpMs), scheduleToCloseTimeout: giveUpMs };
}

/** Compensations retry for their budget (`compensationGiveUpMs`), then the order waits for an operator. */
const COMPENSATION_OPTIONS: wf.ActivityOptions = {
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '500 milliseconds', maximumInterval: '30 seconds' },
};

/** The fulfillment step's label: the live step support sees, and its call's summary in history. */
const SUBMIT_LABEL = 'submit the order to fulfillment';

/** The compensations' names: what support reads in a prompt, and how the saga knows which it added. */
const RELEASE_STOCK = 'release stock';
const settlePaymentAt = (provider: string) => `settle payment at ${provider}`;

/** Current details: the live step, as the Web UI shows it beside the order. */
function liveStep(details: string): void {
  wf.setCurrentDetails(details);
}

// The forward steps' summaries, alone and in the call that takes the three at once.
const catalogCheck = (items: readonly OrderItem[]) => `check ${items.length} line(s) against the catalog`;
const RESERVE_STOCK_LABEL = 'reserve stock at inventory';
const paymentRequest = (amount: number, currency: string, provider: string) =>
  `request payment of ${formatAmount(amount, currency)} at ${provider}`;

/** A call's summary as the live step reads it: a sentence. */
function asLiveStep(summary: string): string {
  return summary.charAt(0).toUpperCase() + summary.slice(1);
}

/** Where the steps up to payment leave the order. */
type ForwardOutcome =
  | { kind: 'paid' }
  | { kind: 'rejected'; reason: OrderReason }
  | { kind: 'compensate'; reason: OrderReason }
  /** A step got an answer it has no meaning for, or gave up with nothing of its own to undo: an operator decides. */
  | { kind: 'attention'; step: string; failure: StepFailure };

/** Thrown by a forward step that ends the forward steps there, with where the order goes next. */
class Halt {
  constructor(readonly outcome: Exclude<ForwardOutcome, { kind: 'paid' }>) {}
}

/** Statuses at which an order has answered its checkout: it has a payment link, or it has ended. */
const ACCEPTED_STATUSES: readonly OrderStatus[] = Object.values(Status).filter(
  (status) => status !== Status.RECEIVED && status !== Status.RESERVED,
);

/**
 * One order's saga: its event log, what it has been asked (payment callbacks, a cancel, an operator's
 * action), its compensations, and each step it takes. `orderWorkflow` wires the handlers to it and tells
 * the story with its steps.
 */
export class OrderSaga {
  private readonly log: OrderLog;
  private readonly storeRecord: StoreRecord;
  private readonly compensations = new Compensations();
  /** The story runs shielded from a cancellation asked of Temporal itself: it is taken as a support cancel. */
  private readonly storyScope = new CancellationScope({ cancellable: false });
  /** The steps up to a paid order: what a cancel request cancels. */
  private readonly forwardScope = new CancellationScope({ parent: this.storyScope, cancellable: true });
  private readonly callbacks = new Map<string, PaymentCallback>();
  /** How often each callback event came again after the first delivery. */
  private readonly repeats = new Map<string, number>();
  private readonly settledStrays = new Set<string>();
  private cancelRequest: CancelRequest | null = null;
  private operatorRequest: { action: OperatorActionKind; request: OperatorRequest } | null = null;
  // Each call's summary is the line support reads beside it in the Web UI's history: keep them stable, as
  // support searches for them.
  /** The steps up to the payment link in one attempt. */
  private readonly forwardAtOnce: SystemCalls;
  private readonly catalogAndInventory: SystemCalls;
  private readonly paymentCreation: SystemCalls;
  private readonly reconciliation: SystemCalls;
  private readonly fulfillment: SystemCalls;
  private readonly notifications: SystemCalls;
  /**
   * Payment reminders: regular activities throughout. A first attempt here would hold the workflow task
   * open while the notification service answers, and a payment callback would wait for it.
   */
  private readonly reminders: SystemCalls;
  /** The customer's notifications on their way, beside the order's last steps: its end waits for them. */
  private readonly telling: Promise<void>[] = [];
  /** Payment reminders on their way: their events go in the order's log before its webhooks are waited for. */
  private readonly reminding: Promise<void>[] = [];
  private readonly undoing: SystemCalls;
  /** What the order owes once it has ended: each try within the compensation's budget. */
  private readonly afterEnd: SystemCalls;
  /** Null when the order has no webhook endpoint to tell. */
  private readonly webhooks: StatusWebhooks | null;

  constructor(private readonly input: OrderWorkflowInput) {
    const { settings } = input;
    // The steps an order takes when all goes well try here first (see SystemCalls), and the record is
    // written once per workflow task, when none of them is running (OrderLog).
    const here = new LocalAttempts();
    this.forwardAtOnce = new SystemCalls(withinBudget(FORWARD_AT_ONCE_OPTIONS, settings.stepGiveUpMs), here);
    // The endpoints come from the input: fixed for the order's life.
    this.webhooks = settings.webhooks ? new StatusWebhooks(settings.webhooks) : null;
    const webhooks = this.webhooks;
    this.log = new OrderLog(
      input.startWroteFirstEvent === true,
      () => here.busy,
      webhooks && ((event) => webhooks.tell(event)),
    );
    this.storeRecord = new StoreRecord(
      this.log,
      input,
      () => here.busy,
      () => this.answered,
    );
    this.catalogAndInventory = new SystemCalls(withinBudget(INVENTORY_OPTIONS, settings.stepGiveUpMs), here);
    this.paymentCreation = new SystemCalls(CREATE_PAYMENT_OPTIONS, here);
    this.fulfillment = new SystemCalls(CONFIRM_OPTIONS, here);
    this.notifications = new SystemCalls(NOTIFY_OPTIONS, here);
    this.reminders = new SystemCalls(NOTIFY_OPTIONS, null);
    this.reconciliation = new SystemCalls(withinBudget(RECONCILE_OPTIONS, settings.stepGiveUpMs), null);
    this.undoing = new SystemCalls(withinBudget(COMPENSATION_OPTIONS, settings.compensationGiveUpMs), null);
    this.afterEnd = new SystemCalls(withinBudget(AFTER_END_OPTIONS, settings.compensationGiveUpMs), null);
    // The first event before any handler: a buffered update (update-with-start) runs as soon as its handler is set.
    this.log.append(orderReceived(input.request), input.receivedAt);
  }

  private get orderId(): string {
    return this.input.request.orderId;
  }

  get view(): OrderView {
    return this.log.view;
  }

  get events() {
    return this.log.events;
  }

  // ---- What the order is asked, through its handlers

  /** A provider's callback; providers retry, so a repeated event id changes nothing. */
  takeCallback(raw: unknown): void {
    const callback = signalSchemas().PaymentCallback.safeParse(raw);
    if (!callback.success) return wf.log.warn('ignored a malformed payment callback', { orderId: this.orderId });
    const { eventId, provider } = callback.data;
    if (this.callbacks.has(eventId)) {
      const copy = (this.repeats.get(eventId) ?? 0) + 1;
      this.repeats.set(eventId, copy);
      return recordDuplicateCallback(provider, eventId, copy);
    }
    this.callbacks.set(eventId, callback.data);
  }

  /** The validator of the checkout's wait for acceptance: the same order id with another body is a conflict. */
  refuseOtherBody(raw: unknown): void {
    // The hash is the whole check: whatever does not carry the order's own hash is refused.
    if ((raw as Partial<AcceptanceRequest> | null | undefined)?.requestHash !== this.input.requestHash) {
      throw ApplicationFailure.nonRetryable('this order id was placed with another body', ORDER_CONFLICT);
    }
  }

  /** The order once it has answered its checkout (a payment link, or its end): its view and its events. */
  async accepted(): Promise<AcceptedOrder> {
    await wf.condition(() => this.answered);
    return { view: this.log.view, events: this.log.events };
  }

  /** Whether the order has its answer for the checkout. Asked from the first activation, before the first event. */
  private get answered(): boolean {
    return this.log.size > 0 && ACCEPTED_STATUSES.includes(this.log.state.status);
  }

  /** A cancel from the customer or support, taken while the order can still be cancelled, once. */
  requestCancel(raw: unknown): void {
    const request = signalSchemas().CancelRequest.safeParse(raw);
    if (!request.success) return wf.log.warn('ignored a malformed cancel request', { orderId: this.orderId });
    this.cancel(request.data);
  }

  /** Temporal's own cancellation (the Web UI's "Request Cancellation"): a support cancel, as the saga means it. */
  cancelAsSupport(): void {
    this.cancel({ by: 'support', reason: 'cancellation requested through Temporal' });
  }

  private cancel(request: CancelRequest): void {
    const { status } = this.log.state;
    if (!CANCELLABLE_STATUSES.includes(status) || this.cancelRequest) {
      return wf.log.warn('ignored a cancel request', { orderId: this.orderId, status });
    }
    this.cancelRequest = request;
    this.forwardScope.cancel();
  }

  /** The view once a cancel has run its course (or the order could no longer be cancelled). */
  async cancellationSettled(): Promise<OrderView> {
    await wf.condition(() => CANCELLATION_SETTLED_STATUSES.includes(this.log.state.status));
    return this.log.view;
  }

  /** An operator's retry or resolve, taken only while the order waits for one. */
  operatorActs(action: OperatorActionKind, raw: unknown): void {
    const request = signalSchemas().OperatorRequest.safeParse(raw);
    const { status } = this.log.state;
    if (!request.success || status !== Status.REQUIRES_ATTENTION || this.operatorRequest) {
      return wf.log.warn('ignored an operator action', { orderId: this.orderId, action, status });
    }
    this.operatorRequest = { action, request: request.data };
  }

  /**
   * Flags the order for support when a whole SLA period passes without a transition. One timer per period,
   * not one per status: a fast order costs one timer, a stuck one is flagged within one to two periods.
   */
  async flagWhenStuck(): Promise<void> {
    const slaMs = this.input.settings.stateSlaMs;
    let seen = this.log.transitions;
    while (!isTerminal(this.log.state.status)) {
      // An order that waits for a person is on support's list already: no timer runs until it moves on
      // (one per period would add five history events an hour to a month's wait for an operator).
      if (this.log.state.needsAttention) {
        await wf.condition(() => !this.log.state.needsAttention);
        seen = this.log.transitions;
        continue;
      }
      await wf.sleep(slaMs);
      const moved = this.log.transitions !== seen;
      seen = this.log.transitions;
      const { status, needsAttention } = this.log.state;
      if (!moved && !needsAttention && !isTerminal(status)) {
        this.log.append({ type: 'OrderFlaggedStuck', data: { status, slaMs } });
      }
    }
  }

  // ---- The story's steps

  /** Runs the story, which Temporal's own cancellation does not interrupt (see {@link cancelAsSupport}). */
  story(steps: () => Promise<OrderView>): Promise<OrderView> {
    return this.storyScope.run(steps);
  }

  /**
   * Runs the steps up to a paid order, cancellable by the customer or support throughout; a step that
   * halts them says where the order goes, and so does a cancel.
   */
  async untilPaid(steps: () => Promise<ForwardOutcome>): Promise<ForwardOutcome> {
    try {
      return await this.forwardScope.run(async () => {
        try {
          return await steps();
        } catch (err) {
          if (err instanceof Halt) return err.outcome;
          throw err;
        }
      });
    } catch (err) {
      // Once a cancel is requested, whatever ended the forward steps ended them because of it: an attempt
      // already running when the cancel came fails with its own error, not a CancelledFailure.
      if (!this.cancelRequest) throw err;
      return { kind: 'compensate', reason: cancellationReason(this.cancelRequest) };
    }
  }

  /**
   * The steps up to the payment link (validate, reserve stock, request payment at the first provider) in
   * one local activity: an order whose systems all answer gets its link in two activations of its worker
   * instead of four. True when all three went through, recorded as each step records its own. On any
   * failure (a refusal, a system down, a timeout) the record holds none of them, and the order takes the
   * steps one by one from the first, each with its own retries and answers: every step is idempotent, so
   * what this attempt did is found again, not done twice, and what it did that the steps never find again
   * (a reservation behind a catalog that now refuses) is undone as a lost task's would be
   * ({@link undoWhatLostTasksMayHaveDone}). A cancel is a cancel here as anywhere.
   */
  async forwardStepsAtOnce(): Promise<boolean> {
    const { orderId } = this;
    const { items, currency, payment } = this.input.request;
    const provider = this.input.settings.paymentProviders[0]!;
    // The lines' own total: the catalog refuses any other price, so it is the amount the payment is for.
    const payingFor = paymentRequest(orderTotal(items), currency, provider);
    const label = `${catalogCheck(items)}, ${RESERVE_STOCK_LABEL} and ${payingFor}`;
    liveStep(asLiveStep(label));
    let done;
    try {
      done = await this.forwardAtOnce.attemptHere('validateReserveAndRequestPayment', label, {
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
    this.log.append({ type: 'OrderValidated', data: { total } });
    this.addReleaseStock();
    this.log.append({ type: 'StockReserved', data: {} });
    this.addSettlePayment(provider);
    const { paymentId, checkoutUrl } = created;
    this.log.append({ type: 'PaymentRequested', data: { provider, paymentId, amount: total, checkoutUrl } });
    return true;
  }

  /** Checks the lines against the catalog and returns the total it prices them at. */
  async validate(): Promise<number> {
    const { items } = this.input.request;
    const label = catalogCheck(items);
    let total: number;
    try {
      ({ total } = await this.step(this.catalogAndInventory, 'validateOrder', label, { orderId: this.orderId, items }));
    } catch (err) {
      const failure = stepFailure(err);
      // What the catalog refuses ends the order before anything has moved; anything else waits for an operator.
      if (failure.kind === 'refused' && REJECTION_CODES.includes(failure.reason.code)) {
        throw new Halt({ kind: 'rejected', reason: failure.reason });
      }
      throw new Halt({ kind: 'attention', step: label, failure });
    }
    this.log.append({ type: 'OrderValidated', data: { total } });
    return total;
  }

  async reserveStock(): Promise<void> {
    const { orderId } = this;
    this.addReleaseStock();
    const label = RESERVE_STOCK_LABEL;
    try {
      await this.step(this.catalogAndInventory, 'reserveStock', label, { orderId, items: this.input.request.items });
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
    this.log.append({ type: 'StockReserved', data: {} });
  }

  /**
   * Asks each provider in turn; the first that answers takes the payment. Only unavailability fails over:
   * a refusal compensates, an answer the saga cannot read waits for an operator.
   */
  async requestPayment(amount: number): Promise<void> {
    const { orderId } = this;
    const { currency, payment } = this.input.request;
    for (const provider of this.input.settings.paymentProviders) {
      // Registered before the call: a payment created behind a timed-out answer is still undone.
      this.addSettlePayment(provider);
      const label = paymentRequest(amount, currency, provider);
      try {
        const created = await this.step(this.paymentCreation, 'createPayment', label, {
          provider,
          orderId,
          amount,
          currency,
          token: payment.token,
        });
        const { paymentId, checkoutUrl } = created;
        this.log.append({ type: 'PaymentRequested', data: { provider, paymentId, amount, checkoutUrl } });
        return;
      } catch (err) {
        const failure = stepFailure(err);
        if (failure.kind === 'refused' && failure.reason.code === Reason.PAYMENT_DECLINED) {
          throw new Halt({ kind: 'compensate', reason: failure.reason });
        }
        if (failure.kind !== 'unavailable') throw new Halt({ kind: 'attention', step: label, failure });
        this.log.append({ type: 'PaymentProviderUnavailable', data: { provider, message: failure.message } });
      }
    }
    const reason = { code: Reason.PAYMENT_UNAVAILABLE, message: 'no payment provider could take the payment' };
    throw new Halt({ kind: 'compensate', reason });
  }

  /** Waits for the provider's callback within the payment window, then reconciles if it never came. */
  async awaitPayment(): Promise<ForwardOutcome> {
    const { provider, paymentId } = this.log.state.payment!;
    const { paymentWindowMs } = this.input.settings;
    const deadline = new Date(Date.now() + paymentWindowMs).toISOString();
    liveStep(`Waiting for ${provider}'s payment callback for ${paymentId} until ${deadline}`);
    if (await this.callbackWithinWindow(deadline)) {
      const callback = this.currentCallback()!;
      const { eventId } = callback;
      if (callback.type === PaymentEvent['payment.succeeded']) {
        this.log.append({ type: 'PaymentSucceeded', data: { provider, paymentId, eventId } });
        return this.paid();
      }
      const failureReason = callback.failureReason ?? 'payment failed';
      this.log.append({ type: 'PaymentFailed', data: { provider, paymentId, eventId, failureReason } });
      return { kind: 'compensate', reason: { code: Reason.PAYMENT_DECLINED, message: failureReason } };
    }
    this.log.append({ type: 'PaymentWindowExpired', data: { windowMs: paymentWindowMs } });
    return this.reconcile(provider, paymentId);
  }

  /**
   * Waits for the payment's callback until the window closes at `closesAt`, reminding the customer at each
   * of its points meanwhile; true when the callback came.
   */
  private async callbackWithinWindow(closesAt: string): Promise<boolean> {
    const linkAt = Date.now();
    const callbackCame = () => this.currentCallback() !== undefined;
    for (const { point, afterMs } of this.input.settings.paymentReminders) {
      const waitMs = afterMs - (Date.now() - linkAt);
      // A point already past (the workflow ran late, its worker down) is skipped: one reminder, not a burst.
      if (waitMs <= 0) continue;
      if (await wf.condition(callbackCame, waitMs)) return true;
      this.remind(point, closesAt);
    }
    const leftMs = Date.parse(closesAt) - Date.now();
    return leftMs > 0 ? wf.condition(callbackCame, leftMs) : callbackCame();
  }

  /**
   * Reminds the customer to pay, with the payment link, beside the wait: best effort, never holding the
   * order up (a failure is logged). Its event follows the notification service's answer.
   */
  private remind(point: string, closesAt: string): void {
    const { orderId } = this;
    const { provider, paymentId, checkoutUrl } = this.log.state.payment!;
    const { currency } = this.input.request;
    const reminder = { point, checkoutUrl, amount: this.log.state.total, currency, closesAt };
    const sending = (async () => {
      try {
        await this.reminders.call('notifyCustomer', `remind the customer to pay (${point} of the window)`, {
          orderId,
          email: this.input.request.customer.email,
          template: 'payment-reminder',
          reminder,
        });
      } catch (err) {
        return wf.log.warn('payment reminder failed', { orderId, point, error: errorMessage(err) });
      }
      this.log.append({ type: 'PaymentReminderSent', data: { provider, paymentId, point, closesAt } });
    })();
    this.reminding.push(sending);
  }

  /** The order is paid; counted among those paid after a reminder when one was sent. */
  private paid(): ForwardOutcome {
    if (this.log.events.some((event) => event.type === 'PaymentReminderSent')) recordPaidAfterReminder();
    return { kind: 'paid' };
  }

  /** Asks the provider what became of a payment whose callback never came. */
  private async reconcile(provider: string, paymentId: string): Promise<ForwardOutcome> {
    const label = `reconcile ${paymentId} at ${provider}`;
    let status;
    try {
      status = await this.step(this.reconciliation, 'getPaymentStatus', label, { provider, paymentId });
    } catch (err) {
      return { kind: 'attention', step: label, failure: stepFailure(err) };
    }
    const timedOut = `no payment within ${this.input.settings.paymentWindowMs} ms`;
    if (status === null) {
      this.log.append({ type: 'PaymentNotFound', data: { provider, paymentId } });
      const message = `${timedOut}: ${provider} has no record of ${paymentId}`;
      return { kind: 'compensate', reason: { code: Reason.PAYMENT_TIMEOUT, message } };
    }
    this.log.append({ type: 'PaymentReconciled', data: { provider, paymentId, providerStatus: status.status } });
    if (status.status === 'succeeded') return this.paid();
    if (status.status === 'failed') {
      const message = 'the provider reports the payment failed';
      return { kind: 'compensate', reason: { code: Reason.PAYMENT_DECLINED, message } };
    }
    return { kind: 'compensate', reason: { code: Reason.PAYMENT_TIMEOUT, message: timedOut } };
  }

  /**
   * Hands the paid order to fulfillment and tells the customer. Fulfillment is the pivot: once it may have
   * taken the order, its goods may ship, and money is never returned for goods that left. So a submission
   * that failed, however it failed (a timeout, a 5xx, an answer the saga cannot read), is cancelled at
   * fulfillment first: cancelled, or never taken, and nothing will ship, so the order compensates; shipped,
   * and the order goes forward; no answer, and an operator decides, the money held meanwhile.
   */
  async confirm(): Promise<void> {
    let failure: StepFailure;
    try {
      return this.confirmed(await this.submitToFulfillment());
    } catch (err) {
      failure = stepFailure(err);
    }
    const label = 'cancel the order at fulfillment, in case it took it';
    let cancelled: FulfillmentCancelOutcome;
    try {
      cancelled = await this.step(this.undoing, 'cancelFulfillment', label, { orderId: this.orderId });
    } catch (err) {
      const cancel = stepFailure(err);
      return this.askOperator(
        label,
        { ...cancel, message: `${cancel.message}, after the submission failed: ${failure.message}` },
        'Fulfillment may have taken the order: ask it before a refund.',
      );
    }
    // Its goods left: the order goes forward.
    if (cancelled.outcome === 'shipped') return this.confirmed(cancelled.fulfillmentId);
    this.log.append({ type: 'FulfillmentCancelled', data: { taken: cancelled.outcome === 'cancelled' } });
    return this.compensate({ code: Reason.CONFIRMATION_FAILED, message: `fulfillment failed: ${failure.message}` });
  }

  private async submitToFulfillment(): Promise<string> {
    const { items, shippingAddress } = this.input.request;
    const { fulfillmentId } = await this.step(this.fulfillment, 'submitFulfillment', SUBMIT_LABEL, {
      orderId: this.orderId,
      items,
      shippingAddress,
    });
    return fulfillmentId;
  }

  private confirmed(fulfillmentId: string): void {
    this.log.append({ type: 'OrderConfirmed', data: { fulfillmentId } });
    this.tellCustomer('order-confirmed');
  }

  reject(reason: OrderReason): void {
    this.log.append({ type: 'OrderRejected', data: reason });
  }

  /** Runs the compensations in reverse; if some keep failing, waits for an operator to retry or resolve. */
  async compensate(reason: OrderReason): Promise<void> {
    this.log.append({ type: 'CompensationStarted', data: reason });
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
    this.log.append({ type: 'StepFailed', data: { step, code, message: failure.message } });
    const what = failure.kind === 'unavailable' ? 'gave up on its system' : 'got an answer the saga cannot read';
    const pending = this.compensations.pending;
    const undo = pending.length
      ? `undo what the order did (${pending.join(', ')}) and cancel it`
      : 'cancel it (nothing to undo)';
    const action = await this.operatorDecides(
      `Needs an operator: "${step}" ${what} (${failure.message}).${caution ? ` ${caution}` : ''} Retry compensation to ${undo}, or mark resolved once settled by hand.`,
    );
    if (action === OperatorAction['retry-compensation']) await this.undoAll();
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

  /**
   * Waits until the order's webhook endpoints have taken its status events (or been given up on), which
   * can take as long as an endpoint stays down. The workflow stays open for them and takes callbacks
   * meanwhile: stray money that arrives is settled at once, never held until a checkout's endpoint is back.
   * First, any payment reminder still on its way: its event is one the endpoints are told.
   */
  async webhooksDelivered(): Promise<void> {
    await Promise.all(this.reminding);
    const webhooks = this.webhooks;
    if (!webhooks) return;
    liveStep(`${endedAs(this.log.view)}; telling its webhooks`);
    for (;;) {
      await wf.condition(() => webhooks.delivered || this.unsettledStray() !== undefined);
      if (!this.unsettledStray()) return;
      await this.settleStrayPayments();
    }
  }

  /** Waits for the handlers still running, says how the order ended, and returns its view. */
  async end(): Promise<OrderView> {
    await wf.condition(wf.allHandlersFinished);
    liveStep(endedAs(this.log.view));
    // Before the workflow completes: nothing may follow its completion in the task.
    this.log.write();
    // The last record goes beside the customer's notification, which adds nothing to the order's log.
    await Promise.all([this.storeRecord.close(), ...this.telling]);
    return this.log.view;
  }

  // ---- Inside the steps

  /** A forward step: its label is both the live step support sees now and the call's summary in history. */
  private step<K extends ActivityName>(
    system: SystemCalls,
    activity: K,
    label: string,
    ...args: ActivityArgs<K>
  ): Promise<ActivityResult<K>> {
    liveStep(asLiveStep(label));
    return system.call(activity, label, ...args);
  }

  private addReleaseStock(): void {
    this.compensations.add(RELEASE_STOCK, async () => {
      await this.undoing.call('releaseStock', 'release stock at inventory', { orderId: this.orderId });
      this.log.append({ type: 'StockReleased', data: {} });
    });
  }

  /** When it runs, the order usually knows the payment; otherwise settle finds it by order id. */
  private addSettlePayment(provider: string): void {
    this.compensations.add(settlePaymentAt(provider), async () => {
      await this.settle(provider, this.paymentIdAt(provider));
    });
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
    const confirmed = this.log.state.status === Status.CONFIRMED;
    const providers = confirmed ? this.providersFailedOver() : this.providersNeverSettled();
    const release = !confirmed && !this.compensations.wasAdded(RELEASE_STOCK);
    if (!release && providers.length === 0) return;
    if (release) await this.releaseAfterEnd();
    for (const provider of providers) await this.settleAfterEnd({ provider }, 'in case a lost workflow task made one');
  }

  /**
   * Returns money the order does not keep, once it has ended. A provider that keeps refusing puts the order
   * on support's list (`LateMoneyRefused`), and a late refund takes the money over: the order ends.
   */
  private async settleAfterEnd(payment: Pick<LatePayment, 'provider' | 'paymentId'>, why?: string): Promise<void> {
    const { provider, paymentId } = payment;
    const late: LatePayment = {
      ...payment,
      orderId: this.orderId,
      retryEveryMs: this.input.settings.compensationGiveUpMs,
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
  private async releaseAfterEnd(): Promise<void> {
    const { orderId } = this;
    const summary = 'release stock at inventory, in case a lost workflow task reserved it';
    const release = { orderId, retryEveryMs: this.input.settings.compensationGiveUpMs };
    await this.oweAfterEnd(
      lateRelease(release, () => this.afterEnd.call('releaseStock', summary, { orderId })),
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
    this.log.append(owed.refusedEvent(tried.refused));
    owed.countRefused();
    await takeOver();
  }

  private providersNeverSettled(): string[] {
    return this.input.settings.paymentProviders.filter(
      (provider) => !this.compensations.wasAdded(settlePaymentAt(provider)),
    );
  }

  private providersFailedOver(): string[] {
    const kept = this.log.state.payment?.provider;
    const failedOver = new Set<string>();
    for (const event of this.log.events)
      if (event.type === 'PaymentProviderUnavailable' && event.data.provider !== kept)
        failedOver.add(event.data.provider);
    return [...failedOver];
  }

  /** Runs the compensations until all succeed or an operator marks the order resolved; then it is cancelled. */
  private async undoAll(): Promise<void> {
    await CancellationScope.nonCancellable(async () => {
      for (;;) {
        const failures = await this.compensations.run();
        if (failures.length === 0) break;
        const [first] = failures;
        this.log.append({ type: 'CompensationFailed', data: { step: first!.name, message: first!.message } });
        const action = await this.operatorDecides(
          `Needs an operator: "${first!.name}" kept failing (${first!.message}). Retry compensation or mark resolved.`,
        );
        if (action === OperatorAction['mark-resolved']) return;
      }
      this.log.append({ type: 'OrderCancelled', data: {} });
      this.tellCustomer('order-cancelled');
    });
  }

  /** Waits for an operator's action on an order in `REQUIRES_ATTENTION`, with `prompt` as the live step, and records it. */
  private async operatorDecides(prompt: string): Promise<OperatorActionKind> {
    liveStep(prompt);
    await wf.condition(() => this.operatorRequest !== null);
    const { action, request: operator } = this.operatorRequest!;
    liveStep(
      action === OperatorAction['mark-resolved'] ? 'Operator marked it resolved' : 'Operator acted: compensating',
    );
    this.operatorRequest = null;
    this.log.append({ type: 'OperatorAction', data: { action, operator: operator.operator, note: operator.note } });
    return action;
  }

  /** `why` replaces "late money" in the call's summary, for support reading it in the Web UI. */
  private async settle(
    provider: string,
    paymentId?: string,
    options: { late: boolean; why?: string } = { late: false },
  ): Promise<SettleOutcome> {
    const { orderId } = this;
    const why = options.why ?? (options.late ? 'late money' : null);
    const summary = `refund or void ${paymentId ?? `the payment of order ${orderId}`} at ${provider}${why ? ` (${why})` : ''}`;
    const calls = options.late ? this.afterEnd : this.undoing;
    const result = await calls.call('settlePayment', summary, { provider, orderId, paymentId });
    if (result.outcome === 'refunded') {
      const { amount } = result;
      this.log.append({
        type: 'PaymentRefunded',
        data: { provider, paymentId: result.paymentId, amount, late: options.late },
      });
    } else if (result.outcome === 'voided') {
      this.log.append({ type: 'PaymentVoided', data: { provider, paymentId: result.paymentId } });
    } else if (result.outcome === 'not-found') {
      this.log.append({ type: 'PaymentNotFound', data: { provider, paymentId: result.paymentId } });
    }
    return result;
  }

  /** Tells the customer how the order ended, beside what follows; best effort (a failure is logged). */
  private tellCustomer(template: NotificationTemplate): void {
    this.telling.push(this.notify(template));
  }

  private async notify(template: NotificationTemplate): Promise<void> {
    const { orderId } = this;
    try {
      const summary = `notify the customer (${template})`;
      await this.notifications.call('notifyCustomer', summary, {
        orderId,
        email: this.input.request.customer.email,
        template,
      });
    } catch (err) {
      wf.log.warn('customer notification failed', { orderId, template, error: errorMessage(err) });
    }
  }

  private paymentIdAt(provider: string): string | undefined {
    const payment = this.log.state.payment;
    return payment?.provider === provider ? payment.paymentId : undefined;
  }

  /** The first callback about the payment the order is waiting on; others are strays, settled at the end. */
  private currentCallback(): PaymentCallback | undefined {
    for (const callback of this.callbacks.values()) if (isCurrentPayment(this.log.state, callback)) return callback;
    return undefined;
  }

  /** A callback with money the order does not keep, not yet given back. */
  private unsettledStray(): PaymentCallback | undefined {
    return [...this.callbacks.values()].find(
      (callback) => this.isStray(callback) && !this.settledStrays.has(strayKey(callback)),
    );
  }

  private isStray(callback: PaymentCallback): boolean {
    if (callback.type !== PaymentEvent['payment.succeeded']) return false;
    const state = this.log.state;
    if (!isCurrentPayment(state, callback)) return true;
    return state.status !== Status.CONFIRMED && state.payment.status !== 'refunded';
  }
}

function endedAs(view: OrderView): string {
  if (view.status === Status.CONFIRMED) {
    return `Confirmed: ${formatAmount(view.total, view.currency)} paid, handed to fulfillment`;
  }
  const ended = view.status === Status.REJECTED ? 'Rejected' : 'Cancelled';
  return `${ended}: ${view.reason?.code ?? 'no reason'}${view.reason ? ` (${view.reason.message})` : ''}`;
}

function strayKey(callback: PaymentCallback): string {
  return `${callback.provider}/${callback.paymentId}`;
}

function cancellationReason(request: CancelRequest): OrderReason {
  const code = request.by === 'support' ? Reason.CANCELLED_BY_SUPPORT : Reason.CANCELLED_BY_CUSTOMER;
  return { code, message: request.reason ?? `cancelled by ${request.by}` };
}
