import { ApplicationFailure } from '@temporalio/common';
import { Reason } from '../domain/reasons';
import { createdSinceQuery } from '../domain/schemas/paging';
import { contractError, expectAnswer, UpstreamError, type HttpClient, type HttpResponse } from '../activities/http';
import type { PaymentGateway, PaymentWebhookReader } from './gateway';
import {
  DECLINE_STATUSES,
  NOT_FOUND_CODE,
  NOT_PENDING_CODE,
  PaymentList,
  PaymentPage,
  PaymentRecord,
  PaymentWebhookEvent,
} from './protocol';
import { SIGNATURE_HEADER, verifyWebhookSignature } from './signature';

/**
 * A provider of type `http`: this project's own protocol (protocol.ts, docs/API.md, "Payment webhooks"),
 * which the sandbox's providers speak. Every mutating call carries an idempotency key.
 */
export function createHttpGateway(http: HttpClient, provider: { name: string; baseUrl: string }): PaymentGateway {
  const what = `payment provider ${provider.name}`;
  const paymentUrl = (paymentId: string) => `${provider.baseUrl}/payments/${encodeURIComponent(paymentId)}`;
  const record = (response: HttpResponse) => expectAnswer(PaymentRecord, response, what);
  return {
    async create(payment) {
      const response = await http.send({
        method: 'POST',
        url: `${provider.baseUrl}/payments`,
        body: payment,
        idempotencyKey: `pay-${payment.orderId}`,
      });
      if (DECLINE_STATUSES.includes(response.status)) {
        const error = UpstreamError.safeParse(response.body);
        throw ApplicationFailure.nonRetryable(
          `${provider.name} refused the payment: ${error.success ? error.data.code : response.status}`,
          Reason.PAYMENT_DECLINED,
        );
      }
      return record(response);
    },

    async get(paymentId) {
      const response = await http.send({ method: 'GET', url: paymentUrl(paymentId) });
      return contractError(response, 404, NOT_FOUND_CODE) ? null : record(response);
    },

    async findByOrder(orderId) {
      const url = `${provider.baseUrl}/payments?orderId=${encodeURIComponent(orderId)}`;
      const response = await http.send({ method: 'GET', url });
      return expectAnswer(PaymentList, response, what).payments[0] ?? null;
    },

    async void(paymentId) {
      const response = await http.send({
        method: 'POST',
        url: `${paymentUrl(paymentId)}/void`,
        idempotencyKey: `void-${paymentId}`,
      });
      if (contractError(response, 409, NOT_PENDING_CODE)) return 'not-pending';
      record(response);
      return 'voided';
    },

    async refund(payment, amount) {
      return record(
        await http.send({
          method: 'POST',
          url: `${paymentUrl(payment.paymentId)}/refund`,
          body: { amount },
          // What was refunded before names this refund: a retry repeats it, a later one is a new one.
          idempotencyKey: `refund-${payment.paymentId}-${payment.refunded}`,
        }),
      );
    },

    async createdSince(from, cursor) {
      const response = await http.send({
        method: 'GET',
        url: `${provider.baseUrl}/payments?${createdSinceQuery(from, cursor)}`,
      });
      return expectAnswer(PaymentPage, response, what);
    },
  };
}

/** Reads an `http` provider's webhook: `Payment-Signature` over the raw body with its secret, then the body. */
export function httpWebhookReader(webhookSecret: string): PaymentWebhookReader {
  return (rawBody, header, nowSeconds) => {
    const check = verifyWebhookSignature(webhookSecret, rawBody, header(SIGNATURE_HEADER), nowSeconds);
    if (!check.ok) return { ok: false, status: 401, title: 'Invalid signature', detail: check.problem };
    let json: unknown;
    try {
      json = JSON.parse(rawBody.toString('utf8'));
    } catch {
      return { ok: false, status: 400, title: 'Malformed webhook', detail: 'the body is not JSON' };
    }
    const event = PaymentWebhookEvent.safeParse(json);
    if (!event.success) {
      const detail = 'the body does not match the webhook schema';
      return { ok: false, status: 400, title: 'Malformed webhook', detail, error: event.error };
    }
    const { id, type, data } = event.data;
    return { ok: true, callback: { eventId: id, type, ...data } };
  };
}
