import { ApplicationFailure } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { Reason } from '../domain/reasons';
import { eventTypes, makeOrder, netMoney, startStack, type TestStack } from './helpers/stack';

/**
 * A new order first takes the steps up to its payment link in one local activity
 * (`validateReserveAndRequestPayment`), and on any failure takes them one by one from the first.
 */
let stack: TestStack;
/** Orders whose one call does its work and then loses its answer, as a call that timed out would. */
const ANSWER_LOST = 'LOST-';
/** Such orders whose catalog then refuses the lines when the steps are taken one by one. */
const THEN_REFUSED = 'LOST-REFUSED-';

beforeAll(async () => {
  stack = await startStack({
    wrapActivities: (activities) => ({
      ...activities,
      async validateReserveAndRequestPayment(input) {
        const done = await activities.validateReserveAndRequestPayment(input);
        if (input.orderId.startsWith(ANSWER_LOST)) throw ApplicationFailure.retryable('the answer was lost');
        return done;
      },
      async validateOrder(input) {
        if (input.orderId.startsWith(THEN_REFUSED)) {
          throw ApplicationFailure.nonRetryable('the catalog no longer sells it', Reason.UNKNOWN_SKU);
        }
        return activities.validateOrder(input);
      },
    }),
  });
});
afterAll(async () => {
  await stack?.stop();
});

const stockOf = (sku: string) => stack.ledger.snapshot().stock[sku]!;
const paymentsOf = (orderId: string) => stack.ledger.snapshot().payments.filter((p) => p.orderId === orderId);

/** The summaries of the calls an order made in the worker (local activities: markers with a summary), in order. */
async function localCallSummaries(handle: WorkflowHandle): Promise<string[]> {
  const { events } = await handle.fetchHistory();
  const summaries: string[] = [];
  for (const event of events ?? []) {
    const payload = event.userMetadata?.summary;
    if (event.markerRecordedEventAttributes && payload) {
      summaries.push(await decodeFromPayloadsAtIndex<string>(stack.client.options.loadedDataConverter, 0, [payload]));
    }
  }
  return summaries;
}

/** Places an order (its id starting with `prefix`, when given) and waits for its end; notes the stock before. */
async function placeToEnd(prefix?: string) {
  const request = makeOrder(prefix ? { orderId: `${prefix}${Date.now()}` } : {});
  const stockBefore = stockOf('SKU-TEE');
  const handle = await stack.startOrder(request);
  return { request, stockBefore, handle, view: await stack.result(handle) };
}

test('an order whose systems all answer reaches its payment link in one call, recorded step by step', async () => {
  const { request, stockBefore, handle, view } = await placeToEnd();

  expect(view.status).toBe('CONFIRMED');
  expect((await eventTypes(handle)).slice(0, 4)).toEqual([
    'OrderReceived',
    'OrderValidated',
    'StockReserved',
    'PaymentRequested',
  ]);
  expect(await localCallSummaries(handle)).toEqual([
    'check 1 line(s) against the catalog, reserve stock at inventory and request payment of 39.98 EUR at primary',
    'submit the order to fulfillment',
    'notify the customer (order-confirmed)',
  ]);
  expect(stockOf('SKU-TEE')).toBe(stockBefore - 2);
  expect(paymentsOf(request.orderId)).toHaveLength(1);
  expect(netMoney(stack, request.orderId)).toBe(view.total);
});

test('a call that lost its answer is followed by the steps one by one, which find its work instead of doing it twice', async () => {
  const { request, stockBefore, handle, view } = await placeToEnd(ANSWER_LOST);

  expect(view.status).toBe('CONFIRMED');
  expect((await localCallSummaries(handle)).slice(0, 4)).toEqual([
    'check 1 line(s) against the catalog, reserve stock at inventory and request payment of 39.98 EUR at primary',
    'check 1 line(s) against the catalog',
    'reserve stock at inventory',
    'request payment of 39.98 EUR at primary',
  ]);
  // Reserved once and paid once: the second reservation and payment were the first ones, found again.
  expect(stockOf('SKU-TEE')).toBe(stockBefore - 2);
  expect(paymentsOf(request.orderId)).toHaveLength(1);
  expect(netMoney(stack, request.orderId)).toBe(view.total);
});

test('what a call that lost its answer did is undone when the steps one by one end the order another way', async () => {
  const { request, stockBefore, view } = await placeToEnd(THEN_REFUSED);

  expect(view.status).toBe('REJECTED');
  expect(view.reason?.code).toBe(Reason.UNKNOWN_SKU);
  // The lost call reserved stock and opened a payment that the record never held: both are undone.
  expect(stockOf('SKU-TEE')).toBe(stockBefore);
  expect(paymentsOf(request.orderId).map((p) => p.status)).toEqual(['voided']);
  expect(netMoney(stack, request.orderId)).toBe(0);
});
