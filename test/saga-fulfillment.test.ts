import { getEventsQuery, getOrderQuery, retryCompensationSignal } from '../domain/contract';
import { eventTypes, eventually, makeOrder, netMoney, startStack, type TestStack } from './helpers/stack';

/**
 * Fulfillment is the pivot: once it may have taken the order, its goods may ship, and money is never
 * returned for goods that left. A submission that failed is cancelled at fulfillment before any refund.
 * Through the real stack, with a short HTTP timeout so that a hung call plays out in seconds.
 */
let stack: TestStack;
const HTTP_TIMEOUT_MS = 500;
beforeAll(async () => {
  stack = await startStack({ httpTimeoutMs: HTTP_TIMEOUT_MS });
});
afterAll(async () => {
  await stack?.stop();
});
afterEach(async () => {
  await stack.callSandbox('/_sandbox/faults/fulfillment', 'DELETE');
  await stack.outage('fulfillment', false);
});

const fault = (setting: object) => stack.callSandbox('/_sandbox/faults/fulfillment', 'PUT', setting);
const fulfillmentHolds = (orderId: string) => {
  const { fulfillments, cancelledFulfillments, shipped } = stack.ledger.snapshot();
  return {
    taken: fulfillments[orderId] !== undefined,
    cancelled: cancelledFulfillments.includes(orderId),
    shipped: shipped.includes(orderId),
  };
};
const cancelledAtFulfillment = async (handle: Awaited<ReturnType<TestStack['startOrder']>>) =>
  (await handle.query(getEventsQuery)).find((event) => event.type === 'FulfillmentCancelled')?.data;

test('fulfillment takes the order but answers after the call timed out: cancelled there first, then refunded; nothing ships', async () => {
  await fault({ kind: 'hang', ms: HTTP_TIMEOUT_MS * 3 });
  const request = makeOrder();
  const handle = await stack.startOrder(request);
  const view = await stack.result(handle);
  expect({ status: view.status, code: view.reason?.code, payment: view.payment?.status }).toEqual({
    status: 'CANCELLED',
    code: 'CONFIRMATION_FAILED',
    payment: 'refunded',
  });
  expect(fulfillmentHolds(request.orderId)).toEqual({ taken: true, cancelled: true, shipped: false });
  expect(await cancelledAtFulfillment(handle)).toEqual({ taken: true });
  expect(netMoney(stack, request.orderId)).toBe(0);
  expect((await stack.callSandbox(`/_sandbox/fulfillment/orders/${request.orderId}/ship`, 'POST')).status).toBe(409);
});

test('a submission fulfillment refused outright is found never taken, and refunded', async () => {
  await fault({ kind: 'status', status: 503 });
  const request = makeOrder();
  const handle = await stack.startOrder(request);
  const view = await stack.result(handle);
  expect(view.reason?.code).toBe('CONFIRMATION_FAILED');
  expect(fulfillmentHolds(request.orderId)).toEqual({ taken: false, cancelled: false, shipped: false });
  // Undone last step first, once fulfillment said it holds nothing: the money back, then the stock.
  expect((await eventTypes(handle)).slice(4)).toEqual([
    'PaymentSucceeded',
    'FulfillmentCancelled',
    'CompensationStarted',
    'PaymentRefunded',
    'StockReleased',
    'OrderCancelled',
  ]);
  expect(await cancelledAtFulfillment(handle)).toEqual({ taken: false });
});

test('its goods shipped while the submission hung: the order is confirmed and keeps its money', async () => {
  await fault({ kind: 'hang', ms: HTTP_TIMEOUT_MS * 3 });
  const request = makeOrder();
  const handle = await stack.startOrder(request);
  // The warehouse ships as soon as it has the order, while the saga's calls time out.
  await eventually(
    () => fulfillmentHolds(request.orderId),
    ({ taken }) => taken,
  );
  expect((await stack.callSandbox(`/_sandbox/fulfillment/orders/${request.orderId}/ship`, 'POST')).status).toBe(200);
  const view = await stack.result(handle);
  expect(view.status).toBe('CONFIRMED');
  expect(netMoney(stack, request.orderId)).toBe(view.total);
  const types = await eventTypes(handle);
  expect(types).not.toContain('CompensationStarted');
  const confirmed = (await handle.query(getEventsQuery)).find((event) => event.type === 'OrderConfirmed');
  expect(confirmed?.data).toEqual({ fulfillmentId: stack.ledger.snapshot().fulfillments[request.orderId] });
});

test('fulfillment answers nothing, to the submission or the cancel: an operator decides, the money held meanwhile', async () => {
  await stack.outage('fulfillment', true);
  const request = makeOrder();
  const handle = await stack.startOrder(request);
  const waiting = await eventually(
    () => handle.query(getOrderQuery),
    (view) => view.status === 'REQUIRES_ATTENTION',
    60_000,
  );
  expect(waiting.reason?.code).toBe('RETRIES_EXHAUSTED');
  expect(netMoney(stack, request.orderId)).toBe(waiting.total);
  const { currentDetails } = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  expect(currentDetails).toMatch(
    /^Needs an operator: "cancel the order at fulfillment, in case it took it" gave up on its system \(.*after the submission failed: .*\)\. Fulfillment may have taken the order: ask it before a refund\. Retry compensation/,
  );

  // The operator learns that fulfillment never had it, and has the order compensated.
  await stack.outage('fulfillment', false);
  await handle.signal(retryCompensationSignal, { operator: 'ops', note: 'fulfillment never had it' });
  const view = await stack.result(handle);
  expect({ status: view.status, payment: view.payment?.status }).toEqual({ status: 'CANCELLED', payment: 'refunded' });
});
