import * as wf from '@temporalio/workflow';
import { evolve } from '../domain/evolve';
import type { OrderEvent, OrderEventBody } from '../domain/schemas/order-events';
import { memoAfter, recordedEvent } from '../domain/order-record';
import { toOrderView, type OrderState, type OrderView } from '../domain/order-state';
import { orderStateSearchAttributes, statusChangeSearchAttributes } from '../domain/search-attributes';
import { heardAs, statusEvent, type StatusEvent } from '../domain/status-events';
import { recordEventMetrics } from './order-metrics';

/**
 * The order's event log inside the workflow: the only way its state changes. Every event goes through
 * `evolve`, then into the memo (the new view, and the events themselves, so the history alone holds the
 * event log) and, where they changed, into the search attributes, so support can read the order without a
 * worker. Both are written once per workflow task, with every event since the last write (see
 * {@link OrderLog.writeWhenIdle}): one memo and one attribute write instead of one per event.
 */
export class OrderLog {
  private readonly recorded: OrderEvent[] = [];
  private current: OrderState | null = null;
  private readonly indexed = new Map<string, unknown>();
  private statusChanges = 0;
  /** The status changes `StatusChangedAt` was last written for (the start's first event, when it wrote it). */
  private indexedStatusChanges: number;
  /** Events not yet in the memo. */
  private unwritten: OrderEvent[] = [];

  /**
   * @param startWroteFirstEvent the start request already put the first event in the memo and set the
   *   search attributes (the input says so): what it wrote needs no second write, each upsert being a
   *   history event and a visibility write. The attributes it set come from the start event, so replay
   *   sees the same values. Without the flag (a start not made by the API) both are written again.
   * @param taskBusy says whether something more runs in the workflow task (a local activity in flight):
   *   the memo and the attributes are written once it says no.
   * @param tell hears each status change a checkout hears about (the order's webhooks), as it is appended.
   */
  constructor(
    private readonly startWroteFirstEvent: boolean,
    taskBusy: () => boolean,
    private readonly tell: ((event: StatusEvent) => void) | null = null,
  ) {
    this.indexedStatusChanges = startWroteFirstEvent ? 1 : 0;
    // Started before any event: a condition is checked once as it is set, then only once the task's code
    // has run, which is when this one must be.
    void wf.CancellationScope.nonCancellable(() => this.writeWhenIdle(taskBusy));
    if (!startWroteFirstEvent) return;
    for (const { key, value } of wf.workflowInfo().typedSearchAttributes.getAll()) this.indexed.set(key.name, value);
  }

  /** How many events so far changed the order's status (the stuck-order watchdog's measure of progress). */
  get transitions(): number {
    return this.statusChanges;
  }

  get state(): OrderState {
    if (!this.current) throw new Error('the order has no events yet');
    return this.current;
  }

  get view(): OrderView {
    return toOrderView(this.state);
  }

  get events(): OrderEvent[] {
    return [...this.recorded];
  }

  get size(): number {
    return this.recorded.length;
  }

  /** Records one event at workflow time (or at `at`, for a moment fixed by the input). */
  append(body: OrderEventBody, at: string = new Date().toISOString()): OrderState {
    const event = recordedEvent(this.recorded.length + 1, body, at);
    const before = this.current?.status;
    // An illegal transition throws a plain error: a bug in our code, so it fails the workflow task, which
    // Temporal retries until a fix is deployed; the order is never failed by it.
    this.current = evolve(this.current, event);
    this.recorded.push(event);
    const statusChanged = this.current.status !== before;
    if (statusChanged) this.statusChanges++;
    const heard = this.tell && heardAs(event.type, this.current.status, statusChanged);
    if (heard) this.tell!(statusEvent(event.seq, at, heard, toOrderView(this.current)));
    // The workflow logger is replay-safe, and adds the workflow id and run id to the line.
    wf.log.info('order event', {
      orderId: this.current.orderId,
      seq: event.seq,
      event: event.type,
      status: this.current.status,
    });
    recordEventMetrics(event, before, this.current);
    // What the start wrote is not written again.
    if (!(this.recorded.length === 1 && this.startWroteFirstEvent)) this.unwritten.push(event);
    return this.current;
  }

  /**
   * Writes the events appended since the last write, once the workflow task has nothing left to run in the
   * worker: no local activity in flight (`busy`). The task then completes with one memo and one attribute
   * write for all the events it appended. Runs for the workflow's life, in a scope no cancel reaches.
   */
  private async writeWhenIdle(busy: () => boolean): Promise<never> {
    for (;;) {
      await wf.condition(() => this.unwritten.length > 0 && !busy());
      this.write();
    }
  }

  /** Writes what is unwritten now: the memo and the changed search attributes (before the workflow completes). */
  write(): void {
    if (this.unwritten.length > 0) {
      wf.upsertMemo(memoAfter(toOrderView(this.state), this.unwritten));
      this.unwritten = [];
    }
    if (this.current) this.index(this.current);
  }

  private index(state: OrderState): void {
    const changed = orderStateSearchAttributes(state).filter(({ key, value }) => this.indexed.get(key.name) !== value);
    for (const { key, value } of changed) this.indexed.set(key.name, value);
    // Counted, not compared: a status that changed and changed back within one task still moved.
    if (this.statusChanges !== this.indexedStatusChanges) {
      changed.push(...statusChangeSearchAttributes(state.updatedAt));
      this.indexedStatusChanges = this.statusChanges;
    }
    if (changed.length > 0) wf.upsertSearchAttributes(changed);
  }
}
