import * as wf from '@temporalio/workflow';
import { ApplicationFailure } from '@temporalio/workflow';
import {
  ORDER_CONFLICT,
  type AcceptanceRequest,
  type AcceptedOrder,
  type CancelRequest,
  type OperatorRequest,
  type PaymentCallback,
} from '../domain/contract';
import { OperatorAction } from '../domain/operator-actions';
import {
  CANCELLABLE_STATUSES,
  CANCELLATION_SETTLED_STATUSES,
  isCurrentPayment,
  type OrderReason,
  type OrderView,
} from '../domain/order-state';
import { Reason } from '../domain/reasons';
import type { OperatorActionKind } from '../domain/schemas/order-events';
import { Status, type OrderStatus } from '../domain/statuses';
import { liveStep, type OrderContext } from './order-context';
import { recordDuplicateCallback } from './order-metrics';
import { signalSchemas } from './signal-payloads';

/** Statuses at which an order has answered its checkout: it has a payment link, or it has ended. */
const ACCEPTED_STATUSES: readonly OrderStatus[] = Object.values(Status).filter(
  (status) => status !== Status.RECEIVED && status !== Status.RESERVED,
);

/**
 * What the order is asked through its handlers, and what it has taken of it: payment callbacks, a cancel,
 * an operator's action, the checkout's wait for its answer.
 */
export class OrderRequests {
  private readonly callbacks = new Map<string, PaymentCallback>();
  /** How often each callback event came again after the first delivery. */
  private readonly repeats = new Map<string, number>();
  private cancelRequest: CancelRequest | null = null;
  private operatorRequest: { action: OperatorActionKind; request: OperatorRequest } | null = null;

  /** @param onCancel stops the steps up to a paid order, once a cancel is taken. */
  constructor(
    private readonly context: OrderContext,
    private readonly onCancel: () => void,
  ) {}

  /** A provider's callback; providers retry, so a repeated event id changes nothing. */
  takeCallback(raw: unknown): void {
    const callback = signalSchemas().PaymentCallback.safeParse(raw);
    if (!callback.success)
      return wf.log.warn('ignored a malformed payment callback', { orderId: this.context.orderId });
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
    if ((raw as Partial<AcceptanceRequest> | null | undefined)?.requestHash !== this.context.input.requestHash) {
      throw ApplicationFailure.nonRetryable('this order id was placed with another body', ORDER_CONFLICT);
    }
  }

  /** The order once it has answered its checkout (a payment link, or its end): its view and its events. */
  async accepted(): Promise<AcceptedOrder> {
    await wf.condition(() => this.answered);
    return { view: this.context.log.view, events: this.context.log.events };
  }

  /** Whether the order has its answer for the checkout. Asked from the first activation, before the first event. */
  get answered(): boolean {
    const { log } = this.context;
    return log.size > 0 && ACCEPTED_STATUSES.includes(log.state.status);
  }

  /** A cancel from the customer or support, taken while the order can still be cancelled, once. */
  requestCancel(raw: unknown): void {
    const request = signalSchemas().CancelRequest.safeParse(raw);
    if (!request.success) return wf.log.warn('ignored a malformed cancel request', { orderId: this.context.orderId });
    this.cancel(request.data);
  }

  /** Temporal's own cancellation (the Web UI's "Request Cancellation"): a support cancel, as the saga means it. */
  cancelAsSupport(): void {
    this.cancel({ by: 'support', reason: 'cancellation requested through Temporal' });
  }

  private cancel(request: CancelRequest): void {
    const { status } = this.context.log.state;
    if (!CANCELLABLE_STATUSES.includes(status) || this.cancelRequest) {
      return wf.log.warn('ignored a cancel request', { orderId: this.context.orderId, status });
    }
    this.cancelRequest = request;
    this.onCancel();
  }

  /** Why the order is being cancelled; null while no cancel was taken. */
  get cancellation(): OrderReason | null {
    const request = this.cancelRequest;
    if (!request) return null;
    const code = request.by === 'support' ? Reason.CANCELLED_BY_SUPPORT : Reason.CANCELLED_BY_CUSTOMER;
    return { code, message: request.reason ?? `cancelled by ${request.by}` };
  }

  /** The view once a cancel has run its course (or the order could no longer be cancelled). */
  async cancellationSettled(): Promise<OrderView> {
    await wf.condition(() => CANCELLATION_SETTLED_STATUSES.includes(this.context.log.state.status));
    return this.context.log.view;
  }

  /** An operator's retry or resolve, taken only while the order waits for one. */
  operatorActs(action: OperatorActionKind, raw: unknown): void {
    const request = signalSchemas().OperatorRequest.safeParse(raw);
    const { status } = this.context.log.state;
    if (!request.success || status !== Status.REQUIRES_ATTENTION || this.operatorRequest) {
      return wf.log.warn('ignored an operator action', { orderId: this.context.orderId, action, status });
    }
    this.operatorRequest = { action, request: request.data };
  }

  /** Waits for an operator's action on an order in `REQUIRES_ATTENTION`, with `prompt` as the live step, and records it. */
  async operatorDecides(prompt: string): Promise<OperatorActionKind> {
    liveStep(prompt);
    await wf.condition(() => this.operatorRequest !== null);
    const { action, request: operator } = this.operatorRequest!;
    liveStep(
      action === OperatorAction['mark-resolved'] ? 'Operator marked it resolved' : 'Operator acted: compensating',
    );
    this.operatorRequest = null;
    this.context.log.append({
      type: 'OperatorAction',
      data: { action, operator: operator.operator, note: operator.note },
    });
    return action;
  }

  /** The first callback about the payment the order is waiting on; others are strays, settled at the end. */
  currentCallback(): PaymentCallback | undefined {
    for (const callback of this.callbacks.values()) {
      if (isCurrentPayment(this.context.log.state, callback)) return callback;
    }
    return undefined;
  }

  /** Every payment callback taken, once per event. */
  get allCallbacks(): Iterable<PaymentCallback> {
    return this.callbacks.values();
  }
}
