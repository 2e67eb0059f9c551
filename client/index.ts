import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, paths } from './generated/api';

export type { components, paths };
export type OrderRequest = components['schemas']['OrderRequest'];
export type OrderView = components['schemas']['OrderView'];
export type Problem = components['schemas']['Problem'];
export type ListOrdersQuery = NonNullable<paths['/orders']['get']['parameters']['query']>;
export type PaymentWebhookEvent = components['schemas']['PaymentWebhookEvent'];
export type OrdersClient = Client<paths>;

/**
 * The API's typed client, as a checkout team would generate it: openapi-fetch over the types that
 * openapi-typescript makes of the OpenAPI document (`npm run client:generate`). Paths, bodies, query
 * parameters and each status's answer are checked against the document at compile time.
 */
export function createOrdersClient(
  baseUrl: string,
  token?: string,
  options: Omit<ClientOptions, 'baseUrl'> = {},
): OrdersClient {
  return createClient<paths>({ ...options, baseUrl, headers: token ? { authorization: `Bearer ${token}` } : {} });
}
