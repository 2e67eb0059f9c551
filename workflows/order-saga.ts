import * as wf from '@temporalio/workflow';
import { CancellationScope } from '@temporalio/workflow';
import type { OrderWorkflowInput } from '../domain/contract';
import { isTerminal, type OrderView } from '../domain/order-state';
import { Compensation } from './compensation';
import { EventDelivery } from './event-delivery';
import { MoneySettlement } from './money-settlement';
import { endedAs, liveStep, OrderContext } from './order-context';
import { OrderRequests } from './order-requests';
import { Halt, OrderSteps, type ForwardOutcome } from './order-steps';
import { PaymentWait } from './payment-wait';
import { StoreRecord } from './store-record';

/**
 * One order's saga, by concern: what it is asked ({@link OrderRequests}), its steps forward
 * ({@link OrderSteps}, {@link PaymentWait}), undoing them ({@link Compensation}), the money and stock it
 * gives back ({@link MoneySettlement}), who hears of it ({@link EventDelivery}), and its record. Here: the
 * scopes the story runs in, the stuck-order flag, and its end. `orderWorkflow` wires the handlers to it
 * and tells the story with its parts.
 */
export class OrderSaga {
  readonly requests: OrderRequests;
  readonly steps: OrderSteps;
  readonly paymentWait: PaymentWait;
  readonly compensation: Compensation;
  readonly money: MoneySettlement;
  readonly delivery: EventDelivery;
  private readonly context: OrderContext;
  private readonly storeRecord: StoreRecord;
  /** The story runs shielded from a cancellation asked of Temporal itself: it is taken as a support cancel. */
  private readonly storyScope = new CancellationScope({ cancellable: false });
  /** The steps up to a paid order: what a cancel request cancels. */
  private readonly forwardScope = new CancellationScope({ parent: this.storyScope, cancellable: true });

  constructor(input: OrderWorkflowInput) {
    const context = new OrderContext(input);
    this.context = context;
    this.requests = new OrderRequests(context, () => this.forwardScope.cancel());
    this.storeRecord = new StoreRecord(
      context.log,
      input,
      () => context.calls.here.busy,
      () => this.requests.answered,
    );
    this.money = new MoneySettlement(context, this.requests);
    this.delivery = new EventDelivery(context, this.money);
    this.compensation = new Compensation(context, this.requests, this.money, this.delivery);
    this.steps = new OrderSteps(context, this.compensation, this.delivery);
    this.paymentWait = new PaymentWait(context, this.requests, this.delivery);
    context.receive();
  }

  get view(): OrderView {
    return this.context.log.view;
  }

  get events() {
    return this.context.log.events;
  }

  /** Runs the story, which Temporal's own cancellation does not interrupt (see {@link OrderRequests.cancelAsSupport}). */
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
      const reason = this.requests.cancellation;
      if (!reason) throw err;
      return { kind: 'compensate', reason };
    }
  }

  /**
   * Flags the order for support when a whole SLA period passes without a transition. One timer per period,
   * not one per status: a fast order costs one timer, a stuck one is flagged within one to two periods.
   */
  async flagWhenStuck(): Promise<void> {
    const { log, input } = this.context;
    const slaMs = input.settings.stateSlaMs;
    let seen = log.transitions;
    while (!isTerminal(log.state.status)) {
      // An order that waits for a person is on support's list already: no timer runs until it moves on
      // (one per period would add five history events an hour to a month's wait for an operator).
      if (log.state.needsAttention) {
        await wf.condition(() => !log.state.needsAttention);
        seen = log.transitions;
        continue;
      }
      await wf.sleep(slaMs);
      const moved = log.transitions !== seen;
      seen = log.transitions;
      const { status, needsAttention } = log.state;
      if (!moved && !needsAttention && !isTerminal(status)) {
        log.append({ type: 'OrderFlaggedStuck', data: { status, slaMs } });
      }
    }
  }

  /** Waits for the handlers still running, says how the order ended, and returns its view. */
  async end(): Promise<OrderView> {
    const { log } = this.context;
    await wf.condition(wf.allHandlersFinished);
    liveStep(endedAs(log.view));
    // Before the workflow completes: nothing may follow its completion in the task.
    log.write();
    // The last record goes beside the customer's notification, which adds nothing to the order's log.
    await Promise.all([this.storeRecord.close(), this.delivery.toldCustomer]);
    return log.view;
  }
}
