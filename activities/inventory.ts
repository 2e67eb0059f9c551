import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import type { OrderItem } from '../domain/order-request';
import { priceOrder, quantitiesBySku } from '../domain/pricing';
import { createdSinceQuery } from '../domain/schemas/paging';
import { Reason } from '../domain/reasons';
import { contractError, expectAnswer, type HttpClient } from './http';

/** The catalog/inventory system's wire contract, as the saga expects it (the sandbox serves the same). */
export const CatalogEntry = z.object({ sku: z.string(), unitPrice: z.int(), stock: z.int() });
export const CatalogAnswer = z.object({ items: z.array(CatalogEntry) });
export const ReservationAnswer = z.object({ orderId: z.string(), status: z.enum(['reserved', 'released']) });
export const ReservationRequest = z.object({
  orderId: z.string(),
  items: z.array(z.object({ sku: z.string(), quantity: z.int().positive() })).min(1),
});
/** `GET /inventory/reservations?createdFrom=` (domain/schemas/paging.ts): a page of the reservations made since a time. */
export const ReservationPage = z.object({
  reservations: z.array(z.object({ orderId: z.string(), status: z.enum(['reserved', 'released']) })),
  nextCursor: z.string().nullable(),
});
export type ReservationPage = z.infer<typeof ReservationPage>;
/** The error code inventory answers (409) when a SKU has too little stock. */
export const OUT_OF_STOCK_CODE = 'OUT_OF_STOCK';

export interface InventoryConfig {
  /** Base URL of the catalog service, e.g. the sandbox's `http://127.0.0.1:4000`. */
  catalogUrl: string;
  /** Base URL of the inventory service (reservations); the sandbox serves both. */
  inventoryUrl: string;
}

/**
 * Inventory's reservations made since a time, page by page: not an activity, but what an operator's
 * reconciliation after a restore reads (stack/reconcile.ts).
 */
export function createReservationLister(http: HttpClient, { inventoryUrl }: Pick<InventoryConfig, 'inventoryUrl'>) {
  return {
    async page(createdFrom: Date, cursor: string | null): Promise<ReservationPage> {
      const url = `${inventoryUrl}/inventory/reservations?${createdSinceQuery(createdFrom, cursor)}`;
      return expectAnswer(ReservationPage, await http.send({ method: 'GET', url }), 'inventory');
    },
  };
}

/** Activities against catalog and inventory. Reservations are idempotent per order id. */
export function createInventoryActivities(http: HttpClient, { catalogUrl, inventoryUrl }: InventoryConfig) {
  return {
    /** Checks SKUs and prices against the catalog; returns the server-side total or fails with the reason code. */
    async validateOrder(input: { orderId: string; items: OrderItem[] }): Promise<{ total: number }> {
      const skus = [...new Set(input.items.map((item) => item.sku))];
      const url = `${catalogUrl}/catalog?skus=${skus.map(encodeURIComponent).join(',')}`;
      const response = await http.send({ method: 'GET', url });
      const catalog = expectAnswer(CatalogAnswer, response, 'catalog');
      const priced = priceOrder(input.items, catalog.items);
      if (!priced.ok) throw ApplicationFailure.nonRetryable(priced.message, priced.code);
      return { total: priced.total };
    },

    /** Reserves every line's stock, all or nothing. Fails with `OUT_OF_STOCK` when any SKU is short. */
    async reserveStock(input: { orderId: string; items: OrderItem[] }): Promise<void> {
      const body: z.infer<typeof ReservationRequest> = { orderId: input.orderId, items: quantitiesBySku(input.items) };
      const response = await http.send({
        method: 'POST',
        url: `${inventoryUrl}/inventory/reservations`,
        body,
        idempotencyKey: `reserve-${input.orderId}`,
      });
      const shortage = contractError(response, 409, OUT_OF_STOCK_CODE);
      if (shortage) throw ApplicationFailure.nonRetryable(shortage.message ?? 'not enough stock', Reason.OUT_OF_STOCK);
      expectAnswer(ReservationAnswer, response, 'inventory');
    },

    /** Gives the order's reserved stock back. Idempotent: releasing twice, or what was never reserved, is fine. */
    async releaseStock(input: { orderId: string }): Promise<void> {
      const response = await http.send({
        method: 'POST',
        url: `${inventoryUrl}/inventory/reservations/${encodeURIComponent(input.orderId)}/release`,
        idempotencyKey: `release-${input.orderId}`,
      });
      expectAnswer(ReservationAnswer, response, 'inventory');
    },
  };
}
