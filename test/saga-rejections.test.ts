import { SANDBOX_CATALOG } from '../sandbox/ledger';
import { eventTypes, makeOrder, netMoney, startStack, type TestStack } from './helpers/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

test('an unknown SKU is rejected before any stock or money moves', async () => {
  const request = makeOrder({ items: [{ sku: 'SKU-NOPE', quantity: 1, unitPrice: 100 }] });
  const handle = await stack.startOrder(request);
  const view = await stack.result(handle);
  expect(view.status).toBe('REJECTED');
  expect(view.reason?.code).toBe('UNKNOWN_SKU');
  expect(view.payment).toBeNull();
  expect(await eventTypes(handle)).toEqual(['OrderReceived', 'OrderRejected']);
  expect(stack.ledger.snapshot().payments.filter((p) => p.orderId === request.orderId)).toEqual([]);
});

test('a price that differs from the catalog is rejected as PRICE_MISMATCH', async () => {
  const view = await stack.result(
    await stack.startOrder(makeOrder({ items: [{ sku: 'SKU-TEE', quantity: 1, unitPrice: 1 }] })),
  );
  expect(view.status).toBe('REJECTED');
  expect(view.reason).toEqual({ code: 'PRICE_MISMATCH', message: expect.stringContaining('SKU-TEE costs 1999') });
});

test('more than the stock is rejected as OUT_OF_STOCK and the stock is untouched', async () => {
  const last = SANDBOX_CATALOG.find((entry) => entry.sku === 'SKU-LAST')!;
  const request = makeOrder({ items: [{ sku: 'SKU-LAST', quantity: last.stock + 1, unitPrice: last.unitPrice }] });
  const handle = await stack.startOrder(request);
  const view = await stack.result(handle);
  expect(view.status).toBe('REJECTED');
  expect(view.reason?.code).toBe('OUT_OF_STOCK');
  expect(view.total).toBe((last.stock + 1) * last.unitPrice);
  expect(await eventTypes(handle)).toEqual(['OrderReceived', 'OrderValidated', 'OrderRejected']);
  expect(stack.ledger.snapshot().stock['SKU-LAST']).toBe(last.stock);
  expect(netMoney(stack, request.orderId)).toBe(0);
});
