import { OperatorAction } from './operator-actions';
import type { OrderEvent, OrderEventBody, OrderEventType } from './schemas/order-events';
import { Reason } from './reasons';
import { isCurrentPayment, isTerminal, type OrderState } from './order-state';
import { Status, type OrderStatus } from './statuses';
import { orderTotal, type OrderRequest } from './order-request';

/** Raised by {@link evolve} for an event the order's current status does not allow: always a bug in the caller. */
export class IllegalTransitionError extends Error {
  override readonly name = 'IllegalTransitionError';
  constructor(
    readonly eventType: OrderEventType,
    readonly status: OrderStatus | null,
  ) {
    super(`${eventType} is not allowed when the order is ${status ?? 'not yet received'}`);
  }
}

const NON_TERMINAL: readonly OrderStatus[] = Object.values(Status).filter((s) => !isTerminal(s));
const ANY_RECEIVED: readonly OrderStatus[] = Object.values(Status);
const TERMINAL: readonly OrderStatus[] = Object.values(Status).filter(isTerminal);

/** The statuses each event may follow: the one place where transitions are checked. */
const ALLOWED_FROM: Record<Exclude<OrderEventType, 'OrderReceived'>, readonly OrderStatus[]> = {
  OrderValidated: [Status.RECEIVED],
  OrderRejected: [Status.RECEIVED],
  StockReserved: [Status.RECEIVED],
  PaymentProviderUnavailable: [Status.RESERVED],
  PaymentRequested: [Status.RESERVED],
  PaymentSucceeded: [Status.AWAITING_PAYMENT],
  PaymentFailed: [Status.AWAITING_PAYMENT],
  PaymentWindowExpired: [Status.AWAITING_PAYMENT],
  // Sent while the order waited; its answer may come once the order has moved on.
  PaymentReminderSent: ANY_RECEIVED,
  PaymentReconciled: [Status.AWAITING_PAYMENT],
  OrderConfirmed: [Status.PAID],
  FulfillmentCancelled: [Status.PAID],
  CompensationStarted: [Status.RECEIVED, Status.RESERVED, Status.AWAITING_PAYMENT, Status.PAID],
  // Money facts: a refund or void can follow any status (late or stray payments are settled after the end).
  PaymentRefunded: ANY_RECEIVED,
  PaymentVoided: ANY_RECEIVED,
  PaymentNotFound: ANY_RECEIVED,
  LateMoneyRefused: ANY_RECEIVED,
  StockReleased: [Status.COMPENSATING, ...TERMINAL],
  StockReleaseRefused: TERMINAL,
  OrderCancelled: [Status.COMPENSATING],
  CompensationFailed: [Status.COMPENSATING],
  OperatorAction: [Status.REQUIRES_ATTENTION],
  OrderFlaggedStuck: NON_TERMINAL,
  StepFailed: [Status.RECEIVED, Status.RESERVED, Status.AWAITING_PAYMENT, Status.PAID],
};

/**
 * The order's state after one more event. Pure and total: it never reads a clock or does I/O, and it
 * throws {@link IllegalTransitionError} for an event the current status does not allow.
 */
export function evolve(state: OrderState | null, event: OrderEvent): OrderState {
  if (event.type === 'OrderReceived') {
    if (state !== null) throw new IllegalTransitionError(event.type, state.status);
    const { orderId, customerId, currency, items } = event.data;
    return {
      orderId,
      status: Status.RECEIVED,
      customerId,
      currency,
      items,
      total: orderTotal(items),
      payment: null,
      reason: null,
      needsAttention: false,
      createdAt: event.at,
      updatedAt: event.at,
      compensationReason: null,
    };
  }
  if (state === null || !ALLOWED_FROM[event.type].includes(state.status)) {
    throw new IllegalTransitionError(event.type, state?.status ?? null);
  }
  const next = apply(state, event);
  // A status change clears the stuck flag; only REQUIRES_ATTENTION keeps the order on support's list.
  const needsAttention = next.status === state.status ? next.needsAttention : next.status === Status.REQUIRES_ATTENTION;
  return { ...next, needsAttention, updatedAt: event.at };
}

/** Folds a whole event list, oldest first. */
export function foldEvents(events: readonly OrderEvent[]): OrderState | null {
  return events.reduce<OrderState | null>(evolve, null);
}

/**
 * Money settled or stock released after the order ended: support has nothing more to settle (see
 * LateMoneyRefused, StockReleaseRefused). Before its end, the order's own status says whether it needs someone.
 */
function settledAfterEnd(state: OrderState, next: OrderState): OrderState {
  return isTerminal(state.status) ? { ...next, needsAttention: false } : next;
}

