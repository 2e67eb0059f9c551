import { signWebhook } from '../payment-provider/signature';
import {
  awaitCancellationUpdate,
  getEventsQuery,
  cancelOrderSignal,
  type CancelRequest,
  getOrderQuery,
  latePaymentRefundWorkflowId,
  markResolvedSignal,
  retryCompensationSignal,
} from '../domain/contract';
import type { OrderView } from '../domain/order-state';
import { OrderSearchAttributes } from '../domain/search-attributes';
import { DEV_PROVIDER_SECRETS } from '../config';
import { MemoKey } from '../domain/order-record';
import {
  atPaymentLink,
  eventTypes,
  eventually,
  LOST_PAYMENT,
  makeOrder,
  netMoney,
  startStack,
  type TestStack,
} from './helpers/stack';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const STARTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;
/** What the API does: the durable signal, then the wait for its outcome. */
async function cancel(handle: WorkflowHandle, request: CancelRequest): Promise<OrderView> {
  await handle.signal(cancelOrderSignal, request);
  return handle.executeUpdate(awaitCancellationUpdate) as Promise<OrderView>;
}
const memoView = async (handle: WorkflowHandle) => (await handle.describe()).memo?.[MemoKey.order] as OrderView;

describe('cancel', () => {
  test('a customer cancels while the order awaits payment: voided, stock back, CANCELLED_BY_CUSTOMER', async () => {
    const request = makeOrder({ payment: LOST_PAYMENT });
    const before = stack.ledger.snapshot().stock['SKU-TEE']!;
    const handle = await stack.startOrder(request);
    await atPaymentLink(handle);
    const view = await cancel(handle, { by: 'customer', reason: 'changed my mind' });
    expect(view.status).toBe('CANCELLED');
    expect(view.reason).toEqual({ code: 'CANCELLED_BY_CUSTOMER', message: 'changed my mind' });
    expect(view.payment?.status).toBe('voided');
    expect(stack.ledger.snapshot().stock['SKU-TEE']).toBe(before);
    expect((await stack.result(handle)).status).toBe('CANCELLED');
  });

  test('a cancel that lands while an attempt hangs is a cancel, not a rejection (found by chaos)', async () => {
    const faults = (body: object) => stack.callSandbox('/_sandbox/faults', 'POST', body);
    await faults({ rate: 1, mode: 'hang', hangMs: 6_000 });
    try {
      const handle = await stack.startOrder(makeOrder({ payment: LOST_PAYMENT }));
      // The catalog call hangs past the activity's 5 s HTTP timeout: once its first attempt runs, cancel.
      await eventually(
        () => handle.describe(),
        (described) =>
          (described.raw.pendingActivities ?? []).some(
            (activity) => activity.activityType?.name === 'validateOrder' && activity.state === STARTED,
          ),
      );
      await handle.signal(cancelOrderSignal, { by: 'customer' });
      await faults({ rate: 0 });
      const view = await stack.result(handle);
      expect(view).toMatchObject({ status: 'CANCELLED', reason: { code: 'CANCELLED_BY_CUSTOMER' } });
      expect(await eventTypes(handle)).not.toContain('OrderRejected');
      // The cancel did land mid-attempt: history has it before the catalog activity's end.
      const events = (await handle.fetchHistory()).events ?? [];
      // A cancel between attempts would end it ActivityTaskCanceled; one mid-attempt lets it fail with its own error.
      const scheduled = events.find(
        (event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'validateOrder',
      );
      const failed = events.find(
        (event) => Number(event.activityTaskFailedEventAttributes?.scheduledEventId) === Number(scheduled?.eventId),
      );
      const cancelled = events.find(
        (event) => event.workflowExecutionSignaledEventAttributes?.signalName === cancelOrderSignal.name,
      );
      expect(scheduled).toBeDefined();
      expect(failed).toBeDefined();
      expect(events.some((event) => event.activityTaskCanceledEventAttributes)).toBe(false);
      expect(Number(cancelled?.eventId)).toBeLessThan(Number(failed?.eventId));
    } finally {
      await faults({ rate: 0 });
    }
  });

  test('support cancels: the reason says CANCELLED_BY_SUPPORT', async () => {
    const handle = await stack.startOrder(makeOrder({ payment: LOST_PAYMENT }));
    await atPaymentLink(handle);
    const first = await cancel(handle, { by: 'support' });
    expect(first.reason?.code).toBe('CANCELLED_BY_SUPPORT');
  });

  test('a paid order ignores a cancel: it is confirmed and no compensation runs', async () => {
    // Fulfillment down holds the order at PAID (the saga retries it) while the cancel arrives.
    await stack.outage('fulfillment', true);
    try {
      const handle = await stack.startOrder(makeOrder());
      await eventually(
        () => handle.query(getOrderQuery),
        (view) => view.status === 'PAID',
      );
      const view = await cancel(handle, { by: 'customer' });
      expect(view.status).toBe('PAID');
      await stack.outage('fulfillment', false);
      expect((await stack.result(handle)).status).toBe('CONFIRMED');
      expect(await eventTypes(handle)).not.toContain('CompensationStarted');
    } finally {
      await stack.outage('fulfillment', false);
    }
  });
});

describe('with fulfillment or refunds down', () => {
  afterEach(async () => {
    await stack.outage('fulfillment', false);
    await stack.outage('refunds', false);
  });

  test('a compensation that keeps failing needs an operator; their retry finishes it and is recorded', async () => {
    await stack.outage('refunds', true);
    const request = makeOrder({ payment: LOST_PAYMENT });
    const handle = await stack.startOrder(request);
    const attention = await eventually(
      () => memoView(handle),
      (view) => view?.status === 'REQUIRES_ATTENTION',
      30_000,
    );
    expect(attention).toMatchObject({ needsAttention: true, reason: { code: 'COMPENSATION_FAILED' } });
    expect((await handle.describe()).typedSearchAttributes.get(OrderSearchAttributes.needsAttention)).toBe(true);
    // Stock was released even though the void failed: compensations do not stop at the first failure.
    expect(await eventTypes(handle)).toEqual(expect.arrayContaining(['CompensationFailed', 'StockReleased']));

    await stack.outage('refunds', false);
    await handle.signal(retryCompensationSignal, { operator: 'grace', note: 'refunds are back' });
    const view = await stack.result(handle);
    expect(view).toMatchObject({ status: 'CANCELLED', needsAttention: false, reason: { code: 'PAYMENT_TIMEOUT' } });
    expect(view.payment?.status).toBe('voided');
    expect(stack.ledger.snapshot().payments.filter((p) => p.orderId === request.orderId)).toEqual([
      expect.objectContaining({ status: 'voided', captured: 0, refunded: 0 }),
    ]);
    const events = await handle.query(getEventsQuery);
    expect(events.map((e) => e.type)).toEqual([
      'OrderReceived',
      'OrderValidated',
      'StockReserved',
      'PaymentRequested',
      'PaymentWindowExpired',
      'PaymentReconciled',
      'CompensationStarted',
      'StockReleased',
      'CompensationFailed',
      'OperatorAction',
      'PaymentVoided',
      'OrderCancelled',
    ]);
    expect(events.find((e) => e.type === 'OperatorAction')?.data).toEqual({
      action: 'retry-compensation',
      operator: 'grace',
      note: 'refunds are back',
    });
    expect((await handle.describe()).typedSearchAttributes.get(OrderSearchAttributes.needsAttention)).toBe(false);
  });

  test('an operator can mark an order resolved by hand: it ends CANCELLED with the action recorded', async () => {
    await stack.outage('refunds', true);
    const handle = await stack.startOrder(makeOrder({ payment: LOST_PAYMENT }));
    await eventually(
      () => memoView(handle),
      (view) => view?.status === 'REQUIRES_ATTENTION',
      30_000,
    );
    // One sent by hand that is off the contract (no operator named) is ignored, not taken as the action.
    await handle.signal(markResolvedSignal, { operator: '' } as never);
    await handle.signal(markResolvedSignal, { operator: 'grace', note: 'voided at the provider by hand' });
    const view = await stack.result(handle);
    expect(view).toMatchObject({ status: 'CANCELLED', needsAttention: false, reason: { code: 'COMPENSATION_FAILED' } });
    const events = await handle.query(getEventsQuery);
    expect(events.slice(-1)).toEqual([
      expect.objectContaining({
        type: 'OperatorAction',
        data: { action: 'mark-resolved', operator: 'grace', note: 'voided at the provider by hand' },
      }),
    ]);
  });
});

test('a success that arrives after the order was cancelled is refunded exactly once', async () => {
  const request = makeOrder({ payment: { method: 'card', token: 'tok_late' } });
  const handle = await stack.startOrder(request);
  const view = await stack.result(handle);
  expect(view).toMatchObject({ status: 'CANCELLED', reason: { code: 'PAYMENT_TIMEOUT' } });
  const payment = await eventually(
    () => stack.ledger.snapshot().payments.find((p) => p.orderId === request.orderId)!,
    (p) => p.captured > 0 && p.refunded === p.captured,
  );
  expect(netMoney(stack, request.orderId)).toBe(0);

  // The provider delivers the same success again: still one refund workflow, still one refund.
  const body = JSON.stringify({
    id: 'evt_again',
    type: 'payment.succeeded',
    created: Math.floor(Date.now() / 1000),
    data: {
      paymentId: payment.paymentId,
      orderId: request.orderId,
      amount: payment.amount,
      currency: 'EUR',
      failureReason: null,
    },
  });
  const response = await fetch(`${stack.apiUrl}/webhooks/payments/primary`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'payment-signature': signWebhook(DEV_PROVIDER_SECRETS.primary, body, Math.floor(Date.now() / 1000)),
    },
    body,
  });
  expect(response.status).toBe(200);
  const refundRun = stack.client.workflow.getHandle(
    latePaymentRefundWorkflowId({ provider: 'primary', paymentId: payment.paymentId }),
  );
  expect(await refundRun.result()).toMatchObject({ outcome: 'refunded', amount: payment.amount });
  expect(stack.ledger.snapshot().payments.find((p) => p.orderId === request.orderId)).toMatchObject({
    refunded: payment.amount,
  });
});

describe('stuck orders', () => {
  let slow: TestStack;
  beforeAll(async () => {
    slow = await startStack({ paymentWindowMs: 4_000, stateSlaMs: 1_000 });
  });
  afterAll(async () => {
    await slow?.stop();
  });

  test('an order that stays in one state past its SLA is flagged for support, and unflagged once it moves', async () => {
    const handle = await slow.startOrder(makeOrder({ payment: LOST_PAYMENT }));
    const flagged = await eventually(
      () => memoView(handle),
      (view) => view?.needsAttention === true,
    );
    expect(flagged.status).toBe('AWAITING_PAYMENT');
    expect((await handle.describe()).typedSearchAttributes.get(OrderSearchAttributes.needsAttention)).toBe(true);
    const view = await slow.result(handle);
    expect(view).toMatchObject({ status: 'CANCELLED', needsAttention: false });
    expect(await eventTypes(handle)).toContain('OrderFlaggedStuck');
  });
});
