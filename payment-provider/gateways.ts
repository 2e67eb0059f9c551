import type { HttpClient } from '../activities/http';
import type { PaymentGateway, PaymentWebhookReader } from './gateway';
import { createHttpGateway, httpWebhookReader } from './http-gateway';

/**
 * The one place a provider's type picks its adapter: the gateway the worker's activities call, and the
 * webhook reader the API's endpoint uses. Every provider is of type `http` today (this project's protocol).
 */
export function paymentGateway(http: HttpClient, provider: { name: string; baseUrl: string }): PaymentGateway {
  return createHttpGateway(http, provider);
}

export function paymentWebhookReader(provider: { webhookSecret: string }): PaymentWebhookReader {
  return httpWebhookReader(provider.webhookSecret);
}
