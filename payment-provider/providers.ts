import { z } from 'zod';

const ProviderName = z.string().regex(/^[a-z0-9-]+$/, 'provider names are lowercase letters, digits and dashes');
const WebhookSecret = z.string().min(8);

/** A provider of type `http`: this project's own protocol (protocol.ts), which the sandbox speaks by default. */
export const HttpProviderConfig = z.strictObject({
  type: z.literal('http'),
  name: ProviderName,
  baseUrl: z.url(),
  webhookSecret: WebhookSecret,
});
export type HttpProviderConfig = z.infer<typeof HttpProviderConfig>;

/** A provider of type `stripe` (stripe-gateway.ts): Stripe Checkout, through the official `stripe` package. */
export const StripeProviderConfig = z.strictObject({
  type: z.literal('stripe'),
  name: ProviderName,
  /** The secret API key (`sk_live_…`, `sk_test_…`, or a restricted `rk_…`). */
  apiKey: z.string().min(8),
  /** The webhook endpoint's signing secret (`whsec_…`), from the Dashboard or `stripe listen`. */
  webhookSecret: WebhookSecret,
  /** Where the Stripe API is: api.stripe.com unless set (the sandbox, or stripe-mock in tests). */
  apiBase: z.url().optional(),
  /** Where Stripe sends the customer after paying (`{CHECKOUT_SESSION_ID}` is filled in by Stripe). */
  successUrl: z.url(),
  /** Where the customer's "back" on the payment page goes; the session stays open. */
  cancelUrl: z.url().optional(),
});
export type StripeProviderConfig = z.infer<typeof StripeProviderConfig>;

/**
 * One entry of `PAYMENT_PROVIDERS` (docs/API.md, "Configuration"). `type` picks the adapter and is `http`
 * when left out, so entries written before there were types read as they did.
 */
export const PaymentProviderConfig = z.preprocess(
  (entry) => (entry !== null && typeof entry === 'object' && !('type' in entry) ? { ...entry, type: 'http' } : entry),
  z.discriminatedUnion('type', [HttpProviderConfig, StripeProviderConfig]),
);
export type PaymentProviderConfig = z.infer<typeof PaymentProviderConfig>;
export type PaymentProviderType = PaymentProviderConfig['type'];
