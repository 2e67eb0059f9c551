import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import { orderStartOptions } from '../api/start-order';
import {
  awaitAcceptanceUpdate,
  cancelOrderSignal,
  getEventsQuery,
  getOrderQuery,
  latePaymentRefundWorkflowId,
  ORDER_CONFLICT,
  paymentCallbackSignal,
} from '../domain/contract';
import type { OrderView } from '../domain/order-state';
import { OrderSearchAttributes } from '../domain/search-attributes';
import { businessMetricsSinks } from '../observability/worker-runtime';
import { testTemporalAddress } from './helpers/test-env';
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

/** Answers and requests the saga was not written around, which must still end each order with an answer. */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const metadata = (handle: { query: <T>(name: string) => Promise<T> }) =>
  handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');

describe('a cancellation asked of Temporal itself (the Web UI’s Request Cancellation)', () => {
  test('is a support cancel: compensated, CANCELLED_BY_SUPPORT, and the workflow completes', async () => {
    const request = makeOrder({ payment: LOST_PAYMENT });
    const handle = await stack.startOrder(request);
    await atPaymentLink(handle);
    await handle.cancel();
    const view = await stack.result(handle);
    expect(view).toMatchObject({
      status: 'CANCELLED',
      reason: { code: 'CANCELLED_BY_SUPPORT' },
      payment: { status: 'voided' },
    });
    expect((await handle.describe()).status.name).toBe('COMPLETED');
  });

  test('is ignored once the order is paid: it is confirmed', async () => {
    await stack.outage('fulfillment', true);
    try {
      const handle = await stack.startOrder(makeOrder());
      await eventually(
        () => handle.query(getOrderQuery),
        (view) => view.status === 'PAID',
      );
      await handle.cancel();
      await stack.outage('fulfillment', false);
      expect((await stack.result(handle)).status).toBe('CONFIRMED');
      expect((await handle.describe()).status.name).toBe('COMPLETED');
      expect(await eventTypes(handle)).not.toContain('CompensationStarted');
    } finally {
      await stack.outage('fulfillment', false);
    }
  });
});

test('a bug in the workflow code fails its workflow task, not the order: it waits, running, for a fix', async () => {
  const taskQueue = `orders-buggy-${randomUUID()}`;
  const connection = await NativeConnection.connect({ address: testTemporalAddress() });
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowsPath: path.join(__dirname, 'fixtures', 'workflows-buggy', 'index.ts'),
    sinks: businessMetricsSinks(),
    dataConverter: { payloadCodecs: [stack.codec] },
  });
  const run = worker.run();
  const { workflowType, options } = orderStartOptions(makeOrder(), stack.settings, taskQueue);
  const handle = await stack.client.workflow.start(workflowType, options);
  try {
    // Retried: the server records the first failure in history and counts the attempts after it.
    const description = await eventually(
      () => handle.describe(),
      (described) => (described.raw.pendingWorkflowTask?.attempt ?? 0) >= 2,
    );
    expect(description.status.name).toBe('RUNNING');
    const failedTasks = ((await handle.fetchHistory()).events ?? []).filter(
      (event) => event.workflowTaskFailedEventAttributes,
    );
    expect(failedTasks[0]!.workflowTaskFailedEventAttributes!.failure!.message).toBe(
      'OrderConfirmed is not allowed when the order is RECEIVED',
    );
    // What support searches for (server 1.32 flags a workflow whose tasks keep failing).
    const flagged = await eventually(
      async () => {
        const found: string[] = [];
        for await (const run of stack.client.workflow.list({
          query: `TaskQueue = '${taskQueue}' AND TemporalReportedProblems IS NOT NULL`,
        }))
          found.push(run.workflowId);
        return found;
      },
      (found) => found.length > 0,
    );
    expect(flagged).toEqual([handle.workflowId]);
    expect(description.memo?.[MemoKey.order]).toMatchObject({ status: 'RECEIVED' });
  } finally {
    await handle.terminate('end of test');
    worker.shutdown();
    await run;
    await connection.close();
  }
});

