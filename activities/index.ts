import { createFulfillmentActivities } from './fulfillment';
import { createHttpClient, type HttpClient } from './http';
import { createInventoryActivities } from './inventory';
import { createNotificationActivities } from './notifications';
import { createPaymentActivities, type PaymentProviderEndpoint } from './payments';

/** Where the external systems are. In the local stack all but the providers are the sandbox. */
export interface ActivityEndpoints {
  catalogUrl: string;
  inventoryUrl: string;
  fulfillmentUrl: string;
  notificationsUrl: string;
  paymentProviders: readonly PaymentProviderEndpoint[];
}

/** Every activity the order saga uses, wired to real HTTP (or to the `http` a test hands in). */
export function createActivities(endpoints: ActivityEndpoints, http: HttpClient = createHttpClient()) {
  return {
    ...createInventoryActivities(http, { catalogUrl: endpoints.catalogUrl, inventoryUrl: endpoints.inventoryUrl }),
    ...createPaymentActivities(http, endpoints.paymentProviders),
    ...createFulfillmentActivities(http, { baseUrl: endpoints.fulfillmentUrl }),
    ...createNotificationActivities(http, { baseUrl: endpoints.notificationsUrl }),
  };
}

export type OrderActivities = ReturnType<typeof createActivities>;
