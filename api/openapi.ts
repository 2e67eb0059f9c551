import {
  createDocument,
  type ZodOpenApiOperationObject,
  type ZodOpenApiResponseObject,
  type ZodOpenApiResponsesObject,
} from 'zod-openapi';
import { z } from 'zod';
import { PaymentWebhookEvent } from '../payment-provider/protocol';
import { StatusEvent } from '../domain/schemas/status-events';
import { WebhookHeader } from '../domain/status-events';
import {
  CancelBody,
  CodecPayloads,
  Health,
  LastEventId,
  ListOrdersQuery,
  OperatorBody,
  OrderEvents,
  OrderIdParam,
  OrderList,
  OrderRequestBody,
  OrderStreamEvent,
  OrderViewBody,
  Problem,
  Readiness,
  WebhookReceived,
} from './http-schemas';

const json = <T extends z.ZodType>(schema: T) => ({ content: { 'application/json': { schema } } });
const requiredJson = <T extends z.ZodType>(schema: T) => ({ required: true, ...json(schema) });
const problemOf = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: Problem } },
});
const secured = [{ bearer: [] }];
/** Open to anyone who can reach the API: probes, scrapers, and the providers' callbacks (signed instead). */
const open: [] = [];
const authErrors: ZodOpenApiResponsesObject = {
  '401': problemOf('No token, or an unknown one'),
  '403': problemOf('The token lacks the scope'),
};
/** A 503: retrying after `Retry-After` seconds, with the same body, is safe. */
const unavailable = (description: string): ZodOpenApiResponsesObject => ({
  '503': {
    ...problemOf(description),
    headers: z.object({
      'Retry-After': z.string().meta({ description: 'Seconds to wait before sending the same request again' }),
    }),
  },
});
const temporalUnavailable = unavailable('Temporal did not answer in time; retrying is safe');
/** Node refuses a request line and headers over 16 kB before the app sees them (no body). */
const tooLarge: ZodOpenApiResponsesObject = { '431': { description: 'Request line and headers over 16 kB' } };
const withOrderId = { requestParams: { path: z.object({ orderId: OrderIdParam }) } };
/**
 * Where an answer with an order leads: the routes that read or act on it, and its provider's callback, so a
 * client or a test generator can follow an order from its creation.
 */
const orderId = '$response.body#/orderId';
const placedOrderLinks: ZodOpenApiResponseObject['links'] = {
  GetOrder: { operationId: 'getOrder', parameters: { orderId } },
  ListOrderEvents: { operationId: 'listOrderEvents', parameters: { orderId } },
  CancelOrder: { operationId: 'cancelOrder', parameters: { orderId } },
  RetryCompensation: { operationId: 'retryCompensation', parameters: { orderId } },
  MarkResolved: { operationId: 'markResolved', parameters: { orderId } },
  ReceivePaymentWebhook: {
    operationId: 'receivePaymentWebhook',
    parameters: { provider: '$response.body#/payment/provider' },
  },
};
const operatorAction = (operationId: string, summary: string): ZodOpenApiOperationObject => ({
  operationId,
  summary,
  security: secured,
  ...withOrderId,
  requestBody: requiredJson(OperatorBody),
  responses: {
    '202': { description: 'Signalled; recorded as OperatorAction', ...json(OrderViewBody) },
    '400': problemOf('Schema errors'),
    ...authErrors,
    '404': problemOf('Unknown order'),
    '409': problemOf('The order is not REQUIRES_ATTENTION, or its workflow has closed'),
    ...tooLarge,
    ...temporalUnavailable,
  },
});

const codecOperation = (operationId: string, summary: string): ZodOpenApiOperationObject => ({
  operationId,
  summary,
  security: secured,
  requestBody: requiredJson(CodecPayloads),
  responses: {
    '200': { description: 'The payloads, encoded or decoded', ...json(CodecPayloads) },
    '400': problemOf('Not in the codec format, or a payload that cannot be decrypted'),
    ...authErrors,
    ...tooLarge,
  },
});

