import * as wf from '@temporalio/workflow';
import { msToNumber } from '@temporalio/common/lib/time';
import type { OrderWorkflowInput } from '../domain/contract';
import { orderReceived } from '../domain/evolve';
import { formatAmount } from '../domain/money';
import type { OrderView } from '../domain/order-state';
import { Status } from '../domain/statuses';
import { AFTER_END_OPTIONS } from './after-end';
import { OrderLog } from './order-log';
import { CompensationStack } from './compensation-stack';
import { StatusWebhooks } from './status-webhooks';
import { LocalAttempts, SystemCalls, type ActivityArgs, type ActivityName, type ActivityResult } from './system-calls';

/** One attempt of a call to a system: above the HTTP call's own bound (`HTTP_TIMEOUT_MS`, 5 s by default). */
const ATTEMPT_TIMEOUT = '10 seconds';

/** Catalog and inventory: retried while they are down, for the step's retry budget (see {@link withinBudget}). */
const INVENTORY_OPTIONS: wf.ActivityOptions = {
  startToCloseTimeout: ATTEMPT_TIMEOUT,
  retry: { initialInterval: '500 milliseconds', maximumInterval: '30 seconds' },
  // A reservation in flight lands before its release runs, so a cancel never leaks stock.
  cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
};
/** Payment creation: a few attempts per provider, then fail over to the next one. */
const CREATE_PAYMENT_OPTIONS: wf.ActivityOptions = {
  startToCloseTimeout: ATTEMPT_TIMEOUT,
  retry: { initialInterval: '500 milliseconds', maximumAttempts: 3 },
  cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
};
/**
 * The three forward steps in one call: bounded as one step's call is (a slower call fails like any other,
 * and the steps then go one by one), and like them it lets a reservation in flight land before a cancel
 * goes on.
 */
const FORWARD_AT_ONCE_OPTIONS: wf.ActivityOptions = {
  startToCloseTimeout: ATTEMPT_TIMEOUT,
  cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
};
/** Reconciliation must get an answer: retried while the provider does not answer, for the step's retry budget. */
const RECONCILE_OPTIONS: wf.ActivityOptions = {
  startToCloseTimeout: ATTEMPT_TIMEOUT,
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
};
/** Fulfillment: a bounded outage is waited out; a longer one fails the confirmation and the money goes back. */
const CONFIRM_OPTIONS: wf.ActivityOptions = {
  startToCloseTimeout: ATTEMPT_TIMEOUT,
  retry: { initialInterval: '500 milliseconds', maximumAttempts: 5 },
};
/** Notifications are best effort: an order never fails because an email could not be sent. */
const NOTIFY_OPTIONS: wf.ActivityOptions = {
  startToCloseTimeout: ATTEMPT_TIMEOUT,
  retry: { initialInterval: '1 second', maximumAttempts: 3 },
};
/** Compensations retry for their budget (`compensationGiveUpMs`), then the order waits for an operator. */
const COMPENSATION_OPTIONS: wf.ActivityOptions = {
  startToCloseTimeout: ATTEMPT_TIMEOUT,
  retry: { initialInterval: '500 milliseconds', maximumInterval: '30 seconds' },
};

/** A step's options bounded by its retry budget (`stepGiveUpMs` or `compensationGiveUpMs`). */
function withinBudget(options: wf.ActivityOptions, giveUpMs: number): wf.ActivityOptions {
  const attemptMs = Math.min(msToNumber(options.startToCloseTimeout ?? ATTEMPT_TIMEOUT), giveUpMs);
  return { ...options, startToCloseTimeout: attemptMs, scheduleToCloseTimeout: giveUpMs };
}

/**
 * How the order calls each of its systems. Each call's summary is the line support reads beside it in the
 * Web UI's history: keep them stable, as support searches for them.
 */
