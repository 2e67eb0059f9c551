import * as wf from '@temporalio/workflow';
import { ActivityFailure, isCancellation } from '@temporalio/workflow';
import type { OrderActivities } from '../activities';
import type { OrderWorkflowInput } from '../domain/contract';
import { errorMessage } from '../domain/errors';
import type { OrderEvent } from '../domain/schemas/order-events';
import type { OrderView } from '../domain/order-state';
import { OrderSearchAttributes } from '../domain/search-attributes';
import { recordStoreBehind } from './order-metrics';
import { LocalAttempts, SystemCalls } from './system-calls';

/**
 * The store's writes: a local attempt first, then a regular activity that retries for as long as the
 * store stays down (its retries add nothing to history). The store's own outage is never a reason to
 * give up the order's record.
 */
const RECORD_OPTIONS: wf.ActivityOptions = {
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
};
/** How long a write may keep failing before the order is flagged `StoreBehind` for operations. */
export const STORE_FLAG_AFTER_MS = 60_000;
/** The summary support reads beside each write in the Web UI's history. */
export const STORE_RECORD_SUMMARY = 'record the order in the store of record';

/** What the record needs of the order's log. */
export interface RecordedLog {
  /** How many events the log holds. */
  readonly size: number;
  readonly events: OrderEvent[];
  readonly view: OrderView;
}

/**
 * Keeps the store of record up with the order's log (store/order-store.ts), beside the saga's steps and
 * never in their way: once per workflow task that appended events, when nothing else runs in it (as the
 * memo is written), with every event since the last write. Not until the order has answered its checkout
 * (a payment link, or its end), and not for the events that answer holds, so that the answer waits for no
 * write: the API placed the first event with the order's id, and writes the events of the answer (the
 * acceptance update's); the first write after it holds them again. An answer that came after the API
 * stopped waiting (it answered 202) went to nobody: the workflow writes its events at once. The last
 * write, {@link close}, says the order ended, and goes at once, beside a notification still running (one
 * activation fewer); the workflow completes only after it, so Temporal never forgets an order the store
 * does not hold whole.
 *
 * A write that keeps failing past {@link STORE_FLAG_AFTER_MS} flags the order `StoreBehind`, is counted
 * and logged, and goes on until the store takes it; the flag is cleared then.
 */
export class StoreRecord {
  private written = 0;
  private closing = false;
  private closed = false;
  private flagged = false;
  private readonly firstHere: SystemCalls;
  private readonly recordOrder: wf.ActivityInterfaceFor<OrderActivities>['recordOrder'];

  private readonly orderId: string;
  private readonly requestHash: string;
  /** When the API that placed the order no longer waits for its answer (its clock and the server's may differ). */
  private readonly apiWaitsUntil: number;

  /**
   * @param taskBusy whether something more runs in the workflow task (a local activity in flight).
   * @param answered whether the order has answered its checkout.
   */
  constructor(
    private readonly log: RecordedLog,
    input: OrderWorkflowInput,
    taskBusy: () => boolean,
    answered: () => boolean,
  ) {
    this.orderId = input.request.orderId;
    this.requestHash = input.requestHash;
    // Half its wait: an answer the API may have missed is written again, which costs one write; one it
    // missed and nobody wrote would list the order as just placed until its next event.
    this.apiWaitsUntil = Date.parse(input.receivedAt) + input.settings.answerWaitMs / 2;
    this.firstHere = new SystemCalls(RECORD_OPTIONS, new LocalAttempts());
    this.recordOrder = wf.proxyActivities<OrderActivities>(RECORD_OPTIONS).recordOrder;
    void wf.CancellationScope.nonCancellable(() => this.keepUp(taskBusy, answered));
  }

  /** Writes the order's last record, and returns once the store holds it. */
  async close(): Promise<void> {
    this.closing = true;
    await wf.condition(() => this.closed);
  }

  private async keepUp(taskBusy: () => boolean, answered: () => boolean): Promise<never> {
    await wf.condition(() => answered() || this.closing);
    // The events the API writes with the checkout's answer, if it still waits for it.
    const answeredWith = Date.now() < this.apiWaitsUntil ? this.log.size : 0;
    for (;;) {
      // The last write goes at once, beside whatever still runs (the customer's notification).
      await wf.condition(
        () => (this.closing && !this.closed) || (!taskBusy() && this.log.size > Math.max(this.written, answeredWith)),
      );
      const closing = this.closing;
      const events = this.log.events;
      await this.write({
        orderId: this.orderId,
        requestHash: this.requestHash,
        events: events.slice(this.written),
        view: this.log.view,
        lastSeq: events.length,
        closed: closing,
      });
      this.written = events.length;
      if (closing) this.closed = true;
    }
  }

  private async write(record: Parameters<OrderActivities['recordOrder']>[0]): Promise<void> {
    try {
      return await this.firstHere.attemptHere('recordOrder', STORE_RECORD_SUMMARY, record);
    } catch (err) {
      if (isCancellation(err)) throw err;
    }
    try {
      return await this.recordOrder.executeWithOptions(
        { summary: STORE_RECORD_SUMMARY, scheduleToCloseTimeout: STORE_FLAG_AFTER_MS },
        [record],
      );
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      this.flag(true, record.lastSeq, errorMessage(err));
    }
    await this.recordOrder.executeWithOptions({ summary: STORE_RECORD_SUMMARY }, [record]);
    this.flag(false, record.lastSeq);
  }

  private flag(behind: boolean, lastSeq: number, error?: string): void {
    if (behind === this.flagged) return;
    this.flagged = behind;
    if (behind) {
      wf.log.error('the store of record keeps refusing the order: still trying', { orderId: this.orderId, error });
      recordStoreBehind(lastSeq);
    } else {
      wf.log.info('the store of record took the order after failing', { orderId: this.orderId });
    }
    wf.upsertSearchAttributes([{ key: OrderSearchAttributes.storeBehind, value: behind }]);
  }
}
