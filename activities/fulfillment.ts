import { z } from 'zod';
import type { OrderItem, ShippingAddress } from '../domain/order-request';
import { expectAnswer, type HttpClient } from './http';

/** The fulfillment system's wire contract. */
export const FulfillmentRequest = z.object({
  orderId: z.string(),
  items: z.array(z.object({ sku: z.string(), quantity: z.int() })),
  shippingAddress: z.object({}).passthrough(),
});
export const FulfillmentAnswer = z.object({ fulfillmentId: z.string(), orderId: z.string() });

/** Activities against fulfillment: hand a paid order over for shipping, idempotent per order. */
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
  };
}