function apply(state: OrderState, event: Exclude<OrderEvent, { type: 'OrderReceived' }>): OrderState {
  switch (event.type) {
    case 'OrderValidated':
      return { ...state, total: event.data.total };
    case 'OrderRejected':
      return { ...state, status: Status.REJECTED, reason: event.data };
    case 'StockReserved':
      return { ...state, status: Status.RESERVED };
    case 'PaymentProviderUnavailable':
    case 'PaymentWindowExpired':
    case 'PaymentReminderSent':
      return state;
    case 'PaymentRequested': {
      const { provider, paymentId, checkoutUrl } = event.data;
      return {
        ...state,
        status: Status.AWAITING_PAYMENT,
        payment: { provider, paymentId, checkoutUrl, status: 'pending' },
      };
    }
    case 'PaymentSucceeded':
      return { ...requireCurrentPayment(state, event), status: Status.PAID, payment: withStatus(state, 'succeeded') };
    case 'PaymentFailed':
      return { ...requireCurrentPayment(state, event), payment: withStatus(state, 'failed') };
    case 'PaymentReconciled': {
      requireCurrentPayment(state, event);
      const providerStatus = event.data.providerStatus;
      if (providerStatus === 'succeeded')
        return { ...state, status: Status.PAID, payment: withStatus(state, 'succeeded') };
      return { ...state, payment: withStatus(state, providerStatus) };
    }
    case 'OrderConfirmed':
      return { ...state, status: Status.CONFIRMED };
    case 'CompensationStarted':
      return { ...state, status: Status.COMPENSATING, reason: event.data, compensationReason: event.data };
    case 'PaymentRefunded':
      return settledAfterEnd(
        state,
        isCurrentPayment(state, event.data) ? { ...state, payment: withStatus(state, 'refunded') } : state,
      );
    case 'StockReleaseRefused':
      return { ...state, needsAttention: true };
    case 'LateMoneyRefused':
      // The provider holds the money: the view says so, and the order is on support's list.
      return {
        ...state,
        needsAttention: true,
        payment: isCurrentPayment(state, event.data) ? withStatus(state, 'succeeded') : state.payment,
      };
    case 'PaymentVoided':
      return settledAfterEnd(
        state,
        isCurrentPayment(state, event.data) ? { ...state, payment: withStatus(state, 'voided') } : state,
      );
    case 'PaymentNotFound':
    case 'StockReleased':
      return settledAfterEnd(state, state);
    case 'FulfillmentCancelled':
      return state;
    case 'OrderCancelled':
      return { ...state, status: Status.CANCELLED, reason: state.compensationReason ?? state.reason };
    case 'CompensationFailed':
      return {
        ...state,
        status: Status.REQUIRES_ATTENTION,
        reason: { code: Reason.COMPENSATION_FAILED, message: `${event.data.step}: ${event.data.message}` },
      };
    case 'OperatorAction':
      return event.data.action === OperatorAction['retry-compensation']
        ? { ...state, status: Status.COMPENSATING, reason: state.compensationReason }
        : { ...state, status: Status.CANCELLED };
    case 'StepFailed': {
      // What an operator's retry compensates for, as after a failed compensation.
      const reason = { code: event.data.code, message: `${event.data.step}: ${event.data.message}` };
      return { ...state, status: Status.REQUIRES_ATTENTION, reason, compensationReason: reason };
    }
    case 'OrderFlaggedStuck':
      if (event.data.status !== state.status) throw new IllegalTransitionError(event.type, state.status);
      return { ...state, needsAttention: true };
  }
}

function requireCurrentPayment(
  state: OrderState,
  event: Extract<OrderEvent, { type: 'PaymentSucceeded' | 'PaymentFailed' | 'PaymentReconciled' }>,
): OrderState {
  if (!isCurrentPayment(state, event.data)) throw new IllegalTransitionError(event.type, state.status);
  return state;
}

function withStatus(state: OrderState, status: NonNullable<OrderState['payment']>['status']): OrderState['payment'] {
  return state.payment && { ...state.payment, status };
}

/**
 * The first event of every order: what the saga and the API's initial view both start from. Here, beside
 * the reducer, so the workflow does not load the event schemas (built again for every workflow) for it.
 */
export function orderReceived(request: OrderRequest): Extract<OrderEventBody, { type: 'OrderReceived' }> {
  return {
    type: 'OrderReceived',
    data: {
      orderId: request.orderId,
      customerId: request.customer.id,
      currency: request.currency,
      items: request.items,
    },
  };
}