describe('stray money', () => {
  test("a stray payment whose refund keeps being refused: the order ends on support's list, late refunds take the money over, and their refunds clear it", async () => {
    const request = makeOrder({ payment: LOST_PAYMENT });
    const { orderId } = request;
    const handle = await stack.startOrder(request);
    await atPaymentLink(handle);
    // The customer also paid at the backup (a second checkout tab): its success webhook reaches the order as a stray.
    const stray = await stack.callSandbox('/providers/backup/payments', 'POST', {
      orderId,
      amount: 3998,
      currency: 'EUR',
      token: 'tok_ok',
    });
    expect(stray.status).toBe(201);
    const { paymentId } = (await stray.json()) as { paymentId: string };
    await eventually(
      () => netMoney(stack, orderId),
      (net) => net === 3998,
    );
    const refused = `payment provider backup answered 400 (INJECTED_FAULT: the sandbox's refund fault switch answered 400)`;
    const lateRefunds = [
      latePaymentRefundWorkflowId({ provider: 'backup', orderId }),
      latePaymentRefundWorkflowId({ provider: 'backup', paymentId }),
    ].map((id) => stack.client.workflow.getHandle(id));
    await stack.callSandbox('/_sandbox/faults/refund', 'PUT', { kind: 'status', status: 400 });
    let ended: OrderView;
    try {
      await handle.signal(cancelOrderSignal, { by: 'customer' });
      // The order never asked the backup, so it settles there once it has ended, in case a lost workflow
      // task made a payment: that finds the customer's, before the stray's own settlement does. Each is
      // tried 3 times, then handed over.
      const details = await eventually(
        () => metadata(handle),
        (m) => m.currentDetails?.startsWith('the payment of order') ?? false,
      );
      expect(details.currentDetails).toBe(
        `the payment of order ${orderId} at backup was refused (${refused}); trying again in 2000 ms`,
      );
      ended = await stack.result(handle);
      expect(ended).toMatchObject({
        status: 'CANCELLED',
        reason: { code: 'CANCELLED_BY_CUSTOMER' },
        needsAttention: true,
      });
      expect((await handle.query(getEventsQuery)).slice(-2).map((event) => event.data)).toEqual([
        { provider: 'backup', paymentId: null, message: refused },
        { provider: 'backup', paymentId, message: refused },
      ]);
      // Support finds the order, and each late refund beside it, flagged; the provider still holds the money.
      const listed = await stack.api('dev-support').GET('/orders', { params: { query: { needsAttention: 'true' } } });
      expect(listed.data!.orders.map((order) => order.orderId)).toContain(orderId);
      for (const run of lateRefunds) {
        const { typedSearchAttributes } = await run.describe();
        expect(typedSearchAttributes.get(OrderSearchAttributes.needsAttention)).toBe(true);
      }
      expect(netMoney(stack, orderId)).toBe(3998);
    } finally {
      await stack.callSandbox('/_sandbox/faults/refund', 'DELETE');
    }
    // Let through, the first refunds the money and the second finds nothing left; the order's record says so.
    const outcomes = await Promise.all(lateRefunds.map((run) => run.result()));
    expect(outcomes.map((outcome) => outcome.outcome).sort()).toEqual(['nothing-to-settle', 'refunded']);
    expect(netMoney(stack, orderId)).toBe(0);
    const read = await stack.api('dev-support').GET('/orders/{orderId}', { params: { path: { orderId } } });
    expect(read.data).toMatchObject({ status: 'CANCELLED', needsAttention: false });
  }, 120_000);

  test('a stray success for a payment its provider does not know: nothing to return, recorded, no retries', async () => {
    const request = makeOrder({ payment: LOST_PAYMENT });
    const handle = await stack.startOrder(request);
    await atPaymentLink(handle);
    await handle.signal(paymentCallbackSignal, {
      provider: 'backup',
      eventId: 'evt_unknown',
      type: 'payment.succeeded',
      paymentId: 'pay_unknown_to_backup',
      orderId: request.orderId,
      amount: 3998,
      currency: 'EUR',
      failureReason: null,
    });
    await handle.signal(cancelOrderSignal, { by: 'customer' });
    expect((await stack.result(handle)).status).toBe('CANCELLED');
    const events = await handle.query(getEventsQuery);
    expect(events.filter((event) => event.type === 'PaymentNotFound').map((event) => event.data)).toEqual([
      { provider: 'backup', paymentId: 'pay_unknown_to_backup' },
    ]);
  });
});

describe('messages whose payload is off the contract (sent by hand, not through the API)', () => {
  // An operator's, which an order heeds only while it waits for one, is in saga-compensation.test.ts.
  test('are ignored or refused, and the order goes on to answer the ones that are not', async () => {
    const handle = await stack.startOrder(makeOrder({ payment: LOST_PAYMENT }));
    await atPaymentLink(handle);
    await expect(handle.executeUpdate(awaitAcceptanceUpdate, { args: [{} as never] })).rejects.toMatchObject({
      cause: { type: ORDER_CONFLICT },
    });
    await handle.signal(paymentCallbackSignal, { provider: 'primary', type: 'payment.succeeded' } as never);
    await handle.signal(cancelOrderSignal, { by: 'someone' } as never);
    await handle.signal(cancelOrderSignal, { by: 'customer' });

    expect(await stack.result(handle)).toMatchObject({
      status: 'CANCELLED',
      reason: { code: 'CANCELLED_BY_CUSTOMER', message: 'cancelled by customer' },
    });
    const types = await eventTypes(handle);
    expect(types).not.toContain('PaymentSucceeded');
    const failedTasks = ((await handle.fetchHistory()).events ?? []).filter(
      (event) => event.workflowTaskFailedEventAttributes,
    );
    expect(failedTasks).toEqual([]);
  });
});
