import { evolve, foldEvents, IllegalTransitionError } from '../domain/evolve';
import type { OrderEvent, OrderEventBody } from '../domain/schemas/order-events';
import type { OrderState } from '../domain/order-state';

const at = '2026-01-01T00:00:00.000Z';
const pay = { provider: 'primary', paymentId: 'pay_1' };
const E = {
  received: {
    type: 'OrderReceived',
    data: {
      orderId: 'A-1',
      customerId: 'c-1',
      currency: 'EUR',
      items: [{ sku: 'SKU-TEE', quantity: 2, unitPrice: 1999 }],
    },
  },
  validated: { type: 'OrderValidated', data: { total: 3998 } },
  rejected: { type: 'OrderRejected', data: { code: 'OUT_OF_STOCK', message: 'none left' } },
  reserved: { type: 'StockReserved', data: {} },
  unavailable: { type: 'PaymentProviderUnavailable', data: { provider: 'primary', message: '503' } },
  requested: { type: 'PaymentRequested', data: { ...pay, amount: 3998, checkoutUrl: 'http://pay' } },
  succeeded: { type: 'PaymentSucceeded', data: { ...pay, eventId: 'evt_1' } },
  failed: { type: 'PaymentFailed', data: { ...pay, eventId: 'evt_1', failureReason: 'card_declined' } },
  expired: { type: 'PaymentWindowExpired', data: { windowMs: 1000 } },
  reconciledPaid: { type: 'PaymentReconciled', data: { ...pay, providerStatus: 'succeeded' } },
  reconciledPending: { type: 'PaymentReconciled', data: { ...pay, providerStatus: 'pending' } },
  confirmed: { type: 'OrderConfirmed', data: { fulfillmentId: 'ful_1' } },
  compensating: { type: 'CompensationStarted', data: { code: 'PAYMENT_DECLINED', message: 'card_declined' } },
  refunded: { type: 'PaymentRefunded', data: { ...pay, amount: 3998, late: false } },
  voided: { type: 'PaymentVoided', data: pay },
  released: { type: 'StockReleased', data: {} },
  releaseRefused: { type: 'StockReleaseRefused', data: { message: 'inventory answered 422' } },
  cancelled: { type: 'OrderCancelled', data: {} },
  compensationFailed: { type: 'CompensationFailed', data: { step: 'settle payment at primary', message: '503' } },
  retry: { type: 'OperatorAction', data: { action: 'retry-compensation', operator: 'grace', note: 'ok' } },
  resolve: { type: 'OperatorAction', data: { action: 'mark-resolved', operator: 'grace', note: 'done by hand' } },
  stuckAwaiting: { type: 'OrderFlaggedStuck', data: { status: 'AWAITING_PAYMENT', slaMs: 1000 } },
  notFound: { type: 'PaymentNotFound', data: pay },
  stepFailed: {
    type: 'StepFailed',
    data: { step: 'reconcile pay_1 at primary', code: 'UNEXPECTED_ANSWER', message: 'answered 400' },
  },
} satisfies Record<string, OrderEventBody>;

const numbered = (bodies: OrderEventBody[]): OrderEvent[] =>
  bodies.map((body, i) => ({ seq: i + 1, at, ...body }) as OrderEvent);
const fold = (...bodies: OrderEventBody[]) => foldEvents(numbered(bodies))!;
const step = (state: OrderState | null, body: OrderEventBody) =>
  evolve(state, { seq: 99, at: '2026-01-01T00:00:09.000Z', ...body } as OrderEvent);

