import type { WorkflowHandle } from '@temporalio/client';
import { cancelOrderSignal, getOrderQuery, paymentCallbackSignal } from '../domain/contract';
import { Reason } from '../domain/reasons';
import type { OrderRequest } from '../domain/order-request';
import { PaymentToken } from '../sandbox/ledger';
import {
  atPaymentLink,
  eventTypes,
  eventually,
  makeOrder,
  netMoney,
  startStack,
  type TestStack,
} from './helpers/stack';

/**
 * A worker that dies in the middle of a workflow task. The first attempts it ran there (SystemCalls) may
 * have reserved stock or created a payment, and the server never recorded it. Another worker runs the task
 * again, with whatever reached the order meanwhile, and may take another way: nothing the lost attempts
 * did may be kept.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(async () => {
  await stack?.stop();
});

/** Succeeds at once and never calls back: only the saga can know that this payment exists. */
const SILENT_PAYMENT = { method: 'card', token: PaymentToken.SILENT } as const;
/** How long the provider holds the lost task's payment creation before it works (well inside the task's 10 s timeout). */
const CREATION_HANG_MS = 4_000;

const stockOf = (sku: string) => stack.ledger.snapshot().stock[sku]!;
const paymentsOf = (orderId: string) => stack.ledger.snapshot().payments.filter((p) => p.orderId === orderId);

/**
 * Starts the order on a worker process and crashes it in the order's first task: after its reservation
 * landed, while its payment's creation hangs at the primary provider. Returns once that payment exists.
 */
async function crashWhileCreatingPayment(request: OrderRequest): Promise<WorkflowHandle> {
  const [line] = request.items;
  const stockBefore = stockOf(line!.sku);
  const doomed = await stack.startWorkerProcess();
  await stack.callSandbox('/_sandbox/faults/create-payment', 'PUT', { kind: 'hang', ms: CREATION_HANG_MS });
  const handle = await stack.startOrder(request);
  await eventually(
    () => stockOf(line!.sku),
    (stock) => stock === stockBefore - line!.quantity,
  );
  // The reservation landed; the creation is on its way to the provider, where it hangs.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  await doomed.crash();
  await eventually(
    () => paymentsOf(request.orderId),
    (payments) => payments.length === 1,
  );
  await stack.callSandbox('/_sandbox/faults/create-payment', 'DELETE');
  return handle;
}

afterEach(async () => {
  await stack.stopWorker();
});

test('a cancel that reaches the order before its lost task runs again: the stock and the payment the lost task made go back', async () => {
  const request = makeOrder({ payment: SILENT_PAYMENT });
  const [line] = request.items;
  const stockBefore = stockOf(line!.sku);
  const handle = await crashWhileCreatingPayment(request);
  expect(paymentsOf(request.orderId)).toEqual([expect.objectContaining({ provider: 'primary', status: 'succeeded' })]);

  await handle.signal(cancelOrderSignal, { by: 'customer', reason: 'changed my mind' });
  await stack.startWorker();
  const view = await stack.result(handle);

  expect(view.status).toBe('CANCELLED');
  expect(stockOf(line!.sku)).toBe(stockBefore);
  expect(netMoney(stack, request.orderId)).toBe(0);
  // The release is speculative (the record never reserved): it records no event. The refund does.
  expect(await eventTypes(handle)).toContain('PaymentRefunded');
});

test('a provider down when the lost task runs again: the order fails over and is confirmed, and the payment the lost task made goes back', async () => {
  const request = makeOrder({ payment: SILENT_PAYMENT });
  const handle = await crashWhileCreatingPayment(request);

  await stack.outage('primary', true);
  await stack.startWorker();
  await eventually(
    () => handle.query(getOrderQuery),
    (view) => view.payment?.provider === 'backup',
  );
  await stack.outage('primary', false);
  const view = await stack.result(handle);

  expect(view.status).toBe('CONFIRMED');
  expect(netMoney(stack, request.orderId)).toBe(view.total);
  const atPrimary = paymentsOf(request.orderId).find((payment) => payment.provider === 'primary')!;
  expect(atPrimary).toMatchObject({ captured: view.total, refunded: view.total, status: 'refunded' });
});

test('an undo a lost task may have left, at a system that is down, is retried after the order ends and never calls an operator', async () => {
  await stack.startWorker();
  // Declined at the primary: the record settles there, and the backup, never asked, is settled in case.
  const request = makeOrder({ payment: { method: 'card', token: PaymentToken.DECLINE } });
  await stack.callSandbox('/_sandbox/faults/find-payments', 'PUT', { kind: 'status', status: 503 });
  const handle = await stack.startOrder(request);
  try {
    await eventually(
      () => handle.query(getOrderQuery),
      (view) => view.status === 'CANCELLED',
    );
    // Past the compensations' give-up time: a blocking undo would have put the order in front of an operator.
    await new Promise((resolve) => setTimeout(resolve, stack.settings.compensationGiveUpMs + 1_000));
    expect(await handle.query(getOrderQuery)).toMatchObject({ status: 'CANCELLED', needsAttention: false });
    expect((await handle.describe()).status.name).toBe('RUNNING');
  } finally {
    await stack.callSandbox('/_sandbox/faults/find-payments', 'DELETE');
  }
  expect(await stack.result(handle)).toMatchObject({ status: 'CANCELLED', reason: { code: Reason.PAYMENT_DECLINED } });
});

test('a cancel that reaches the order after its payment succeeded, in the same task, is refused: the order is paid', async () => {
  // A lost task may have handled the success callback and handed the order to fulfillment; the task run
  // again holds the callback and a cancel that came after it. The cancel must not undo a paid order.
  await stack.startWorker();
  const request = makeOrder({ payment: SILENT_PAYMENT });
  const handle = await stack.startOrder(request);
  const { payment } = await atPaymentLink(handle);
  await stack.stopWorker();
  await handle.signal(paymentCallbackSignal, {
    provider: payment!.provider,
    eventId: `evt_${request.orderId}`,
    type: 'payment.succeeded',
    paymentId: payment!.paymentId,
    orderId: request.orderId,
    amount: 3998,
    currency: 'EUR',
    failureReason: null,
  });
  await handle.signal(cancelOrderSignal, { by: 'customer', reason: 'too late' });
  await stack.startWorker();
  const view = await stack.result(handle);
  expect(view.status).toBe('CONFIRMED');
  expect(netMoney(stack, request.orderId)).toBe(view.total);
});
