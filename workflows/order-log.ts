import * as wf from '@temporalio/workflow';
import { evolve } from '../domain/evolve';
import type { OrderEvent, OrderEventBody } from '../domain/order-events';
import { memoAfter, recordedEvent } from '../domain/order-record';
import { toOrderView, type OrderState, type OrderView } from '../domain/order-state';
import { orderStateSearchAttributes } from '../domain/search-attributes';
import { recordEventMetrics } from './order-metrics';

/**
 * The order's event log inside the workflow: the only way its state changes. Every event goes through
 * `evolve`, then into the memo (the new view, and the event itself, so the history alone holds the event
 * log) and, where they changed, into the search attributes, so support can read the order without a worker.
 */
export class OrderLog {
  private readonly recorded: OrderEvent[] = [];
  private current: OrderState | null = null;
  private readonly indexed = new Map<string, unknown>();
  private statusChanges = 0;
  /**
   * @param startWroteFirstEvent the start request already put the first event in the memo and set the
   *   search attributes (the input says so): what it wrote needs no second write, each upsert being a
   *   history event and a visibility write. The attributes it set come from the start event, so replay
   *   sees the same values. Without the flag (orders started before it existed) both are written again,
   *   as they were then, so those histories replay unchanged.
   */
  constructor(private readonly startWroteFirstEvent: boolean) {
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

  /** Records one event at workflow time (or at `at`, for a moment fixed by the input). */
  append(body: OrderEventBody, at: string = new Date().toISOString()): OrderState {
    const event = recordedEvent(this.recorded.length + 1, body, at);
    const before = this.current?.status;
    // An illegal transition throws a plain error: a bug in our code, so it fails the workflow task, which
    // Temporal retries until a fix is deployed; the order is never failed by it.
    this.current = evolve(this.current, event);
    if (this.current.status !== before) this.statusChanges++;
    this.recorded.push(event);
    // The workflow logger is replay-safe, and adds the workflow id and run id to the line.
    wf.log.info('order event', {
      orderId: this.current.orderId,
      seq: event.seq,
      event: event.type,
      status: this.current.status,
    });
    recordEventMetrics(event, before, this.current);
    if (!(this.recorded.length === 1 && this.startWroteFirstEvent)) {
      wf.upsertMemo(memoAfter(toOrderView(this.current), event));
    }
    this.index(this.current);
    return this.current;
  }

  private index(state: OrderState): void {
    const changed = orderStateSearchAttributes(state).filter(({ key, value }) => this.indexed.get(key.name) !== value);
    if (changed.length === 0) return;
    for (const { key, value } of changed) this.indexed.set(key.name, value);
    wf.upsertSearchAttributes(changed);
  }
}
