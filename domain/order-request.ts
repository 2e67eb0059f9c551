export type { OrderItem, OrderRequest, ShippingAddress } from './schemas/order-request';

/** An order's total in minor units, at the prices its lines carry. */
export function orderTotal(items: readonly { quantity: number; unitPrice: number }[]): number {
  return items.reduce((sum, item) => sum + item.quantity * item.unitPrice, 0);
}