describe('evolve: every legal transition', () => {
  test('OrderReceived starts the order at RECEIVED with the total of its lines', () => {
    const state = fold(E.received);
    expect(state).toMatchObject({
      orderId: 'A-1',
      status: 'RECEIVED',
      total: 3998,
      payment: null,
      reason: null,
      needsAttention: false,
      createdAt: at,
    });
  });

  test.each([
    [
      'OrderValidated keeps RECEIVED and sets the server total',
      [E.received],
      E.validated,
      { status: 'RECEIVED', total: 3998 },
    ],
    [
      'OrderRejected: RECEIVED → REJECTED with the reason',
      [E.received],
      E.rejected,
      { status: 'REJECTED', reason: E.rejected.data },
    ],
    ['StockReserved: RECEIVED → RESERVED', [E.received, E.validated], E.reserved, { status: 'RESERVED' }],
    ['PaymentProviderUnavailable keeps RESERVED', [E.received, E.reserved], E.unavailable, { status: 'RESERVED' }],
    [
      'PaymentRequested: RESERVED → AWAITING_PAYMENT, payment pending',
      [E.received, E.reserved],
      E.requested,
      { status: 'AWAITING_PAYMENT', payment: { ...pay, status: 'pending', checkoutUrl: 'http://pay' } },
    ],
    [
      'PaymentSucceeded: AWAITING_PAYMENT → PAID',
      [E.received, E.reserved, E.requested],
      E.succeeded,
      { status: 'PAID', payment: expect.objectContaining({ status: 'succeeded' }) },
    ],
    [
      'PaymentFailed keeps AWAITING_PAYMENT, payment failed',
      [E.received, E.reserved, E.requested],
      E.failed,
      { status: 'AWAITING_PAYMENT', payment: expect.objectContaining({ status: 'failed' }) },
    ],
    [
      'PaymentWindowExpired keeps AWAITING_PAYMENT',
      [E.received, E.reserved, E.requested],
      E.expired,
      { status: 'AWAITING_PAYMENT' },
    ],
    [
      'PaymentReconciled as succeeded: → PAID',
      [E.received, E.reserved, E.requested, E.expired],
      E.reconciledPaid,
      { status: 'PAID' },
    ],
    [
      'PaymentReconciled as pending keeps AWAITING_PAYMENT',
      [E.received, E.reserved, E.requested, E.expired],
      E.reconciledPending,
      { status: 'AWAITING_PAYMENT' },
    ],
    [
      'OrderConfirmed: PAID → CONFIRMED',
      [E.received, E.reserved, E.requested, E.succeeded],
      E.confirmed,
      { status: 'CONFIRMED' },
    ],
    [
      'CompensationStarted from RECEIVED',
      [E.received],
      E.compensating,
      { status: 'COMPENSATING', reason: E.compensating.data },
    ],
    ['CompensationStarted from RESERVED', [E.received, E.reserved], E.compensating, { status: 'COMPENSATING' }],
    [
      'CompensationStarted from AWAITING_PAYMENT',
      [E.received, E.reserved, E.requested],
      E.compensating,
      { status: 'COMPENSATING' },
    ],
    [
      'CompensationStarted from PAID',
      [E.received, E.reserved, E.requested, E.succeeded],
      E.compensating,
      { status: 'COMPENSATING' },
    ],
    [
      'PaymentRefunded marks the order’s payment refunded',
      [E.received, E.reserved, E.requested, E.succeeded, E.compensating],
      E.refunded,
      { status: 'COMPENSATING', payment: expect.objectContaining({ status: 'refunded' }) },
    ],
    [
      'PaymentVoided marks the order’s payment voided',
      [E.received, E.reserved, E.requested, E.compensating],
      E.voided,
      { payment: expect.objectContaining({ status: 'voided' }) },
    ],
    [
      'StockReleased keeps COMPENSATING',
      [E.received, E.reserved, E.compensating],
      E.released,
      { status: 'COMPENSATING' },
    ],
    [
      'OrderCancelled: COMPENSATING → CANCELLED with the compensation reason',
      [E.received, E.compensating],
      E.cancelled,
      { status: 'CANCELLED', reason: E.compensating.data },
    ],
    [
      'CompensationFailed: COMPENSATING → REQUIRES_ATTENTION, flagged',
      [E.received, E.compensating],
      E.compensationFailed,
      {
        status: 'REQUIRES_ATTENTION',
        needsAttention: true,
        reason: { code: 'COMPENSATION_FAILED', message: 'settle payment at primary: 503' },
      },
    ],
    [
      'OperatorAction retry: REQUIRES_ATTENTION → COMPENSATING, unflagged, reason restored',
      [E.received, E.compensating, E.compensationFailed],
      E.retry,
      { status: 'COMPENSATING', needsAttention: false, reason: E.compensating.data },
    ],
    [
      'OperatorAction resolve: REQUIRES_ATTENTION → CANCELLED',
      [E.received, E.compensating, E.compensationFailed],
      E.resolve,
      { status: 'CANCELLED', needsAttention: false },
    ],
    [
      'OrderFlaggedStuck flags without changing status',
      [E.received, E.reserved, E.requested],
      E.stuckAwaiting,
      { status: 'AWAITING_PAYMENT', needsAttention: true },
    ],
    [
      'PaymentNotFound records a fact and changes nothing',
      [E.received, E.reserved, E.requested, E.expired],
      E.notFound,
      { status: 'AWAITING_PAYMENT', payment: expect.objectContaining({ status: 'pending' }) },
    ],
    [
      'StepFailed from RECEIVED → REQUIRES_ATTENTION, flagged, step and answer in the reason',
      [E.received],
      E.stepFailed,
      {
        status: 'REQUIRES_ATTENTION',
        needsAttention: true,
        reason: { code: 'UNEXPECTED_ANSWER', message: 'reconcile pay_1 at primary: answered 400' },
      },
    ],
    [
      'StepFailed from AWAITING_PAYMENT',
      [E.received, E.reserved, E.requested, E.expired],
      E.stepFailed,
      { status: 'REQUIRES_ATTENTION' },
    ],
    [
      'StepFailed from PAID',
      [E.received, E.reserved, E.requested, E.succeeded],
      E.stepFailed,
      { status: 'REQUIRES_ATTENTION' },
    ],
    [
      'OperatorAction retry after StepFailed: → COMPENSATING for the step’s reason',
      [E.received, E.reserved, E.stepFailed],
      E.retry,
      {
        status: 'COMPENSATING',
        needsAttention: false,
        reason: { code: 'UNEXPECTED_ANSWER', message: 'reconcile pay_1 at primary: answered 400' },
      },
    ],
    [
      'OperatorAction resolve after StepFailed: → CANCELLED with the step’s reason',
      [E.received, E.reserved, E.stepFailed],
      E.resolve,
      { status: 'CANCELLED', reason: { code: 'UNEXPECTED_ANSWER' } },
    ],
  ] as [string, OrderEventBody[], OrderEventBody, Partial<OrderState>][])('%s', (_name, history, event, expected) => {
    const next = step(fold(...history), event);
    expect(next).toMatchObject(expected);
    expect(next.updatedAt).toBe('2026-01-01T00:00:09.000Z');
  });

  test('a refund of another payment (a stray) leaves the order’s own payment alone', () => {
    const state = fold(E.received, E.reserved, E.requested, E.succeeded, E.confirmed);
    const next = step(state, {
      type: 'PaymentRefunded',
      data: { provider: 'backup', paymentId: 'pay_2', amount: 10, late: true },
    });
    expect(next.payment?.status).toBe('succeeded');
    expect(next.status).toBe('CONFIRMED');
  });

  test('a status change clears the stuck flag', () => {
    const stuck = fold(E.received, E.reserved, E.requested, E.stuckAwaiting);
    expect(step(stuck, E.succeeded).needsAttention).toBe(false);
  });

  test('a release refused at the end flags the ended order; the release going through at last clears it', () => {
    const refused = step(fold(E.received, E.rejected), E.releaseRefused);
    expect(refused).toMatchObject({ status: 'REJECTED', needsAttention: true });
    expect(step(refused, E.released)).toMatchObject({ status: 'REJECTED', needsAttention: false });
  });

  test('money refused by order id (its payment unknown to the order) flags it and leaves its own payment alone', () => {
    const cancelled = fold(E.received, E.reserved, E.requested, E.compensating, E.voided, E.released, E.cancelled);
    const refused = step(cancelled, {
      type: 'LateMoneyRefused',
      data: { provider: 'backup', paymentId: null, message: 'answered 400' },
    });
    expect(refused).toMatchObject({ status: 'CANCELLED', needsAttention: true, payment: { status: 'voided' } });
    const nothingThere = step(refused, { type: 'PaymentNotFound', data: { provider: 'backup', paymentId: null } });
    expect(nothingThere.needsAttention).toBe(false);
  });
});

