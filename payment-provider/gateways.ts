import { DEFAULT_HTTP_TIMEOUT_MS, type HttpClient } from '../activities/http';
import type { PaymentGateway, PaymentWebhookReader } from './gateway';
import { createHttpGateway, httpWebhookReader } from './http-gateway';
import type { PaymentProviderConfig } from './providers';
import { createStripeGateway, stripeWebhookReader } from './stripe-gateway';

/**
 * The one place a provider's type picks its adapter: the gateway the worker's activities call, and the
 * webhook reader the API's endpoint uses (docs/SYSTEMS.md, "Adding a provider type").
 */
export function paymentGateway(http: HttpClient, provider: PaymentProviderConfig): PaymentGateway {
  switch (provider.type) {
    case 'http':
      return createHttpGateway(http, provider);
    case 'stripe':
      return createStripeGateway(provider, http.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS);
  }
}

export function paymentWebhookReader(provider: PaymentProviderConfig): PaymentWebhookReader {
  switch (provider.type) {
    case 'http':
      return httpWebhookReader(provider.webhookSecret);
    case 'stripe':
      return stripeWebhookReader(provider);
  }
}
