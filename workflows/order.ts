import * as wf from '@temporalio/workflow';
import { ApplicationFailure, CancellationScope } from '@temporalio/workflow';
import type { OrderActivities } from '../activities';
import type { NotificationTemplate } from '../activities/notifications';
import {
  AcceptanceRequest,
  awaitAcceptanceUpdate,
  CancelRequest,
  awaitCancellationUpdate,
  cancelOrderSignal,
  getEventsQuery,
  getOrderQuery,
  markResolvedSignal,
  OperatorRequest,
  ORDER_CONFLICT,
  OrderWorkflowInput,
  PaymentCallback,
  paymentCallbackSignal,
  retryCompensationSignal,
} from '../domain/contract';
import type { OperatorActionKind } from '../domain/order-events';
import {
  CANCELLABLE_STATUSES,
  CANCELLATION_SETTLED_STATUSES,
  isCurrentPayment,
  isTerminal,
  Status,
  type OrderReason,
  type OrderStatus,
  type OrderView,
} from '../domain/order-state';
import { Reason, REJECTION_CODES } from '../domain/reasons';
import { formatAmount } from '../domain/money';
import { orderReceived } from '../domain/evolve';
import { OrderLog } from './order-log';
import { Compensations } from './saga';
import { recordDuplicateCallback } from './order-metrics';
import { LATE_MONEY_OPTIONS, untilSettled } from './late-refund';
import { failureMessage, stepFailure, type StepFailure } from './step-failure';

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

/**
 * A forward step's options bounded by its retry budget (`stepGiveUpMs`; none for orders started before it
 * existed, which retry without end as they did then).
 */
function withinBudget(options: wf.ActivityOptions, giveUpMs: number | undefined): wf.ActivityOptions {
  if (giveUpMs === undefined) return options;
  return { ...options, startToCloseTimeout: Math.min(10_000, giveUpMs), scheduleToCloseTimeout: giveUpMs };
}

/** Compensations retry until `compensationGiveUpMs`, then the order waits for an operator. */
function compensationOptions(giveUpMs: number): wf.ActivityOptions {
  return {
    startToCloseTimeout: Math.min(10_000, giveUpMs),
    scheduleToCloseTimeout: giveUpMs,
    retry: { initialInterval: '500 milliseconds', maximumInterval: '30 seconds' },
  };
}

/** The activities with `options`, each call labelled with `summary`: the line support reads in the Web UI. */
function activities(options: wf.ActivityOptions, summary: string) {
  return wf.proxyActivities<OrderActivities>({ ...options, summary });
}

/** Where the steps up to payment leave the order. */
type ForwardOutcome =
  | { kind: 'paid' }
  | { kind: 'rejected'; reason: OrderReason }
  | { kind: 'compensate'; reason: OrderReason }
  /** A step got an answer it has no meaning for, or gave up with nothing of its own to undo: an operator decides. */
  | { kind: 'attention'; step: string; failure: StepFailure };

/** Statuses at which an order has answered its checkout: it has a payment link, or it has ended. */
const ACCEPTED_STATUSES: readonly OrderStatus[] = Object.values(Status).filter(
  (status) => status !== Status.RECEIVED && status !== Status.RESERVED,
);

/**
 * One customer order as a saga: validate → reserve stock → request payment → await the provider's
 * callback (reconciling when it never comes) → confirm; on any failure, compensate in reverse order.
 */