describe('evolve: illegal transitions are rejected', () => {
  test.each([
    ['a second OrderReceived', [E.received], E.received],
    ['an event before OrderReceived', [], E.validated],
    ['StockReserved twice', [E.received, E.reserved], E.reserved],
    ['PaymentSucceeded before a payment was requested', [E.received, E.reserved], E.succeeded],
    [
      'PaymentSucceeded for another payment',
      [E.received, E.reserved, E.requested],
      { type: 'PaymentSucceeded', data: { provider: 'backup', paymentId: 'pay_x', eventId: 'e' } },
    ],
    ['OrderConfirmed before payment', [E.received, E.reserved, E.requested], E.confirmed],
    [
      'CompensationStarted after CONFIRMED',
      [E.received, E.reserved, E.requested, E.succeeded, E.confirmed],
      E.compensating,
    ],
    ['OrderCancelled without compensation', [E.received], E.cancelled],
    ['anything after REJECTED', [E.received, E.rejected], E.reserved],
    ['OperatorAction outside REQUIRES_ATTENTION', [E.received, E.compensating], E.retry],
    [
      'OrderFlaggedStuck on a terminal order',
      [E.received, E.rejected],
      { type: 'OrderFlaggedStuck', data: { status: 'REJECTED', slaMs: 1 } },
    ],
    ['OrderFlaggedStuck for a status the order has left', [E.received, E.reserved], E.stuckAwaiting],
    ['StepFailed on a CONFIRMED order', [E.received, E.reserved, E.requested, E.succeeded, E.confirmed], E.stepFailed],
    ['StepFailed while compensating', [E.received, E.compensating], E.stepFailed],
    ['StockReleaseRefused before the end', [E.received, E.reserved], E.releaseRefused],
  ] as [string, OrderEventBody[], OrderEventBody][])('%s', (_name, history, event) => {
    const state = history.length ? fold(...history) : null;
    expect(() => step(state, event)).toThrow(IllegalTransitionError);
  });
});
