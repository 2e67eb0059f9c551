import type { temporal } from '@temporalio/proto';
import { orderStartOptions } from '../api/start-order';
import { OrderSearchAttributes } from '../domain/search-attributes';
import { MemoKey } from '../domain/order-record';
import type { OrderEvent } from '../domain/schemas/order-events';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import { CONFIRMED_ORDER_EVENTS, makeOrder, startStack, type TestStack } from './helpers/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

test('a paid order is confirmed, captured once, and its stock taken', async () => {
  const request = makeOrder();
  // The first order of this file's sandbox: nothing else moves its stock meanwhile.
  const stockBefore = stack.ledger.snapshot().stock['SKU-TEE']!;
  const view = await stack.result(await stack.startOrder(request));
  expect(view.status).toBe('CONFIRMED');
  expect(view.total).toBe(3998);
  expect(view.payment).toMatchObject({ provider: 'primary', status: 'succeeded' });
  expect(stack.ledger.snapshot().stock['SKU-TEE']).toBe(stockBefore - 2);
  const payments = stack.ledger.snapshot().payments.filter((p) => p.orderId === request.orderId);
  expect(payments).toEqual([
    expect.objectContaining({ provider: 'primary', amount: 3998, captured: 3998, refunded: 0 }),
  ]);
});

test('what the start already wrote is not written again; the rest is written once per workflow task', async () => {
  const handle = await stack.startOrder(makeOrder());
  await stack.result(handle);
  const { events } = await handle.fetchHistory();
  // Two workflow tasks: up to the payment link (the steps' first attempts run inside it), then from the
  // callback to the end. Each writes the events it appended in one memo write.
  expect(await memoWrites(events!)).toEqual([
    ['OrderValidated', 'StockReserved', 'PaymentRequested'],
    ['PaymentSucceeded', 'OrderConfirmed'],
  ]);
  // And the attributes that changed in it (status): the total and the attention flag were set at start.
  expect(orderAttributeWrites(events!)).toBe(2);
});

test('each write of a new status says when it changed: the live streams find the orders that moved by it', async () => {
  const handle = await stack.startOrder(makeOrder());
  const view = await stack.result(handle);
  const { events } = await handle.fetchHistory();
  // The order's own writes: a patch marker's write of `TemporalChangeVersion` aside.
  const writes = events!.flatMap((event) => {
    const fields = event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields;
    return fields && Object.keys(fields).some((name) => name !== 'TemporalChangeVersion')
      ? [decodeTypedSearchAttributes(fields)]
      : [];
  });
  expect(writes.map((write) => write.get(OrderSearchAttributes.status))).toEqual(['AWAITING_PAYMENT', 'CONFIRMED']);
  for (const write of writes) expect(write.get(OrderSearchAttributes.statusChangedAt)).toBeInstanceOf(Date);
  expect((await handle.describe()).typedSearchAttributes.get(OrderSearchAttributes.statusChangedAt)).toEqual(
    new Date(view.updatedAt),
  );
});

test('a start that did not write the first event (not through the API) gets it written by the workflow', async () => {
  const { workflowType, options, input } = orderStartOptions(makeOrder(), stack.settings, stack.taskQueue);
  const handle = await stack.client.workflow.start(workflowType, {
    ...options,
    args: [{ ...input, startWroteFirstEvent: undefined }],
    memo: {},
    typedSearchAttributes: [],
  });
  await stack.result(handle);
  const { events } = await handle.fetchHistory();
  expect((await memoWrites(events!)).flat()).toEqual(CONFIRMED_ORDER_EVENTS);
  expect((await handle.describe()).typedSearchAttributes.get(OrderSearchAttributes.total)).toBe(3998);
});

/** The types of the events each memo write of the workflow carried, write by write. */
async function memoWrites(events: temporal.api.history.v1.IHistoryEvent[]): Promise<string[][]> {
  const writes: string[][] = [];
  for (const event of events) {
    const payload = event.workflowPropertiesModifiedEventAttributes?.upsertedMemo?.fields?.[MemoKey.events];
    if (!payload) continue;
    const written = await decodeFromPayloadsAtIndex<OrderEvent[]>(stack.client.options.loadedDataConverter, 0, [
      payload,
    ]);
    writes.push(written.map(({ type }) => type));
  }
  return writes;
}

/** Search-attribute writes of the order's own attributes (not the version marker Temporal keeps beside a patch). */
function orderAttributeWrites(events: temporal.api.history.v1.IHistoryEvent[]): number {
  return events.filter((event) => {
    const fields = event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {};
    return Object.keys(fields).some((name) => name !== 'TemporalChangeVersion');
  }).length;
}
