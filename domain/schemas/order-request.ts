import { z } from 'zod';

/**
 * The order a checkout service places (docs/API.md, "Placing an order"). Parsed at the HTTP boundary, once:
 * the workflow takes the input the API built from it. Every rule here is the contract's, nothing more.
 */
/**
 * The largest unit price, in minor units (100 million in major ones). With at most 100 lines of at most
 * 1,000 each, no order's total can leave the range of exact integers, so the bound is one a client can
 * read in the OpenAPI document instead of a check on the sum it could not predict.
 */
export const MAX_UNIT_PRICE = 10_000_000_000;

export const OrderItem = z.object({
  sku: z.string().min(1).max(64),
  quantity: z.int().min(1).max(1000),
  unitPrice: z.int().min(0).max(MAX_UNIT_PRICE),
});
export type OrderItem = z.infer<typeof OrderItem>;

export const ShippingAddress = z.object({
  name: z.string().min(1).max(200),
  line1: z.string().min(1).max(200),
  line2: z.string().max(200).optional(),
  city: z.string().min(1).max(100),
  postalCode: z.string().min(1).max(20),
  country: z.string().regex(/^[A-Z]{2}$/, 'must be two uppercase letters'),
});
export type ShippingAddress = z.infer<typeof ShippingAddress>;

/**
 * A customer id: an identifier from the checkout's own system. The charset is what Temporal visibility can
 * match exactly in a query (quotes and backslashes cannot be), so every order is findable by its customer.
 */
export const CustomerId = z
  .string()
  .regex(/^[A-Za-z0-9._:@+/-]{1,128}$/, 'must be 1-128 characters of A-Z a-z 0-9 . _ : @ + / -');

/** An order id, as the checkout chooses it: the order's key everywhere (URLs, workflow ids, webhooks). */
export const OrderId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 . _ -');

/** A currency as its ISO 4217 code. */
export const Currency = z.string().regex(/^[A-Z]{3}$/, 'must be three uppercase letters');

export const OrderRequest = z.strictObject({
  orderId: OrderId,
  customer: z.object({
    id: CustomerId,
    email: z.email(),
  }),
  currency: Currency,
  items: z.array(OrderItem).min(1).max(100),
  shippingAddress: ShippingAddress,
  payment: z.object({
    method: z.string().min(1).max(32),
    token: z.string().min(1).max(128),
  }),
});
export type OrderRequest = z.infer<typeof OrderRequest>;