/** The OpenAPI 3.1 document of the API, generated from the schemas the routes parse with. */
export function openApiDocument() {
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Order saga orchestrator API',
      version: '1.0.0',
      description:
        "Places orders as durable Temporal sagas, takes the payment providers' callbacks, and reads and acts on orders.",
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: '/', description: 'The API serving this document' }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    // What the API's side sends: the order webhooks a checkout registers in ORDER_WEBHOOKS.
    webhooks: {
      orderStatusChanged: {
        post: {
          operationId: 'orderStatusChanged',
          summary: "An order's status changed (sent to each endpoint in ORDER_WEBHOOKS, in order per order)",
          // No token: the receiver checks the signature instead.
          security: open,
          requestParams: {
            header: z.object({
              [WebhookHeader.id]: z.string().meta({ description: "The event's id: the same at every delivery" }),
              [WebhookHeader.timestamp]: z.string().meta({ description: 'Unix seconds when this delivery was signed' }),
              [WebhookHeader.signature]: z.string().meta({
                description:
                  'v1,<base64 HMAC-SHA256 of id.timestamp.body with the endpoint secret> (Standard Webhooks)',
              }),
            }),
          },
          requestBody: requiredJson(StatusEvent),
          responses: {
            '204': { description: 'Taken (any 2xx is); anything else is retried with backoff' },
          },
        },
      },
    },
    paths: {
      '/orders': {
        post: {
          operationId: 'placeOrder',
          summary: 'Place an order',
          security: secured,
          requestBody: requiredJson(OrderRequestBody),
          responses: {
            '201': {
              description: 'New order, at AWAITING_PAYMENT (with checkoutUrl) or terminal',
              ...json(OrderViewBody),
              links: placedOrderLinks,
            },
            '200': {
              description: 'The same order again: nothing new started',
              ...json(OrderViewBody),
              links: placedOrderLinks,
            },
            '202': {
              description: 'Accepted durably, not yet at AWAITING_PAYMENT',
              ...json(OrderViewBody),
              links: placedOrderLinks,
            },
            '400': problemOf('Schema errors, with field paths'),
            ...authErrors,
            '409': problemOf('The orderId exists with a different body'),
            '413': problemOf('Body over 100 kB'),
            '422': { description: 'The order was REJECTED; reason says why', ...json(OrderViewBody) },
            ...unavailable(
              'Nothing was started: the API is at its limit of orders in flight (title "Too many orders in flight"); or Temporal could not say in time whether the order was recorded, so it may or may not exist (title "Order outcome unknown"). Either way, retrying with the same body after Retry-After is safe',
            ),
          },
        },
        get: {
          operationId: 'listOrders',
          summary: 'List orders (Temporal visibility; may lag a moment)',
          security: secured,
          requestParams: { query: ListOrdersQuery },
          responses: {
            '200': { description: 'A page of orders', ...json(OrderList) },
            '400': problemOf('Bad query'),
            ...authErrors,
            ...tooLarge,
            ...temporalUnavailable,
          },
        },
      },
      '/orders/{orderId}': {
        get: {
          operationId: 'getOrder',
          summary: 'Read an order (answers with no worker running)',
          security: secured,
          ...withOrderId,
          responses: {
            '200': { description: 'The order', ...json(OrderViewBody) },
            ...authErrors,
            '404': problemOf('Unknown order'),
            ...tooLarge,
            ...temporalUnavailable,
          },
        },
      },
      '/orders/{orderId}/events': {
        get: {
          operationId: 'listOrderEvents',
          summary: "An order's domain events",
          security: secured,
          ...withOrderId,
          responses: {
            '200': { description: 'Events, oldest first', ...json(OrderEvents) },
            ...authErrors,
            '404': problemOf('Unknown order'),
            ...tooLarge,
            ...temporalUnavailable,
          },
        },
      },
      '/orders/{orderId}/stream': {
        get: {
          operationId: 'streamOrder',
          summary: 'Follow an order live: Server-Sent Events (answers with no worker running)',
          security: secured,
          requestParams: {
            path: z.object({ orderId: OrderIdParam }),
            header: z.object({ 'last-event-id': LastEventId }),
          },
          responses: {
            '200': {
              description:
                'An event stream: `order` (the order now, data an Order) at once, then one event per status change ' +
                '(`order.awaiting_payment`, `order.paid`, … with an OrderStatusEvent as data), each with the number ' +
                'of the domain event behind it as its id; a `: heartbeat` comment every 15 s; it ends at a terminal status',
              content: { 'text/event-stream': { schema: OrderStreamEvent } },
            },
            '400': problemOf('A Last-Event-ID that is not an event number'),
            ...authErrors,
            '404': problemOf('Unknown order'),
            ...tooLarge,
            ...unavailable('Temporal did not answer in time, or this API instance has ORDER_STREAMS_MAX streams open'),
          },
        },
      },
      '/orders/{orderId}/cancel': {
        post: {
          operationId: 'cancelOrder',
          summary: 'Cancel an order (until it is PAID)',
          security: secured,
          ...withOrderId,
          requestBody: json(CancelBody),
          responses: {
            '200': { description: 'Compensation has run (or the order was already CANCELLED)', ...json(OrderViewBody) },
            '202': {
              description: 'Cancel recorded durably; compensation has not finished yet (or no worker runs)',
              ...json(OrderViewBody),
            },
            '400': problemOf('Schema errors, or a body that is not JSON'),
            ...authErrors,
            '404': problemOf('Unknown order'),
            '409': problemOf('PAID, CONFIRMED or REJECTED'),
            ...tooLarge,
            ...unavailable('Temporal could not say in time whether the cancel was recorded; retrying it is safe'),
          },
        },
      },
      '/orders/{orderId}/actions/retry-compensation': {
        post: operatorAction('retryCompensation', 'Run the failed compensations again'),
      },
      '/orders/{orderId}/actions/mark-resolved': {
        post: operatorAction('markResolved', 'Mark an order settled by hand; it ends CANCELLED'),
      },
      '/webhooks/payments/{provider}': {
        post: {
          operationId: 'receivePaymentWebhook',
          summary: 'Payment provider callback, authenticated by its signature (Stripe-Signature for a stripe provider)',
          security: open,
          requestParams: {
            path: z.object({
              provider: z.string().meta({ description: 'A configured provider name', example: 'primary' }),
            }),
            header: z.object({
              'Payment-Signature': z
                .string()
                .optional()
                .meta({ description: 't=<unix s>,v1=<hex HMAC-SHA256(secret, t.rawBody)>' }),
              'Stripe-Signature': z
                .string()
                .optional()
                .meta({ description: "A stripe provider's: Stripe's own scheme, checked by the stripe package" }),
            }),
          },
          requestBody: requiredJson(
            PaymentWebhookEvent.meta({
              id: 'PaymentWebhookEvent',
              description: "An http provider's callback; a stripe provider posts Stripe's own events",
            }),
          ),
          responses: {
            '200': { description: 'Accepted (also for duplicates)', ...json(WebhookReceived) },
            '400': problemOf('Malformed body'),
            '401': problemOf('Missing, invalid or stale signature'),
            '404': problemOf('Unknown provider'),
            ...tooLarge,
            ...unavailable('Not taken: Temporal did not answer in time; the provider retries'),
          },
        },
      },
      '/codec/encode': { post: codecOperation('encodePayloads', 'Encrypt payloads (Temporal codec server)') },
      '/codec/decode': {
        post: codecOperation('decodePayloads', 'Decrypt payloads for the Web UI (Temporal codec server)'),
      },
      '/healthz': {
        get: {
          operationId: 'getLiveness',
          summary: 'Liveness',
          security: open,
          responses: { '200': { description: 'Up', ...json(Health) }, ...tooLarge },
        },
      },
      '/readyz': {
        get: {
          operationId: 'getReadiness',
          summary:
            'Readiness: Temporal answers (an API that sheds starts is still ready: it serves reads and webhooks)',
          security: open,
          responses: {
            '200': { description: 'Ready', ...json(Readiness) },
            ...tooLarge,
            '503': { description: 'Temporal unreachable', ...json(Readiness) },
          },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'getOpenApiDocument',
          summary: 'This document',
          security: open,
          responses: {
            '200': { description: 'OpenAPI 3.1', ...json(z.looseObject({ openapi: z.string() })) },
            ...tooLarge,
          },
        },
      },
      '/metrics': {
        get: {
          operationId: 'getMetrics',
          summary: 'Prometheus metrics',
          security: open,
          responses: {
            '200': { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } },
            ...tooLarge,
          },
        },
      },
    },
  });
}
