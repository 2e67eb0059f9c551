import type { OrderItem } from './order-request';
import { Reason, type ReasonCode } from './reasons';

/** A catalog entry as the saga needs it. */
export interface CatalogPrice {
  sku: string;
  unitPrice: number;
}

export type PricingResult = { ok: true; total: number } | { ok: false; code: ReasonCode; message: string };

/**
 * Checks the order's lines against the catalog and computes the total server-side, in integer minor
 * units. The client's prices are a claim to verify, never a source of truth.
 */
export function priceOrder(items: readonly OrderItem[], catalog: readonly CatalogPrice[]): PricingResult {
  const prices = new Map(catalog.map((entry) => [entry.sku, entry.unitPrice]));
  let total = 0;
  for (const [index, item] of items.entries()) {
    const unitPrice = prices.get(item.sku);
    if (unitPrice === undefined) {
      return { ok: false, code: Reason.UNKNOWN_SKU, message: `items.${index}.sku: ${item.sku} is not in the catalog` };
    }
    if (unitPrice !== item.unitPrice) {
      return {
        ok: false,
        code: Reason.PRICE_MISMATCH,
        message: `items.${index}.unitPrice: ${item.sku} costs ${unitPrice}, the order says ${item.unitPrice}`,
      };
    }
    total += item.quantity * unitPrice;
  }
  if (!Number.isSafeInteger(total)) {
    return { ok: false, code: Reason.INVALID_ORDER, message: 'the total is too large' };
  }
  return { ok: true, total };
}

/** Quantities per SKU, for reservations: two lines of one SKU reserve their sum. */
export function quantitiesBySku(items: readonly OrderItem[]): { sku: string; quantity: number }[] {
  const totals = new Map<string, number>();
  for (const item of items) totals.set(item.sku, (totals.get(item.sku) ?? 0) + item.quantity);
  return [...totals].map(([sku, quantity]) => ({ sku, quantity }));
}
