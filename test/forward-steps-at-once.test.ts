import { ApplicationFailure } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import { Reason } from '../domain/reasons';
import { STORE_RECORD_SUMMARY } from '../workflows/store-record';
import { callSummaries, eventTypes, makeOrder, netMoney, startStack, type TestStack } from './helpers/stack';

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

/** The summaries of the calls an order made in the worker, in order. */
async function localCallSummaries(handle: WorkflowHandle): Promise<string[]> {
  return callSummaries(stack, (await handle.fetchHistory()).events ?? [], { localOnly: true });
}

/** The one call's summary: the three steps it takes, named as each step names its own. */
const ONE_CALL =
  'check 1 line(s) against the catalog, reserve stock at inventory and request payment of 39.98 EUR at primary';

/** The order's stock was reserved once and its payment opened once, and it holds what it was paid. */
function expectReservedAndPaidOnce({ request, stockBefore, view }: Awaited<ReturnType<typeof placeToEnd>>) {
  expect(stockOf('SKU-TEE')).toBe(stockBefore - 2);
  expect(paymentsOf(request.orderId)).toHaveLength(1);
  expect(netMoney(stack, request.orderId)).toBe(view.total);
}

/** Places an order (its id starting with `prefix`, when given) and waits for its end; notes the stock before. */
async function placeToEnd(prefix?: string) {
  const request = makeOrder(prefix ? { orderId: `${prefix}${Date.now()}` } : {});
  const stockBefore = stockOf('SKU-TEE');
  const handle = await stack.startOrder(request);
  return { request, stockBefore, handle, view: await stack.result(handle) };
}

test('an order whose systems all answer reaches its payment link in one call, recorded step by step', async () => {
  const placed = await placeToEnd();
  const { handle, view } = placed;

  expect(view.status).toBe('CONFIRMED');
  expect((await eventTypes(handle)).slice(0, 4)).toEqual([
    'OrderReceived',
    'OrderValidated',
    'StockReserved',
    'PaymentRequested',
  ]);
  // One write to the store of record, at the order's end, beside the customer's notification (either may
  // finish first): the API wrote the link's events with its answer.
  const calls = await localCallSummaries(handle);
  expect(calls.slice(0, 2)).toEqual([ONE_CALL, 'submit the order to fulfillment']);
  expect(calls.slice(2).sort()).toEqual(['notify the customer (order-confirmed)', STORE_RECORD_SUMMARY].sort());
  expectReservedAndPaidOnce(placed);
});

test('a call that lost its answer is followed by the steps one by one, which find its work instead of doing it twice', async () => {
  const placed = await placeToEnd(ANSWER_LOST);
  const { handle, view } = placed;

  expect(view.status).toBe('CONFIRMED');
  expect((await localCallSummaries(handle)).slice(0, 4)).toEqual([
    ONE_CALL,
    'check 1 line(s) against the catalog',
    'reserve stock at inventory',
    'request payment of 39.98 EUR at primary',
  ]);
  // The second reservation and payment were the first ones, found again.
  expectReservedAndPaidOnce(placed);
});

test('what a call that lost its answer did is undone when the steps one by one end the order another way', async () => {
  const { request, stockBefore, view } = await placeToEnd(THEN_REFUSED);

  expect(view.status).toBe('REJECTED');
  expect(view.reason?.code).toBe(Reason.UNKNOWN_SKU);
  // The lost call reserved stock and opened a payment that the record never held: both are undone.
  expect(stockOf('SKU-TEE')).toBe(stockBefore);
  // The sandbox takes a tok_ok payment 100 ms after it opens: on a busy machine the undo comes later and
  // returns the money instead of voiding the payment. Undone either way, once.
  expect(paymentsOf(request.orderId).map((p) => p.status)).toEqual([expect.stringMatching(/^(voided|refunded)$/)]);
  expect(netMoney(stack, request.orderId)).toBe(0);
});
