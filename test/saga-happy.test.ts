import { makeOrder, startStack, type TestStack } from './helpers/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

test('a paid order is confirmed, captured once, and its stock taken', async () => {
  const request = makeOrder();
  const view = await stack.result(await stack.startOrder(request));
  expect(view.status).toBe('CONFIRMED');
  expect(view.total).toBe(3998);
  const payments = stack.ledger.snapshot().payments.filter((p) => p.orderId === request.orderId);
  expect(payments).toEqual([expect.objectContaining({ provider: 'primary', amount: 3998, captured: 3998, refunded: 0 })]);
});
