import { orderTotal } from '../domain/order-request';
import { MAX_UNIT_PRICE, OrderRequest } from '../domain/schemas/order-request';
import { makeOrder } from './helpers/stack';

const pathsOf = (input: unknown) => {
  const result = OrderRequest.safeParse(input);
  return result.success ? [] : result.error.issues.map((issue) => issue.path.join('.'));
};

describe('OrderRequest accepts', () => {
  test.each([
    ['the example order', {}],
    ['an id of 64 allowed characters', { orderId: `${'a'.repeat(60)}._-9` }],
    ['100 items', { items: Array.from({ length: 100 }, () => ({ sku: 'SKU-TEE', quantity: 1, unitPrice: 1999 })) }],
    ['quantity 1000 and price 0', { items: [{ sku: 'SKU-TEE', quantity: 1000, unitPrice: 0 }] }],
  ])('%s', (_name, overrides) => {
    expect(pathsOf(makeOrder(overrides))).toEqual([]);
  });

  test('an optional line2', () => {
    const order = makeOrder();
    expect(pathsOf({ ...order, shippingAddress: { ...order.shippingAddress, line2: 'Flat 2' } })).toEqual([]);
  });
});

describe('OrderRequest rejects, naming the field', () => {
  const order = makeOrder();
  test.each([
    ['an empty orderId', { ...order, orderId: '' }, 'orderId'],
    ['an orderId of 65 characters', { ...order, orderId: 'a'.repeat(65) }, 'orderId'],
    ['an orderId with a slash', { ...order, orderId: 'a/b' }, 'orderId'],
    ['a lowercase currency', { ...order, currency: 'eur' }, 'currency'],
    ['no items', { ...order, items: [] }, 'items'],
    ['101 items', { ...order, items: Array.from({ length: 101 }, () => order.items[0]) }, 'items'],
    ['quantity 0', { ...order, items: [{ sku: 'SKU-TEE', quantity: 0, unitPrice: 1 }] }, 'items.0.quantity'],
    ['quantity 1001', { ...order, items: [{ sku: 'SKU-TEE', quantity: 1001, unitPrice: 1 }] }, 'items.0.quantity'],
    [
      'a fractional quantity',
      { ...order, items: [{ sku: 'SKU-TEE', quantity: 1.5, unitPrice: 1 }] },
      'items.0.quantity',
    ],
    ['a negative price', { ...order, items: [{ sku: 'SKU-TEE', quantity: 1, unitPrice: -1 }] }, 'items.0.unitPrice'],
    [
      'a price in floats',
      { ...order, items: [{ sku: 'SKU-TEE', quantity: 1, unitPrice: 19.99 }] },
      'items.0.unitPrice',
    ],
    [
      'a three-letter country',
      { ...order, shippingAddress: { ...order.shippingAddress, country: 'FRA' } },
      'shippingAddress.country',
    ],
    ['an invalid email', { ...order, customer: { id: 'c', email: 'not-an-email' } }, 'customer.email'],
    ['an empty token', { ...order, payment: { method: 'card', token: '' } }, 'payment.token'],
    ['a token of 129 characters', { ...order, payment: { method: 'card', token: 't'.repeat(129) } }, 'payment.token'],
    ['an unknown top-level field', { ...order, coupon: 'FREE' }, ''],
    ['a missing shipping address', { ...order, shippingAddress: undefined }, 'shippingAddress'],
    [
      'a unit price past the bound that keeps every total exact',
      { ...order, items: [{ sku: 'SKU-TEE', quantity: 1, unitPrice: MAX_UNIT_PRICE + 1 }] },
      'items.0.unitPrice',
    ],
  ])('%s', (_name, input, path) => {
    expect(pathsOf(input)).toContain(path);
  });
});

test('the largest order the schema takes still has an exact total', () => {
  const line = { sku: 'SKU-TEE', quantity: 1000, unitPrice: MAX_UNIT_PRICE };
  const largest = OrderRequest.parse(makeOrder({ items: Array.from({ length: 100 }, () => line) }));
  expect(Number.isSafeInteger(orderTotal(largest.items))).toBe(true);
  expect(OrderRequest.safeParse(makeOrder({ items: Array.from({ length: 101 }, () => line) })).success).toBe(false);
  expect(OrderRequest.safeParse(makeOrder({ items: [{ ...line, quantity: 1001 }] })).success).toBe(false);
});
