import * as wf from '@temporalio/workflow';
import type { OrderActivities } from '../activities';
import { webhookTaskQueue, type WebhookSettings } from '../domain/contract';
import { errorMessage } from '../domain/errors';
import { OrderSearchAttributes } from '../domain/search-attributes';
import type { StatusEvent } from '../domain/status-events';
import { recordWebhookTrouble } from './order-metrics';

/** A delivery's retries: soon at first, then at most every five minutes, for as long as the call is given. */
const DELIVERY_OPTIONS: wf.ActivityOptions = {
  // Above the worker's HTTP timeout, so an attempt that hangs fails on its own clock first; an attempt lost
  // with its worker is tried again after this.
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 minutes' },
};

/** One endpoint's deliveries for this order: what is still to go, oldest first. */
interface EndpointQueue {
  id: string;
  wants: (event: StatusEvent) => boolean;
  pending: StatusEvent[];
  failing: boolean;
  gaveUp: boolean;
}

/**
 * Tells the order's webhook endpoints of its status changes (docs/API.md, "Order webhooks"): each endpoint
 * in order, one event after the other, each retried with backoff for `giveUpMs`. Each endpoint's deliveries
 * run beside the saga's steps, never in their way: a receiver that is down delays nothing but its own
 * events. One that fails past `flagAfterMs` flags the order `WebhooksFailing` for support (cleared once it
 * takes the event), is counted and logged; one that fails past `giveUpMs` hears nothing more of this order.
 */
export class StatusWebhooks {
  private readonly queues: EndpointQueue[];
  private flagged = false;
  private readonly deliverStatusEvent: wf.ActivityInterfaceFor<OrderActivities>['deliverStatusEvent'];

  constructor(private readonly settings: WebhookSettings) {
    this.deliverStatusEvent = wf.proxyActivities<OrderActivities>({
      ...DELIVERY_OPTIONS,
      taskQueue: webhookTaskQueue(wf.workflowInfo().taskQueue),
    }).deliverStatusEvent;
    this.queues = settings.endpoints.map(({ id, events }) => ({
      id,
      wants: (event) => !events || events.includes(event.type),
      pending: [],
      failing: false,
      gaveUp: false,
    }));
    // One loop per endpoint for the workflow's life, in a scope no cancel of the order reaches.
    for (const queue of this.queues) void wf.CancellationScope.nonCancellable(() => this.deliverInTurn(queue));
  }

  /** Queues `event` for every endpoint that hears its type. */
  tell(event: StatusEvent): void {
    for (const queue of this.queues) if (!queue.gaveUp && queue.wants(event)) queue.pending.push(event);
  }

  /** Whether every endpoint has taken (or been given up on for) every event told so far. */
  get delivered(): boolean {
    return this.queues.every((queue) => queue.pending.length === 0);
  }

  private async deliverInTurn(queue: EndpointQueue): Promise<never> {
    for (;;) {
      await wf.condition(() => queue.pending.length > 0);
      const event = queue.pending[0]!;
      if (await this.deliver(queue, event)) queue.pending.shift();
      else this.giveUp(queue, event);
    }
  }

  /** True once the endpoint took `event`; false when it failed for `giveUpMs`. */
  private async deliver(queue: EndpointQueue, event: StatusEvent): Promise<boolean> {
    const summary = `${event.type} to ${queue.id}`;
    const call = (scheduleToCloseTimeout: number) =>
      this.deliverStatusEvent.executeWithOptions({ summary, scheduleToCloseTimeout }, [{ endpoint: queue.id, event }]);
    const startedAt = Date.now();
    try {
      await call(Math.min(this.settings.flagAfterMs, this.settings.giveUpMs));
      return true;
    } catch (err) {
      if (!(err instanceof wf.ActivityFailure)) throw err;
      this.flag(queue, event, errorMessage(err));
    }
    const left = this.settings.giveUpMs - (Date.now() - startedAt);
    if (left <= 0) return false;
    try {
      await call(left);
      this.unflag(queue);
      return true;
    } catch (err) {
      if (!(err instanceof wf.ActivityFailure)) throw err;
      return false;
    }
  }

  private flag(queue: EndpointQueue, event: StatusEvent, error: string): void {
    wf.log.warn('order webhook failing: still retrying', { endpoint: queue.id, event: event.id, error });
    recordWebhookTrouble('failing', queue.id, event.id);
    queue.failing = true;
    this.index();
  }

  private unflag(queue: EndpointQueue): void {
    wf.log.info('order webhook delivered after failing', { endpoint: queue.id });
    queue.failing = false;
    this.index();
  }

  /** The endpoint stays down past its budget: what is left for it is dropped, the flag stays up. */
  private giveUp(queue: EndpointQueue, event: StatusEvent): void {
    wf.log.error('order webhook given up: the endpoint hears nothing more of this order', {
      endpoint: queue.id,
      event: event.id,
      dropped: queue.pending.length - 1,
    });
    recordWebhookTrouble('givenUp', queue.id, event.id);
    queue.gaveUp = true;
    queue.pending = [];
  }

  /** `WebhooksFailing` says whether any endpoint is failing now (or was given up on); written when it changes. */
  private index(): void {
    const failing = this.queues.some((queue) => queue.failing || queue.gaveUp);
    if (failing === this.flagged) return;
    this.flagged = failing;
    wf.upsertSearchAttributes([{ key: OrderSearchAttributes.webhooksFailing, value: failing }]);
  }
}
