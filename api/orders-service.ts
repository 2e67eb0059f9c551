import {
  isGrpcServiceError,
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowIdReusePolicy,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import { createHash } from 'node:crypto';
import { ApplicationFailure, type TypedSearchAttributes } from '@temporalio/common';
import { z } from 'zod';
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import {
  awaitAcceptanceUpdate,
  awaitCancellationUpdate,
  cancelOrderSignal,
  LATE_REFUND_WORKFLOW_TYPE,
  latePaymentRefundWorkflowId,
  markResolvedSignal,
  ORDER_CONFLICT,
  ORDER_WORKFLOW_TYPE,
  orderWorkflowId,
  paymentCallbackSignal,
  retryCompensationSignal,
  type CancelRequest,
  type LatePayment,
  type PaymentCallback,
  type SagaSettings,
} from '../domain/contract';
import { OperatorAction } from '../domain/operator-actions';
import { OrderEvent, type OperatorActionKind } from '../domain/schemas/order-events';
import { MemoKey } from '../domain/order-record';
import type { OrderRequest } from '../domain/order-request';
import { isCurrentPayment, NOT_CANCELLABLE_STATUSES } from '../domain/order-state';
import { PaymentEvent, Status } from '../domain/statuses';
import { viewInMemo } from '../domain/schemas/order-record';
import { OrderView } from '../domain/schemas/order-state';
import { OrderSearchAttributes } from '../domain/search-attributes';
import { OrderSummary, type ListOrdersQuery } from './http-schemas';
import { orderStartOptions } from './start-order';
import { closedOtherwise, shownView } from './closed-orders';
import { GrpcCode, isTemporalUnavailable } from './temporal-unavailable';
import type {
  OrderFilter,
  OrderRecord,
  OrderStore,
  PagePosition,
  StoredOrder as KeptOrder,
} from '../store/order-store';
import type { PinoLogger } from '../observability/logger';

/** `unknown`: Temporal could not say within the deadline whether the order was recorded (it may yet be). */
export type PlaceOutcome =
  { kind: 'created' | 'existing' | 'accepted' | 'rejected'; view: OrderView } | { kind: 'conflict' | 'unknown' };
/** `unknown`: Temporal could not say within the deadline whether the cancel was recorded. */
export type CancelOutcome =
  { kind: 'cancelled' | 'in-progress' | 'not-cancellable'; view: OrderView } | { kind: 'not-found' | 'unknown' };
/**
 * What became of a callback: taken by its running order; late money sent to a refund (`refund-started`),
 * or already on its way back (`refund-exists`, a provider's retry); a repeated success for the order's own
 * confirmed payment (`already-settled`); a failure about an order that has ended or never was (`ignored`).
 */
export type CallbackOutcome = 'signalled' | 'refund-started' | 'refund-exists' | 'already-settled' | 'ignored';
export type OperatorOutcome =
  { kind: 'signalled' | 'not-in-attention' | 'closed'; view: OrderView } | { kind: 'not-found' };

/** A stored order as the server knows it, with no worker involved. */
interface StoredOrder {
  view: OrderView;
  requestHash: string | null;
  running: boolean;
}

export class InvalidPageTokenError extends Error {
  override readonly name = 'InvalidPageTokenError';
}

export interface OrdersServiceOptions {
  taskQueue: string;
  saga: SagaSettings;
  /**
   * How long POST /orders (and cancel) waits for the workflow before it answers "accepted" (202); and how
   * long any other call waits for Temporal before the API answers 503: no request hangs on a server that
   * does not answer.
   */
  acceptTimeoutMs: number;
  /** Where a store of record that does not answer is told (the API's logger). */
  logger: PinoLogger;
}

/** The store of record did not answer, and Temporal no longer holds the order: nobody can say what it is. */
export class OrderStoreUnavailableError extends Error {
  override readonly name = 'OrderStoreUnavailableError';
}

/**
 * What the API does with Temporal: starts order workflows, signals and updates them, and reads their
 * state from the memo and the history, so every read answers with no worker running.
 */
export class OrdersService {
  constructor(
    private readonly client: Client,
    private readonly store: OrderStore,
    private readonly options: OrdersServiceOptions,
  ) {}

  /**
   * POST /orders: one order per id (update-with-start), waiting a bounded time for its payment link. One
   * round trip in the common case: the order's `createdAt` is this request's `receivedAt` only if this
   * request created it, and the workflow refuses the update when the body differs (409).
   *
   * `answerOnceStarted`: the API is busy (the start waited in line), so the order is only started, a
   * durable entry in Temporal's queue, and answered 202 at once; its payment link comes by stream, webhook
   * or poll. The line then drains at the rate Temporal takes starts, not the rate orders reach their links.
   */
  async place(request: OrderRequest, { answerOnceStarted = false } = {}): Promise<PlaceOutcome> {
    const { workflowType, options, input, firstEvent, initialView } = orderStartOptions(
      request,
      this.options.saga,
      this.options.taskQueue,
    );
    // An id is used once, ever: the store of record knows every order Temporal has forgotten.
    const known = await this.claimInStore({
      orderId: request.orderId,
      requestHash: input.requestHash,
      events: [firstEvent],
      view: initialView,
      lastSeq: firstEvent.seq,
    });
    if (known && known.requestHash !== input.requestHash) return { kind: 'conflict' };
    if (known?.closed) return { kind: 'existing', view: known.view };
    if (answerOnceStarted) {
      try {
        await this.withinDeadline(() => this.client.workflow.start(workflowType, options));
      } catch (err) {
        return this.afterFailedStart(request.orderId, input.requestHash, input.receivedAt, err);
      }
      await this.markPlacedInStore(request.orderId);
      return { kind: 'accepted', view: initialView };
    }
    const startWorkflowOperation = new WithStartWorkflowOperation(workflowType, {
      ...options,
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
    try {
      const accepted = await this.withinDeadline(() =>
        this.client.workflow.executeUpdateWithStart(awaitAcceptanceUpdate, {
          args: [{ requestHash: input.requestHash }],
          startWorkflowOperation,
        }),
      );
      const view = OrderView.parse(accepted.view);
      await this.recordInStore({
        orderId: request.orderId,
        requestHash: input.requestHash,
        events: accepted.events,
        view,
        lastSeq: accepted.events.length,
        closed: false,
      });
      if (view.createdAt !== input.receivedAt) return { kind: 'existing', view };
      return { kind: view.status === Status.REJECTED ? 'rejected' : 'created', view };
    } catch (err) {
      if (failureType(err) === ORDER_CONFLICT) return { kind: 'conflict' };
      return this.afterFailedStart(request.orderId, input.requestHash, input.receivedAt, err);
    }
  }

  /**
   * A start that failed or got no answer in time: a closed order with this id, one already running, no
   * worker, or a silent server. The order Temporal holds decides, if Temporal can tell (the store's claim
   * is no order: its start may have failed). When it cannot, the start may still land: the caller's retry
   * will find out.
   */
  private async afterFailedStart(
    orderId: string,
    requestHash: string,
    receivedAt: string,
    err: unknown,
  ): Promise<PlaceOutcome> {
    let stored: StoredOrder | null;
    try {
      stored = await this.fromTemporal(orderId, FALLBACK_READ_DEADLINE_MS);
    } catch (readErr) {
      if (isTemporalUnavailable(readErr)) return { kind: 'unknown' };
      throw readErr;
    }
    if (!stored) {
      if (isTemporalUnavailable(err)) return { kind: 'unknown' };
      throw err;
    }
    if (stored.requestHash !== requestHash) return { kind: 'conflict' };
    const ours = stored.view.createdAt === receivedAt;
    // Temporal holds the order: the store's claim is an order now, listed though its answer is not written.
    await this.markPlacedInStore(orderId);
    return {
      kind: ours && !(err instanceof WorkflowExecutionAlreadyStartedError) ? 'accepted' : 'existing',
      view: stored.view,
    };
  }

  /**
   * Hands a verified payment callback to its order. A workflow that is running takes it as a signal (durable
   * even with no worker up). Money that arrives for an order that is closed, unknown, cancelled or rejected
   * is refunded, once per payment; a repeated success for the order's own confirmed payment changes nothing.
   */
  async paymentCallback(callback: PaymentCallback): Promise<CallbackOutcome> {
    const handle = this.client.workflow.getHandle(orderWorkflowId(callback.orderId));
    try {
      await this.withinDeadline(() => handle.signal(paymentCallbackSignal, callback));
      return 'signalled';
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    if (callback.type !== PaymentEvent['payment.succeeded']) return 'ignored';
    const order = await this.get(callback.orderId);
    if (order?.status === Status.CONFIRMED && isCurrentPayment(order, callback)) return 'already-settled';
    const payment: LatePayment = {
      provider: callback.provider,
      paymentId: callback.paymentId,
      orderId: callback.orderId,
      retryEveryMs: this.options.saga.compensationGiveUpMs,
    };
    try {
      await this.withinDeadline(() =>
        this.client.workflow.start(LATE_REFUND_WORKFLOW_TYPE, {
          workflowId: latePaymentRefundWorkflowId(payment),
          taskQueue: this.options.taskQueue,
          args: [payment],
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        }),
      );
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return 'refund-exists';
      throw err;
    }
    return 'refund-started';
  }

  /** GET /orders/{id}: the view from the memo (updated at every transition). */
  async get(orderId: string): Promise<OrderView | null> {
    return (await this.stored(orderId))?.view ?? null;
  }

  /**
   * GET /orders/{id}/events, oldest first: from the store once the workflow recorded its end there, else
   * folded out of the history's memo updates.
   */
  async events(orderId: string): Promise<OrderEvent[] | null> {
    return this.storeFirst(
      orderId,
      () => this.store.events(orderId),
      () => this.eventsInHistory(orderId),
    );
  }

  /** The order's events folded out of its history's memo updates, oldest first; null when Temporal does not hold it. */
  private async eventsInHistory(orderId: string): Promise<OrderEvent[] | null> {
    let history;
    try {
      history = await this.withinDeadline(() =>
        this.client.workflow.getHandle(orderWorkflowId(orderId)).fetchHistory(),
      );
    } catch (err) {
      if (err instanceof WorkflowNotFoundError || (isGrpcServiceError(err) && err.code === GrpcCode.NOT_FOUND))
        return null;
      throw err;
    }
    // Only the events: the view beside them in the same memo update is not needed here (and is encrypted).
    // Each memo update holds the events of one workflow task (the start's: the first event).
    const payloads = (history.events ?? []).flatMap((event) => {
      const fields =
        event.workflowExecutionStartedEventAttributes?.memo?.fields ??
        event.workflowPropertiesModifiedEventAttributes?.upsertedMemo?.fields;
      const events = fields?.[MemoKey.events];
      return events ? [events] : [];
    });
    const bySeq = new Map<number, OrderEvent>();
    for (const decoded of await decodeArrayFromPayloads(this.client.options.loadedDataConverter, payloads)) {
      // Parsed here, not in domain/order-record.ts: the workflow loads that module, and the event schemas are
      // built again for every workflow that loads them.
      for (const raw of Array.isArray(decoded) ? (decoded as unknown[]) : []) {
        const event = OrderEvent.safeParse(raw);
        if (event.success) bySeq.set(event.data.seq, event.data);
      }
    }
    return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  }

  /**
   * GET /orders: a page of the store of record, newest first, over every order whatever its age. The store
   * is written as each workflow task ends, before visibility would be.
   */
  async list(query: ListOrdersQuery): Promise<{ orders: OrderSummary[]; nextPageToken: string | null }> {
    const filter: OrderFilter = {
      ...(query.customerId !== undefined ? { customerId: query.customerId } : {}),
      ...(query.status !== undefined ? { status: query.status } : {}),
      ...(query.needsAttention !== undefined ? { needsAttention: query.needsAttention === 'true' } : {}),
    };
    const after = query.pageToken ? openPageToken(query.pageToken, filter) : null;
    let page;
    try {
      page = await this.store.list(filter, query.limit, after);
    } catch (err) {
      this.storeFailed(err, 'no list of orders without it');
      throw new OrderStoreUnavailableError('the order store did not answer');
    }
    return {
      orders: page.views.map((view) => OrderSummary.parse(view)),
      nextPageToken: page.next && sealPageToken(page.next, filter),
    };
  }

  /**
   * Writes the view the API shows for each order whose workflow closed other than by completing since
   * `since` (terminated by hand) into the store, as its last record: such a workflow cannot write its end.
   * Returns how many it wrote.
   */
  async recordClosedOtherwiseSince(since: Date): Promise<number> {
    let written = 0;
    for (const orderId of await this.closedOtherwiseSince(since)) {
      const [shown, events] = await Promise.all([this.fromTemporal(orderId), this.eventsInHistory(orderId)]);
      if (!shown || !events) continue;
      // The whole record: an order not placed through the API may have none in the store yet.
      await this.store.record({
        orderId,
        requestHash: shown.requestHash,
        events,
        view: shown.view,
        lastSeq: events.length,
        closed: true,
      });
      written++;
    }
    return written;
  }

  /**
   * POST /orders/{id}/cancel: a durable cancel signal, then a bounded wait for it to play out. With no
   * worker the cancel is still recorded and runs later: the answer is then "accepted" (202).
   */
  async cancel(orderId: string, request: CancelRequest): Promise<CancelOutcome> {
    const stored = await this.stored(orderId);
    if (!stored) return { kind: 'not-found' };
    const settled = this.cancelOutcome(stored.view);
    if (settled || !stored.running) return settled ?? { kind: 'not-cancellable', view: stored.view };
    const handle = this.client.workflow.getHandle(orderWorkflowId(orderId));
    try {
      await this.withinDeadline(() => handle.signal(cancelOrderSignal, request));
    } catch (err) {
      // Not known to be recorded (it may still land): the caller's retry, a durable signal again, is safe.
      if (isTemporalUnavailable(err)) return { kind: 'unknown' };
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    try {
      const view = OrderView.parse(await this.withinDeadline(() => handle.executeUpdate(awaitCancellationUpdate)));
      return this.cancelOutcome(view) ?? { kind: 'in-progress', view };
    } catch (err) {
      // Closed meanwhile, or no worker answered in time: the order's own record says where the cancel
      // stands, if Temporal can tell.
      let now: StoredOrder | null;
      try {
        now = await this.stored(orderId, FALLBACK_READ_DEADLINE_MS);
      } catch (readErr) {
        if (isTemporalUnavailable(readErr)) return { kind: 'in-progress', view: stored.view };
        throw readErr;
      }
      if (!now) throw err;
      return this.cancelOutcome(now.view) ?? { kind: 'in-progress', view: now.view };
    }
  }

  /** What a cancel has come to, judging by the order's status; null while it is still playing out. */
  private cancelOutcome(view: OrderView): CancelOutcome | null {
    if (view.status === Status.CANCELLED) return { kind: 'cancelled', view };
    if (NOT_CANCELLABLE_STATUSES.includes(view.status)) return { kind: 'not-cancellable', view };
    return null;
  }

  /** POST /orders/{id}/actions/*: an operator's retry or resolution, as a durable signal. */
  async operatorAction(
    orderId: string,
    action: OperatorActionKind,
    operator: { operator: string; note: string },
  ): Promise<OperatorOutcome> {
    const stored = await this.stored(orderId);
    if (!stored) return { kind: 'not-found' };
    // A workflow that ended on its own (CONFIRMED, CANCELLED) simply needs no operator; only one closed while
    // it still needed one (terminated, failed) is beyond the API's reach.
    if (stored.view.status !== Status.REQUIRES_ATTENTION) return { kind: 'not-in-attention', view: stored.view };
    if (!stored.running) return { kind: 'closed', view: stored.view };
    const signal = action === OperatorAction['retry-compensation'] ? retryCompensationSignal : markResolvedSignal;
    await this.withinDeadline(() => this.client.workflow.getHandle(orderWorkflowId(orderId)).signal(signal, operator));
    return { kind: 'signalled', view: stored.view };
  }

  /**
   * The orders whose status changed at `since` or later (`StatusChangedAt`), each with when, as visibility
   * knows it: one query however many orders a caller watches (the live streams' poll), answering every
   * order that moved, watched or not.
   */
  async statusChangedSince(since: Date): Promise<Map<string, Date>> {
    const changed = new Map<string, Date>();
    const query = `${OrderSearchAttributes.statusChangedAt.name} >= '${since.toISOString()}'`;
    for await (const attributes of this.searchAttributesOf(query)) {
      const orderId = attributes.get(OrderSearchAttributes.orderId);
      const at = attributes.get(OrderSearchAttributes.statusChangedAt);
      if (orderId !== undefined && at !== undefined) changed.set(orderId, at);
    }
    return changed;
  }

  /** The orders whose workflow closed at `since` or later other than by completing (terminated, failed…). */
  async closedOtherwiseSince(since: Date): Promise<Set<string>> {
    const closed = new Set<string>();
    const query = `WorkflowType = '${ORDER_WORKFLOW_TYPE}' AND CloseTime >= '${since.toISOString()}' AND ${closedOtherwise}`;
    for await (const attributes of this.searchAttributesOf(query)) {
      const orderId = attributes.get(OrderSearchAttributes.orderId);
      if (orderId !== undefined) closed.add(orderId);
    }
    return closed;
  }

  /** The search attributes of every workflow `query` finds, page after page. */
  private async *searchAttributesOf(query: string): AsyncGenerator<TypedSearchAttributes> {
    let nextPageToken: Uint8Array | undefined;
    do {
      // The raw call: the search attributes are all it needs, and the SDK's list would decrypt every memo.
      const page = await this.withinDeadline(() =>
        this.client.workflowService.listWorkflowExecutions({
          namespace: this.client.options.namespace,
          query,
          pageSize: CHANGES_PAGE_SIZE,
          nextPageToken,
        }),
      );
      for (const run of page.executions ?? []) yield decodeTypedSearchAttributes(run.searchAttributes?.indexedFields);
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
  }

  /** Whether the Temporal server answers (GET /readyz). */
  async ready(): Promise<boolean> {
    try {
      await this.withinDeadline(() => this.client.workflowService.getSystemInfo({}), FALLBACK_READ_DEADLINE_MS);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Places a new order's id in the store, or what the store holds for it. A store that does not answer
   * does not stop the order: Temporal still refuses an id it holds, and the workflow records the order
   * once the store is back.
   */
  private async claimInStore(record: Parameters<OrderStore['claim']>[0]): Promise<KeptOrder | null> {
    try {
      return await this.store.claim(record);
    } catch (err) {
      this.storeFailed(err, 'placing the order on Temporal alone');
      return null;
    }
  }

  /** Lists the claimed order, which Temporal holds. Best effort: the workflow's first write lists it too. */
  private async markPlacedInStore(orderId: string): Promise<void> {
    try {
      await this.store.markPlaced(orderId);
    } catch (err) {
      this.storeFailed(err, 'the order is listed once its workflow records it');
    }
  }

  /**
   * Writes what the order answered its checkout with: the workflow does not, so that its answer waits for
   * no write. Best effort: the workflow's next write holds them too.
   */
  private async recordInStore(record: OrderRecord): Promise<void> {
    try {
      await this.store.recordAnswer(record);
    } catch (err) {
      this.storeFailed(err, 'the workflow records the order at its next step');
    }
  }

  private storeFailed(err: unknown, instead: string): void {
    // The error's own message only: a driver's cause may quote a statement's values.
    this.options.logger.warn(
      { error: err instanceof Error ? err.message : String(err) },
      `order store unavailable: ${instead}`,
    );
  }

  /** `call` bounded by the accept timeout (or `deadlineMs`): past it, Temporal is unavailable to this request. */
  private withinDeadline<T>(call: () => Promise<T>, deadlineMs = this.options.acceptTimeoutMs): Promise<T> {
    return this.client.withDeadline(Date.now() + deadlineMs, call);
  }

  /**
   * The order as it stands: from the store once its workflow has recorded its end there (Temporal may
   * have forgotten it since), else from its workflow's memo.
   */
  private async stored(orderId: string, deadlineMs = this.options.acceptTimeoutMs): Promise<StoredOrder | null> {
    return this.storeFirst(
      orderId,
      (kept) => ({ view: kept.view, requestHash: kept.requestHash, running: false }),
      () => this.fromTemporal(orderId, deadlineMs),
    );
  }

  /**
   * One read of an order, in the order its copies are trusted: the store's once the workflow recorded its
   * end there (Temporal may have forgotten it since), else Temporal's. A claim in the store that Temporal
   * does not hold is no order (its start failed, or a restore lost it): not found. A store that does not
   * answer leaves Temporal to answer alone; if Temporal does not hold the order either, nobody can say.
   */
  private async storeFirst<T>(
    orderId: string,
    fromStore: (kept: KeptOrder) => Promise<T | null> | T | null,
    fromTemporal: () => Promise<T | null>,
  ): Promise<T | null> {
    let storeDown = false;
    try {
      const kept = await this.store.find(orderId);
      if (kept?.closed) return await fromStore(kept);
    } catch (err) {
      storeDown = true;
      this.storeFailed(err, 'reading the order from Temporal alone');
    }
    const inTemporal = await fromTemporal();
    if (inTemporal) return inTemporal;
    if (storeDown)
      throw new OrderStoreUnavailableError('the order store did not answer, and Temporal does not hold the order');
    return null;
  }

  /** The order as its workflow's memo holds it; null when Temporal holds no such order. */
  private async fromTemporal(orderId: string, deadlineMs = this.options.acceptTimeoutMs): Promise<StoredOrder | null> {
    let description;
    try {
      description = await this.withinDeadline(
        () => this.client.workflow.getHandle(orderWorkflowId(orderId)).describe(),
        deadlineMs,
      );
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return null;
      throw err;
    }
    if (description.type !== ORDER_WORKFLOW_TYPE) return null;
    const view = viewInMemo(description.memo);
    if (!view) return null;
    const hash = description.memo?.[MemoKey.requestHash];
    return {
      view: shownView(view, description.status.code, description.closeTime),
      requestHash: typeof hash === 'string' ? hash : null,
      running: description.status.name === 'RUNNING',
    };
  }
}

/** The read after a start or cancel that got no answer: short, the caller has already waited its accept timeout. */
const FALLBACK_READ_DEADLINE_MS = 2_000;
/** Orders per page of the live streams' poll: a poll is normally one page (the orders that moved in a few seconds). */
const CHANGES_PAGE_SIZE = 1_000;

/**
 * Page tokens carry where the next page starts and the filter they belong to: a token from another query,
 * or one that is not ours at all, is refused at once.
 */
const PageTokenEnvelope = z.object({
  v: z.literal(2),
  q: z.string(),
  c: z.iso.datetime(),
  o: z.string().min(1),
});

/** The filter a token belongs to, in a few characters: a token is refused for any other. */
function filterDigest(filter: OrderFilter): string {
  const canonical = JSON.stringify([filter.customerId ?? null, filter.status ?? null, filter.needsAttention ?? null]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 16);
}

function sealPageToken(position: PagePosition, filter: OrderFilter): string {
  const envelope: z.infer<typeof PageTokenEnvelope> = {
    v: 2,
    q: filterDigest(filter),
    c: position.createdAt,
    o: position.orderId,
  };
  return Buffer.from(JSON.stringify(envelope)).toString('base64url');
}

function openPageToken(token: string, filter: OrderFilter): PagePosition {
  let envelope;
  try {
    envelope = PageTokenEnvelope.safeParse(JSON.parse(Buffer.from(token, 'base64url').toString('utf8')));
  } catch {
    envelope = null;
  }
  if (!envelope?.success || envelope.data.q !== filterDigest(filter)) {
    throw new InvalidPageTokenError('pageToken is not one this API gave out for this query');
  }
  return { createdAt: envelope.data.c, orderId: envelope.data.o };
}

function failureType(err: unknown): string | undefined {
  if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure)
    return err.cause.type ?? undefined;
  return undefined;
}