export async function orderWorkflow(rawInput: OrderWorkflowInput): Promise<OrderView> {
  const input = OrderWorkflowInput.safeParse(rawInput);
  // The API parsed this input with the same schema: a mismatch is our bug. It fails the workflow task, so
  // Temporal retries it until a fix is deployed, instead of failing the order.
  if (!input.success) throw new TypeError(`invalid order input: ${input.error.message}`);
  const { request, settings } = input.data;
  const { orderId } = request;

  const log = new OrderLog(input.data.startWroteFirstEvent === true);
  const compensations = new Compensations();
  // The story runs shielded from a cancellation asked of Temporal itself (the Web UI's "Request
  // Cancellation"): that is taken as a support cancel below, so the saga, not Temporal, decides what it means.
  const story = new CancellationScope({ cancellable: false });
  const forward = new CancellationScope({ parent: story, cancellable: true });
  const callbacks = new Map<string, PaymentCallback>();
  const settledStrays = new Set<string>();
  let cancelRequest: CancelRequest | null = null;
  let operatorRequest: { action: OperatorActionKind; request: OperatorRequest } | null = null;
  const compensationOpts = compensationOptions(settings.compensationGiveUpMs);

  // The first event before any handler: a buffered update (update-with-start) runs as soon as its handler is set.
  log.append(orderReceived(request), input.data.receivedAt);
  // Then the handlers, before the first await: callbacks and requests may already be waiting in history.
  wf.setHandler(getOrderQuery, () => log.view);
  wf.setHandler(getEventsQuery, () => log.events);
  wf.setHandler(paymentCallbackSignal, (raw) => {
    const callback = PaymentCallback.safeParse(raw);
    if (!callback.success) return wf.log.warn('ignored a malformed payment callback', { orderId });
    // Providers retry; the event id makes a repeated callback change nothing.
    if (callbacks.has(callback.data.eventId)) return recordDuplicateCallback(callback.data.provider);
    callbacks.set(callback.data.eventId, callback.data);
  });
  wf.setHandler(
    awaitAcceptanceUpdate,
    async () => {
      await wf.condition(() => ACCEPTED_STATUSES.includes(log.state.status));
      return log.view;
    },
    {
      validator: (raw) => {
        const request = AcceptanceRequest.safeParse(raw);
        if (!request.success || request.data.requestHash !== input.data.requestHash) {
          throw ApplicationFailure.nonRetryable('this order id was placed with another body', ORDER_CONFLICT);
        }
      },
    },
  );
  const requestCancel = (request: CancelRequest) => {
    if (!CANCELLABLE_STATUSES.includes(log.state.status) || cancelRequest) {
      return wf.log.warn('ignored a cancel request', { orderId, status: log.state.status });
    }
    cancelRequest = request;
    forward.cancel();
  };
  wf.setHandler(cancelOrderSignal, (raw) => {
    const request = CancelRequest.safeParse(raw);
    if (!request.success) return wf.log.warn('ignored a malformed cancel request', { orderId });
    requestCancel(request.data);
  });
  CancellationScope.current().cancelRequested.catch(() =>
    requestCancel({ by: 'support', reason: 'cancellation requested through Temporal' }),
  );
  wf.setHandler(awaitCancellationUpdate, async () => {
    await wf.condition(() => CANCELLATION_SETTLED_STATUSES.includes(log.state.status));
    return log.view;
  });
  const onOperator = (action: OperatorActionKind) => (raw: OperatorRequest) => {
    const request = OperatorRequest.safeParse(raw);
    if (!request.success || log.state.status !== Status.REQUIRES_ATTENTION || operatorRequest) {
      return wf.log.warn('ignored an operator action', { orderId, action, status: log.state.status });
    }
    operatorRequest = { action, request: request.data };
  };
  wf.setHandler(retryCompensationSignal, onOperator('retry-compensation'));
  wf.setHandler(markResolvedSignal, onOperator('mark-resolved'));

  void wf.CancellationScope.nonCancellable(() => flagStuckStates());
  return story.run(async () => {
    let outcome: ForwardOutcome;
    try {
      outcome = await forward.run(untilPaid);
    } catch (err) {
      // Once a cancel is requested, whatever ended the forward steps ended them because of it: an attempt
      // already running when the cancel came fails with its own error, not a CancelledFailure.
      if (!cancelRequest) throw err;
      outcome = { kind: 'compensate', reason: cancellationReason(cancelRequest) };
    }
    if (outcome.kind === 'rejected') log.append({ type: 'OrderRejected', data: outcome.reason });
    else if (outcome.kind === 'compensate') await compensate(outcome.reason);
    else if (outcome.kind === 'attention') await askOperator(outcome.step, outcome.failure);
    else await confirm();

    await settleStrayPayments();
    await wf.condition(wf.allHandlersFinished);
    liveStep(endedAs(log.view));
    return log.view;
  });

  /** Steps up to a paid order; cancellable by the customer or support throughout. */
  async function untilPaid(): Promise<ForwardOutcome> {
    const inventoryOptions = withinBudget(INVENTORY_OPTIONS, settings.stepGiveUpMs);
    let total: number;
    const validate = `check ${request.items.length} line(s) against the catalog`;
    try {
      liveStep('Validating prices and SKUs against the catalog');
      ({ total } = await activities(inventoryOptions, validate).validateOrder({ orderId, items: request.items }));
    } catch (err) {
      const failure = stepFailure(err);
      // What the catalog refuses ends the order before anything has moved; anything else waits for an operator.
      if (failure.kind === 'refused' && REJECTION_CODES.includes(failure.reason.code))
        return { kind: 'rejected', reason: failure.reason };
      return { kind: 'attention', step: validate, failure };
    }
    log.append({ type: 'OrderValidated', data: { total } });

    compensations.add('release stock', async () => {
      await activities(compensationOpts, 'release stock at inventory').releaseStock({ orderId });
      log.append({ type: 'StockReleased', data: {} });
    });
    const reserve = 'reserve stock at inventory';
    try {
      liveStep('Reserving stock at inventory');
      await activities(inventoryOptions, reserve).reserveStock({ orderId, items: request.items });
    } catch (err) {
      const failure = stepFailure(err);
      // Out of stock reserves nothing (all or nothing), so there is nothing to undo: the order is simply rejected.
      if (failure.kind === 'refused' && failure.reason.code === Reason.OUT_OF_STOCK)
        return { kind: 'rejected', reason: failure.reason };
      if (failure.kind === 'unavailable') {
        return {
          kind: 'compensate',
          reason: { code: Reason.INVENTORY_UNAVAILABLE, message: `${reserve}: ${failure.message}` },
        };
      }
      return { kind: 'attention', step: reserve, failure };
    }
    log.append({ type: 'StockReserved', data: {} });

    const requested = await requestPayment(total);
    return requested ?? awaitPayment();
  }

  /**
   * Asks each provider in turn; the first that answers takes the payment. Returns where the order goes when
   * no payment could be requested, or null when one was. Only unavailability fails over: a refusal
   * compensates, an answer the saga cannot read waits for an operator.
   */
  async function requestPayment(amount: number): Promise<ForwardOutcome | null> {
    for (const provider of settings.paymentProviders) {
      // Registered before the call: a payment created behind a timed-out answer is still undone.
      // When it runs, the order usually knows the payment by then; otherwise settle finds it by order id.
      compensations.add(`settle payment at ${provider}`, () => settle(provider, paymentIdAt(provider)));
      const step = `request payment of ${formatAmount(amount, request.currency)} at ${provider}`;
      try {
        liveStep(`Requesting payment of ${formatAmount(amount, request.currency)} at ${provider}`);
        const created = await activities(CREATE_PAYMENT_OPTIONS, step).createPayment({
          provider,
          orderId,
          amount,
          currency: request.currency,
          token: request.payment.token,
        });
        log.append({
          type: 'PaymentRequested',
          data: { provider, paymentId: created.paymentId, amount, checkoutUrl: created.checkoutUrl },
        });
        return null;
      } catch (err) {
        const failure = stepFailure(err);
        if (failure.kind === 'refused' && failure.reason.code === Reason.PAYMENT_DECLINED)
          return { kind: 'compensate', reason: failure.reason };
        if (failure.kind !== 'unavailable') return { kind: 'attention', step, failure };
        log.append({ type: 'PaymentProviderUnavailable', data: { provider, message: failure.message } });
      }
    }
    return {
      kind: 'compensate',
      reason: { code: Reason.PAYMENT_UNAVAILABLE, message: 'no payment provider could take the payment' },
    };
  }

  /** Waits for the provider's callback within the payment window, then reconciles if it never came. */
  async function awaitPayment(): Promise<ForwardOutcome> {
    const { provider, paymentId } = log.state.payment!;
    const deadline = new Date(Date.now() + settings.paymentWindowMs).toISOString();
    liveStep(`Waiting for ${provider}'s payment callback for ${paymentId} until ${deadline}`);
    const arrived = await wf.condition(() => currentCallback() !== undefined, settings.paymentWindowMs);
    if (arrived) {
      const callback = currentCallback()!;
      if (callback.type === 'payment.succeeded') {
        log.append({ type: 'PaymentSucceeded', data: { provider, paymentId, eventId: callback.eventId } });
        return { kind: 'paid' };
      }
      const failureReason = callback.failureReason ?? 'payment failed';
      log.append({ type: 'PaymentFailed', data: { provider, paymentId, eventId: callback.eventId, failureReason } });
      return { kind: 'compensate', reason: { code: Reason.PAYMENT_DECLINED, message: failureReason } };
    }
    log.append({ type: 'PaymentWindowExpired', data: { windowMs: settings.paymentWindowMs } });
    liveStep(`No callback within the payment window: asking ${provider} about ${paymentId}`);
    const reconcile = `reconcile ${paymentId} at ${provider}`;
    let status;
    try {
      status = await activities(withinBudget(RECONCILE_OPTIONS, settings.stepGiveUpMs), reconcile).getPaymentStatus({
        provider,
        paymentId,
      });
    } catch (err) {
      return { kind: 'attention', step: reconcile, failure: stepFailure(err) };
    }
    const timedOut = `no payment within ${settings.paymentWindowMs} ms`;
    if (status === null) {
      log.append({ type: 'PaymentNotFound', data: { provider, paymentId } });
      return {
        kind: 'compensate',
        reason: { code: Reason.PAYMENT_TIMEOUT, message: `${timedOut}: ${provider} has no record of ${paymentId}` },
      };
    }
    log.append({ type: 'PaymentReconciled', data: { provider, paymentId, providerStatus: status.status } });
    if (status.status === 'succeeded') return { kind: 'paid' };
    if (status.status === 'failed') {
      return {
        kind: 'compensate',
        reason: { code: Reason.PAYMENT_DECLINED, message: 'the provider reports the payment failed' },
      };
    }
    return { kind: 'compensate', reason: { code: Reason.PAYMENT_TIMEOUT, message: timedOut } };
  }

  function paymentIdAt(provider: string): string | undefined {
    const payment = log.state.payment;
    return payment?.provider === provider ? payment.paymentId : undefined;
  }

  /** The first callback about the payment the order is waiting on; others are strays, settled at the end. */
  function currentCallback(): PaymentCallback | undefined {
    for (const callback of callbacks.values()) if (isCurrentPayment(log.state, callback)) return callback;
    return undefined;
  }

  /**
   * Hands the paid order to fulfillment and tells the customer. A fulfillment that cannot be reached is
   * refunded; one that answers what the saga cannot read may have taken the order, so an operator decides.
   */
  async function confirm(): Promise<void> {
    let fulfillmentId: string;
    const submit = 'submit the order to fulfillment';
    try {
      liveStep('Paid: handing the order to fulfillment');
      ({ fulfillmentId } = await activities(CONFIRM_OPTIONS, submit).submitFulfillment({
        orderId,
        items: request.items,
        shippingAddress: request.shippingAddress,
      }));
    } catch (err) {
      const failure = stepFailure(err);
      if (failure.kind !== 'unavailable') return askOperator(submit, failure);
      return compensate({ code: Reason.CONFIRMATION_FAILED, message: `fulfillment failed: ${failure.message}` });
    }
    log.append({ type: 'OrderConfirmed', data: { fulfillmentId } });
    await notify('order-confirmed');
  }

  /** Runs the compensations in reverse; if some keep failing, waits for an operator to retry or resolve. */
  async function compensate(reason: OrderReason): Promise<void> {
    log.append({ type: 'CompensationStarted', data: reason });
    liveStep(`Compensating (${reason.code}): undoing the steps taken, last first`);
    await undoAll();
  }

  /**
   * A step the saga cannot give a meaning to: the order waits in `REQUIRES_ATTENTION` until an operator
   * has it compensated (retry compensation) or settles it by hand (mark resolved).
   */
  async function askOperator(step: string, failure: StepFailure): Promise<void> {
    const code = failure.kind === 'unavailable' ? Reason.RETRIES_EXHAUSTED : Reason.UNEXPECTED_ANSWER;
    log.append({ type: 'StepFailed', data: { step, code, message: failure.message } });
    const what = failure.kind === 'unavailable' ? 'gave up on its system' : 'got an answer the saga cannot read';
    const undo = compensations.pending.length
      ? `undo what the order did (${compensations.pending.join(', ')}) and cancel it`
      : 'cancel it (nothing to undo)';
    const action = await operatorDecides(
      `Needs an operator: "${step}" ${what} (${failure.message}). Retry compensation to ${undo}, or mark resolved once settled by hand.`,
    );
    if (action === 'retry-compensation') await undoAll();
  }

  /** Runs the compensations until all succeed or an operator marks the order resolved; then it is cancelled. */
  async function undoAll(): Promise<void> {
    await CancellationScope.nonCancellable(async () => {
      for (;;) {
        const failures = await compensations.run();
        if (failures.length === 0) break;
        const [first] = failures;
        log.append({ type: 'CompensationFailed', data: { step: first!.name, message: first!.message } });
        const action = await operatorDecides(
          `Needs an operator: "${first!.name}" kept failing (${first!.message}). Retry compensation or mark resolved.`,
        );
        if (action === 'mark-resolved') return;
      }
      log.append({ type: 'OrderCancelled', data: {} });
      await notify('order-cancelled');
    });
  }

  /** Waits for an operator's action on an order in `REQUIRES_ATTENTION`, with `prompt` as the live step, and records it. */
  async function operatorDecides(prompt: string): Promise<OperatorActionKind> {
    liveStep(prompt);
    await wf.condition(() => operatorRequest !== null);
    liveStep('Operator acted: compensating again');
    const { action, request: operator } = operatorRequest!;
    operatorRequest = null;
    log.append({ type: 'OperatorAction', data: { action, operator: operator.operator, note: operator.note } });
    return action;
  }

  async function settle(provider: string, paymentId?: string, options = { late: false }): Promise<void> {
    const summary = `refund or void ${paymentId ?? `the payment of order ${orderId}`} at ${provider}${options.late ? ' (late money)' : ''}`;
    const result = await activities(options.late ? LATE_MONEY_OPTIONS : compensationOpts, summary).settlePayment({
      provider,
      orderId,
      paymentId,
    });
    if (result.outcome === 'refunded') {
      log.append({
        type: 'PaymentRefunded',
        data: { provider, paymentId: result.paymentId, amount: result.amount, late: options.late },
      });
    } else if (result.outcome === 'voided') {
      log.append({ type: 'PaymentVoided', data: { provider, paymentId: result.paymentId } });
    } else if (result.outcome === 'not-found') {
      log.append({ type: 'PaymentNotFound', data: { provider, paymentId: result.paymentId } });
    }
  }

  /**
   * Money that arrived for a payment the order does not keep (a late success after cancel, a provider
   * the saga failed over from) goes back, once per payment.
   */
  async function settleStrayPayments(): Promise<void> {
    for (;;) {
      const stray = [...callbacks.values()].find(
        (callback) => isStray(callback) && !settledStrays.has(strayKey(callback)),
      );
      if (!stray) return;
      settledStrays.add(strayKey(stray));
      // The order has ended: money that cannot be returned yet is tried again, never a reason to fail it.
      await untilSettled(`${stray.paymentId} at ${stray.provider}`, settings.compensationGiveUpMs, () =>
        settle(stray.provider, stray.paymentId, { late: true }),
      );
    }
  }

  function isStray(callback: PaymentCallback): boolean {
    if (callback.type !== 'payment.succeeded') return false;
    const state = log.state;
    if (!isCurrentPayment(state, callback)) return true;
    return state.status !== Status.CONFIRMED && state.payment.status !== 'refunded';
  }

  async function notify(template: NotificationTemplate): Promise<void> {
    try {
      await activities(NOTIFY_OPTIONS, `notify the customer (${template})`).notifyCustomer({
        orderId,
        email: request.customer.email,
        template,
      });
    } catch (err) {
      wf.log.warn('customer notification failed', { orderId, template, error: failureMessage(err) });
    }
  }

  /**
   * Flags the order for support when a whole SLA period passes without a transition. One timer per period,
   * not one per status: a fast order costs one timer, a stuck one is flagged within one to two periods.
   */
  async function flagStuckStates(): Promise<void> {
    const slaMs = settings.stateSlaMs;
    let seen = log.transitions;
    while (!isTerminal(log.state.status)) {
      await wf.sleep(slaMs);
      const moved = log.transitions !== seen;
      seen = log.transitions;
      const { status, needsAttention } = log.state;
      if (!moved && !needsAttention && !isTerminal(status))
        log.append({ type: 'OrderFlaggedStuck', data: { status, slaMs } });
    }
  }
}

/** Current details: the live step, as the Web UI shows it beside the order. */
function liveStep(details: string): void {
  wf.setCurrentDetails(details);
}

function endedAs(view: OrderView): string {
  if (view.status === Status.CONFIRMED)
    return `Confirmed: ${formatAmount(view.total, view.currency)} paid, handed to fulfillment`;
  return `${view.status === Status.REJECTED ? 'Rejected' : 'Cancelled'}: ${view.reason?.code ?? 'no reason'}${view.reason ? ` (${view.reason.message})` : ''}`;
}

function strayKey(callback: PaymentCallback): string {
  return `${callback.provider}/${callback.paymentId}`;
}

function cancellationReason(request: CancelRequest): OrderReason {
  const code = request.by === 'support' ? Reason.CANCELLED_BY_SUPPORT : Reason.CANCELLED_BY_CUSTOMER;
  return { code, message: request.reason ?? `cancelled by ${request.by}` };
}
