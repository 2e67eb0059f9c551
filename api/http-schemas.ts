import { z } from 'zod';
import 'zod-openapi';
import { CancelRequest, OperatorRequest } from '../domain/schemas/contract';
import { OrderEvent } from '../domain/schemas/order-events';
import { CustomerId, OrderId, OrderRequest } from '../domain/schemas/order-request';
import { OrderStatus, OrderView } from '../domain/schemas/order-state';
import { StatusEventType } from '../domain/schemas/status-events';

/**
 * The HTTP contract's schemas (docs/API.md, "Placing an order" to "Payment webhooks"), on top of the domain's. The routes parse with them and the
 * OpenAPI document is generated from them: one source for both.
 */

export const OrderIdParam = OrderId.meta({ description: 'The order id the checkout chose', example: 'A-1001' });

/** One event of a live stream, as an SSE client parses it (heartbeats are comments, not events). */
export const OrderStreamEvent = z
  .object({
    id: z.string().regex(/^\d+$/).meta({ description: 'The number of the last domain event it accounts for' }),
    event: z.enum(['order', ...StatusEventType.options]),
    data: z.string().meta({
      description: 'JSON: the Order for `order`, an OrderStatusEvent for the status changes',
      contentMediaType: 'application/json',
    }),
  })
  .meta({ id: 'OrderStreamEvent' });

/** A live stream's resumption point: the id of the last event the client got (an event number). */
export const LastEventId = z
  .string()
  .regex(/^\d{1,9}$/)
  .transform(Number)
  .optional()
  .meta({ description: 'The id of the last event this client got from the stream: it resumes after it' });

/** The order the README places: a customer who never pays, so it waits at its payment link. */
export const EXAMPLE_ORDER = {
  orderId: 'A-1001',
  customer: { id: 'c-42', email: 'ada@example.com' },
  currency: 'EUR',
  items: [{ sku: 'SKU-TEE', quantity: 2, unitPrice: 1999 }],
  shippingAddress: { name: 'Ada L', line1: '1 Main St', city: 'Paris', postalCode: '75001', country: 'FR' },
  payment: { method: 'card', token: 'tok_lost' },
} satisfies OrderRequest;

export const OrderRequestBody = OrderRequest.meta({
  id: 'OrderRequest',
  description: 'An order to place',
  example: EXAMPLE_ORDER,
});
export const OrderViewBody = OrderView.meta({
  id: 'OrderView',
  description: 'The order as checkout and support see it',
});

/** An order in a list: the view without its lines, payment and reason (read from visibility alone). */
export const OrderSummary = OrderView.pick({
  orderId: true,
  status: true,
  customerId: true,
  total: true,
  currency: true,
  needsAttention: true,
  createdAt: true,
}).meta({ id: 'OrderSummary' });
export type OrderSummary = z.infer<typeof OrderSummary>;

export const ListOrdersQuery = z.strictObject({
  status: OrderStatus.optional(),
  customerId: CustomerId.optional(),
  needsAttention: z.enum(['true', 'false']).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  /** Opaque, as the previous page gave it: base64url, a few hundred characters. */
  pageToken: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,1024}$/, 'is not a page token this API gave out')
    .optional(),
});
export type ListOrdersQuery = z.infer<typeof ListOrdersQuery>;

export const OrderList = z
  .object({ orders: z.array(OrderSummary), nextPageToken: z.string().nullable() })
  .meta({ id: 'OrderList' });

export const OrderEvents = z
  .object({ orderId: z.string(), events: z.array(OrderEvent) })
  .meta({ id: 'OrderEvents', description: 'Domain events, oldest first, seq from 1 without gaps' });

/** The body of a cancel: the caller's reason; who asked comes from the token. */
export const CancelBody = z.strictObject({ reason: CancelRequest.shape.reason }).meta({ id: 'CancelRequest' });
/** The body of an operator action: the operator's note; who acted comes from the token. */
export const OperatorBody = z.strictObject({ note: OperatorRequest.shape.note }).meta({ id: 'OperatorRequest' });

export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details, with the offending field paths' });

export const Health = z.object({ status: z.string() }).meta({ id: 'Health' });
export const Readiness = Health.extend({
  shedding: z.boolean().meta({ description: 'Whether POST /orders was refused for load in the last few seconds' }),
  startsInFlight: z.int(),
  startsWaiting: z.int().meta({ description: 'POST /orders waiting in line for a slot' }),
  maxStartsInFlight: z.int(),
}).meta({ id: 'Readiness' });
export const WebhookReceived = z
  .object({
    received: z.literal(true),
    ignored: z
      .string()
      .optional()
      .meta({ description: 'Why a genuine event was not acted on (a Stripe event type the saga does not use, say)' }),
  })
  .meta({ id: 'WebhookReceived' });

/** Temporal's codec-server body: payloads in proto3 JSON, bytes as base64. */
export const CodecPayloads = z
  .strictObject({
    payloads: z
      .array(z.object({ metadata: z.record(z.string(), z.base64()).optional(), data: z.base64().optional() }))
      .max(1000),
  })
  .meta({
    id: 'CodecPayloads',
    description: 'Temporal codec-server format: { payloads: [{ metadata, data }] }, bytes base64',
  });
export type CodecPayloads = z.infer<typeof CodecPayloads>;
