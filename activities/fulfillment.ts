import { z } from 'zod';
import type { OrderItem, ShippingAddress } from '../domain/order-request';
import { contractError, expectAnswer, type HttpClient } from './http';

/** The fulfillment system's wire contract. */
export const FulfillmentRequest = z.object({
  orderId: z.string(),
  items: z.array(z.object({ sku: z.string(), quantity: z.int() })),
  shippingAddress: z.object({}).passthrough(),
});
export const FulfillmentAnswer = z.object({ fulfillmentId: z.string(), orderId: z.string() });
export const CancelledFulfillment = z.object({ orderId: z.string(), status: z.literal('cancelled') });
/** A cancel's 409: the goods have left the warehouse, and the order can only go forward. */
export const ALREADY_SHIPPED_CODE = 'ALREADY_SHIPPED';
export const AlreadyShipped = z.object({ code: z.literal(ALREADY_SHIPPED_CODE), fulfillmentId: z.string() });
/** A cancel's 404: fulfillment never took the order, so nothing of it can ship. */
export const FULFILLMENT_NOT_FOUND_CODE = 'FULFILLMENT_NOT_FOUND';

/**
 * What a cancel found: the order's fulfillment `cancelled` (nothing will ship), its goods `shipped` (under
 * `fulfillmentId`), or the order `not-taken` by fulfillment at all.
 */
export type FulfillmentCancelOutcome =
  { outcome: 'cancelled' } | { outcome: 'shipped'; fulfillmentId: string } | { outcome: 'not-taken' };

/** Activities against fulfillment: hand a paid order over for shipping, or cancel it; both idempotent per order. */
export function createFulfillmentActivities(http: HttpClient, { baseUrl }: { baseUrl: string }) {
  return {
    async submitFulfillment(input: {
      orderId: string;
      items: OrderItem[];
      shippingAddress: ShippingAddress;
    }): Promise<{ fulfillmentId: string }> {
      const response = await http.send({
        method: 'POST',
        url: `${baseUrl}/fulfillment/orders`,
        body: {
          orderId: input.orderId,
          items: input.items.map(({ sku, quantity }) => ({ sku, quantity })),
          shippingAddress: input.shippingAddress,
        },
        idempotencyKey: `fulfil-${input.orderId}`,
      });
      const { fulfillmentId } = expectAnswer(FulfillmentAnswer, response, 'fulfillment');
      return { fulfillmentId };
    },

    /**
     * Cancels the order's fulfillment, whether or not its submission was ever answered: what fulfillment
     * holds of the order decides whether its money may go back (only when nothing can ship).
     */
    async cancelFulfillment(input: { orderId: string }): Promise<FulfillmentCancelOutcome> {
      const response = await http.send({
        method: 'POST',
        url: `${baseUrl}/fulfillment/orders/${encodeURIComponent(input.orderId)}/cancel`,
        body: {},
        idempotencyKey: `cancel-fulfil-${input.orderId}`,
      });
      const shipped = response.status === 409 ? AlreadyShipped.safeParse(response.body) : null;
      if (shipped?.success) return { outcome: 'shipped', fulfillmentId: shipped.data.fulfillmentId };
      if (contractError(response, 404, FULFILLMENT_NOT_FOUND_CODE)) return { outcome: 'not-taken' };
      expectAnswer(CancelledFulfillment, response, 'fulfillment');
      return { outcome: 'cancelled' };
    },
  };
}
