import { ApplicationFailure } from '@temporalio/common';
import { FailureType, Reason } from '../domain/reasons';
import {
  DECLINE_STATUSES,
  type CreatePaymentRequest,
  NOT_FOUND_CODE,
  NOT_PENDING_CODE,
  PaymentList,
  PaymentPage,
  PaymentRecord,
} from '../payment-provider/protocol';
import { createdSinceQuery } from '../domain/schemas/paging';
import { contractError, expectAnswer, UpstreamError, type HttpClient, type HttpResponse } from './http';

export interface PaymentProviderEndpoint {
  name: string;
  baseUrl: string;
}

export type SettleOutcome =
  | { outcome: 'refunded'; paymentId: string; amount: number }
  | { outcome: 'voided'; paymentId: string }
  | { outcome: 'nothing-to-settle'; paymentId: string | null }
  /** The provider has no record of the payment: there is nothing to return. */
  | { outcome: 'not-found'; paymentId: string };

function baseUrlIn(providers: readonly PaymentProviderEndpoint[], provider: string): string {
  const found = providers.find((p) => p.name === provider);
  if (!found)
    throw ApplicationFailure.nonRetryable(`unknown payment provider ${provider}`, FailureType.UPSTREAM_CONTRACT);
  return found.baseUrl;
}

/**
 * A provider's payments opened since a time, page by page (`GET /payments?createdFrom=`): not an activity,
 * but what an operator's reconciliation after a restore reads (stack/reconcile.ts).
 */
export function createPaymentLister(http: HttpClient, providers: readonly PaymentProviderEndpoint[]) {
  return {
    async page(provider: string, createdFrom: Date, cursor: string | null): Promise<PaymentPage> {
      const query = createdSinceQuery(createdFrom, cursor);
      const response = await http.send({ method: 'GET', url: `${baseUrlIn(providers, provider)}/payments?${query}` });
      return expectAnswer(PaymentPage, response, `payment provider ${provider}`);
    },
  };
}

/** Activities against the payment providers, addressed by name. Every mutating call carries an idempotency key. */
export function createPaymentActivities(http: HttpClient, providers: readonly PaymentProviderEndpoint[]) {
  const baseUrlOf = (provider: string): string => baseUrlIn(providers, provider);
  const paymentUrl = (provider: string, paymentId: string) =>
    `${baseUrlOf(provider)}/payments/${encodeURIComponent(paymentId)}`;
  const record = (response: HttpResponse, provider: string) =>
    expectAnswer(PaymentRecord, response, `payment provider ${provider}`);
  /** The payment, or null when the provider has no record of it. */
  const getPayment = async (provider: string, paymentId: string): Promise<PaymentRecord | null> => {
    const response = await http.send({ method: 'GET', url: paymentUrl(provider, paymentId) });
    return contractError(response, 404, NOT_FOUND_CODE) ? null : record(response, provider);
  };

  async function findPayment(provider: string, input: { orderId: string; paymentId?: string }) {
    if (input.paymentId) return getPayment(provider, input.paymentId);
    const url = `${baseUrlOf(provider)}/payments?orderId=${encodeURIComponent(input.orderId)}`;
    const response = await http.send({ method: 'GET', url });
    return expectAnswer(PaymentList, response, `payment provider ${provider}`).payments[0] ?? null;
  }

  return {
    /**
     * Opens a payment for the order (idempotent per order). Transient failures are retried; the provider's
     * refusal (402, 422) is `PAYMENT_DECLINED`; any other 4xx is an answer the saga cannot read.
     */
    async createPayment(input: {
      provider: string;
      orderId: string;
      amount: number;
      currency: string;
      token: string;
    }): Promise<PaymentRecord> {
      const { provider, ...payment } = input;
      const response = await http.send({
        method: 'POST',
        url: `${baseUrlOf(provider)}/payments`,
        body: payment satisfies CreatePaymentRequest,
        idempotencyKey: `pay-${input.orderId}`,
      });
      if (DECLINE_STATUSES.includes(response.status)) {
        const error = UpstreamError.safeParse(response.body);
        throw ApplicationFailure.nonRetryable(
          `${provider} refused the payment: ${error.success ? error.data.code : response.status}`,
          Reason.PAYMENT_DECLINED,
        );
      }
      return record(response, provider);
    },

    /** Asks the provider where a payment stands (reconciliation when the callback never came); null: it has no record of it. */
    async getPaymentStatus(input: { provider: string; paymentId: string }): Promise<PaymentRecord | null> {
      return getPayment(input.provider, input.paymentId);
    },

    /**
     * Undoes whatever a payment did: refunds what was captured and not yet refunded, voids what is still
     * pending, and does nothing otherwise. Idempotent, so it is safe as a compensation and for late money.
     * Without a payment id it looks the order's payment up (the create call may have landed unseen).
     */
    async settlePayment(input: { provider: string; orderId: string; paymentId?: string }): Promise<SettleOutcome> {
      const { provider } = input;
      const payment = await findPayment(provider, input);
      if (!payment)
        return input.paymentId
          ? { outcome: 'not-found', paymentId: input.paymentId }
          : { outcome: 'nothing-to-settle', paymentId: null };
      const outstanding = payment.captured - payment.refunded;
      if (outstanding > 0) {
        const refunded = record(
          await http.send({
            method: 'POST',
            url: `${paymentUrl(provider, payment.paymentId)}/refund`,
            body: { amount: outstanding },
            idempotencyKey: `refund-${payment.paymentId}-${payment.refunded}`,
          }),
          provider,
        );
        return { outcome: 'refunded', paymentId: refunded.paymentId, amount: outstanding };
      }
      if (payment.status === 'pending') {
        const response = await http.send({
          method: 'POST',
          url: `${paymentUrl(provider, payment.paymentId)}/void`,
          idempotencyKey: `void-${payment.paymentId}`,
        });
        if (contractError(response, 409, NOT_PENDING_CODE)) {
          // The payment succeeded between our read and the void: the next attempt reads it again and refunds.
          throw ApplicationFailure.retryable(
            `${payment.paymentId} left pending during the void`,
            FailureType.PAYMENT_STATE_CHANGED,
          );
        }
        record(response, provider);
        return { outcome: 'voided', paymentId: payment.paymentId };
      }
      return { outcome: 'nothing-to-settle', paymentId: payment.paymentId };
    },
  };
}
