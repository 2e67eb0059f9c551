import { createForwardStepActivities } from './forward-steps';
import { createFulfillmentActivities } from './fulfillment';
import { createHttpClient, type HttpClient } from './http';
import { createInventoryActivities } from './inventory';
import { createNotificationActivities } from './notifications';
import { createOrderRecordActivities } from './order-record';
import { createPaymentActivities } from './payments';
import type { PaymentProviderConfig } from '../payment-provider/providers';
import { createStatusWebhookActivities, type WebhookEndpoint } from './status-webhooks';
import type { OrderStore } from '../store/order-store';

/** Where the external systems are. In the local stack all but the providers are the sandbox. */
export interface ActivityEndpoints {
  catalogUrl: string;
  inventoryUrl: string;
  fulfillmentUrl: string;
  notificationsUrl: string;
  /** Each by its name, type and that type's settings (payment-provider/providers.ts). */
  paymentProviders: readonly PaymentProviderConfig[];
  /** The checkouts' order webhook endpoints (`ORDER_WEBHOOKS`); none by default. */
  orderWebhooks?: readonly WebhookEndpoint[];
}

/** Every activity the order saga uses, wired to real HTTP (or to the `http` a test hands in) and to the store of record. */
export function createActivities(
  endpoints: ActivityEndpoints,
  store: OrderStore,
  http: HttpClient = createHttpClient(),
) {
  const inventory = createInventoryActivities(http, {
    catalogUrl: endpoints.catalogUrl,
    inventoryUrl: endpoints.inventoryUrl,
  });
  const payments = createPaymentActivities(http, endpoints.paymentProviders);
  return {
    ...inventory,
    ...payments,
    ...createForwardStepActivities(inventory, payments),
    ...createFulfillmentActivities(http, { baseUrl: endpoints.fulfillmentUrl }),
    ...createNotificationActivities(http, { baseUrl: endpoints.notificationsUrl }),
    ...createStatusWebhookActivities(http, endpoints.orderWebhooks ?? []),
    ...createOrderRecordActivities(store),
  };
}

export type OrderActivities = ReturnType<typeof createActivities>;