export class OrderCalls {
  /** The steps an order takes when all goes well try here first (see SystemCalls). */
  readonly here = new LocalAttempts();
  /** The steps up to the payment link in one attempt. */
  readonly forwardAtOnce: SystemCalls;
  readonly catalogAndInventory: SystemCalls;
  readonly paymentCreation: SystemCalls;
  readonly reconciliation: SystemCalls;
  readonly fulfillment: SystemCalls;
  readonly notifications: SystemCalls;
  /**
   * Payment reminders: regular activities throughout. A first attempt here would hold the workflow task
   * open while the notification service answers, and a payment callback would wait for it.
   */
  readonly reminders: SystemCalls;
  readonly undoing: SystemCalls;
  /** What the order owes once it has ended: each try within the compensation's budget. */
  readonly afterEnd: SystemCalls;

  constructor({ stepGiveUpMs, compensationGiveUpMs }: OrderWorkflowInput['settings']) {
    const { here } = this;
    this.forwardAtOnce = new SystemCalls(withinBudget(FORWARD_AT_ONCE_OPTIONS, stepGiveUpMs), here);
    this.catalogAndInventory = new SystemCalls(withinBudget(INVENTORY_OPTIONS, stepGiveUpMs), here);
    this.paymentCreation = new SystemCalls(CREATE_PAYMENT_OPTIONS, here);
    this.fulfillment = new SystemCalls(CONFIRM_OPTIONS, here);
    this.notifications = new SystemCalls(NOTIFY_OPTIONS, here);
    this.reminders = new SystemCalls(NOTIFY_OPTIONS, null);
    this.reconciliation = new SystemCalls(withinBudget(RECONCILE_OPTIONS, stepGiveUpMs), null);
    this.undoing = new SystemCalls(withinBudget(COMPENSATION_OPTIONS, compensationGiveUpMs), null);
    this.afterEnd = new SystemCalls(withinBudget(AFTER_END_OPTIONS, compensationGiveUpMs), null);
  }
}

/** Current details: the live step, as the Web UI shows it beside the order. */
export function liveStep(details: string): void {
  wf.setCurrentDetails(details);
}

/** A call's summary as the live step reads it: a sentence. */
export function asLiveStep(summary: string): string {
  return summary.charAt(0).toUpperCase() + summary.slice(1);
}

/** The live step of an ended order: how it ended. */
export function endedAs(view: OrderView): string {
  if (view.status === Status.CONFIRMED) {
    return `Confirmed: ${formatAmount(view.total, view.currency)} paid, handed to fulfillment`;
  }
  const ended = view.status === Status.REJECTED ? 'Rejected' : 'Cancelled';
  return `${ended}: ${view.reason?.code ?? 'no reason'}${view.reason ? ` (${view.reason.message})` : ''}`;
}

/**
 * What every part of one order's saga shares: its input, its event log, how it calls its systems, and its
 * stack of compensations.
 */
export class OrderContext {
  readonly orderId: string;
  readonly calls: OrderCalls;
  readonly log: OrderLog;
  readonly compensations = new CompensationStack();
  /** Null when the order has no webhook endpoint to tell. */
  readonly webhooks: StatusWebhooks | null;

  constructor(readonly input: OrderWorkflowInput) {
    this.orderId = input.request.orderId;
    this.calls = new OrderCalls(input.settings);
    // The endpoints come from the input: fixed for the order's life.
    const webhooks = input.settings.webhooks ? new StatusWebhooks(input.settings.webhooks) : null;
    this.webhooks = webhooks;
    // The record is written once per workflow task, when no first attempt is running (OrderLog).
    this.log = new OrderLog(
      input.startWroteFirstEvent === true,
      () => this.calls.here.busy,
      webhooks && ((event) => webhooks.tell(event)),
    );
  }

  /** The first event, before any handler: a buffered update (update-with-start) runs as soon as its handler is set. */
  receive(): void {
    this.log.append(orderReceived(this.input.request), this.input.receivedAt);
  }

  /** A step: its label is both the live step support sees now and the call's summary in history. */
  step<K extends ActivityName>(
    system: SystemCalls,
    activity: K,
    label: string,
    ...args: ActivityArgs<K>
  ): Promise<ActivityResult<K>> {
    liveStep(asLiveStep(label));
    return system.call(activity, label, ...args);
  }
}
