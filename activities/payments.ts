import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../domain/reasons';
import type { PaymentGateway } from '../payment-provider/gateway';
import { paymentGateway } from '../payment-provider/gateways';
import type { PaymentPage, PaymentRecord } from '../payment-provider/protocol';
import type { PaymentProviderConfig } from '../payment-provider/providers';
import type { HttpClient } from './http';

export type SettleOutcome =
  | { outcome: 'refunded'; paymentId: string; amount: number }
  | { outcome: 'voided'; paymentId: string }
  | { outcome: 'nothing-to-settle'; paymentId: string | null }
  /** The provider has no record of the payment: there is nothing to return. */
  | { outcome: 'not-found'; paymentId: string };

/**
 * Each configured provider's gateway, by name (payment-provider/gateway.ts): an order's record names the
 * provider that holds its money. A name no longer configured is an answer no retry can change.
 */
function gatewaysByName(http: HttpClient, providers: readonly PaymentProviderConfig[]) {
  const gateways = new Map(providers.map((provider) => [provider.name, paymentGateway(http, provider)]));
  return (provider: string): PaymentGateway => {
    const gateway = gateways.get(provider);
    if (!gateway)
      throw ApplicationFailure.nonRetryable(`unknown payment provider ${provider}`, FailureType.UPSTREAM_CONTRACT);
    return gateway;
  };
}

/**
 * A provider's payments opened since a time, page by page: not an activity, but what an operator's
 * reconciliation after a restore reads (stack/reconcile.ts).
 */
export function createPaymentLister(http: HttpClient, providers: readonly PaymentProviderConfig[]) {
  const gatewayOf = gatewaysByName(http, providers);
  return {
    page: (provider: string, createdFrom: Date, cursor: string | null): Promise<PaymentPage> =>
      gatewayOf(provider).createdSince(createdFrom, cursor),
  };
}

/** Activities against the payment providers, addressed by name, through each one's gateway. */
export function createPaymentActivities(http: HttpClient, providers: readonly PaymentProviderConfig[]) {
  const gatewayOf = gatewaysByName(http, providers);

  return {
    /**
     * Opens a payment for the order (idempotent per order). Transient failures are retried; the provider's
     * refusal is `PAYMENT_DECLINED`; any other 4xx is an answer the saga cannot read.
     */
    async createPayment(input: {
      provider: string;
      orderId: string;
      amount: number;
      currency: string;
      token: string;
    }): Promise<PaymentRecord> {
      const { provider, ...payment } = input;
      return gatewayOf(provider).create(payment);
    },

    /** Asks the provider where a payment stands (reconciliation when the callback never came); null: it has no record of it. */
    async getPaymentStatus(input: { provider: string; paymentId: string }): Promise<PaymentRecord | null> {
      return gatewayOf(input.provider).get(input.paymentId);
    },

    /**
     * Undoes whatever a payment did: refunds what was captured and not yet refunded, voids what is still
     * pending, and does nothing otherwise. Idempotent, so it is safe as a compensation and for late money.
     * Without a payment id it looks the order's payment up (the create call may have landed unseen).
     */
    async settlePayment(input: { provider: string; orderId: string; paymentId?: string }): Promise<SettleOutcome> {
      const gateway = gatewayOf(input.provider);
      const payment = input.paymentId ? await gateway.get(input.paymentId) : await gateway.findByOrder(input.orderId);
      if (!payment)
        return input.paymentId
          ? { outcome: 'not-found', paymentId: input.paymentId }
          : { outcome: 'nothing-to-settle', paymentId: null };
      const outstanding = payment.captured - payment.refunded;
      if (outstanding > 0) {
        const refunded = await gateway.refund(payment, outstanding);
        return { outcome: 'refunded', paymentId: refunded.paymentId, amount: outstanding };
      }
      if (payment.status === 'pending') {
        if ((await gateway.void(payment.paymentId)) === 'not-pending') {
          // The payment succeeded between our read and the void: the next attempt reads it again and refunds.
          throw ApplicationFailure.retryable(
            `${payment.paymentId} left pending during the void`,
            FailureType.PAYMENT_STATE_CHANGED,
          );
        }
        return { outcome: 'voided', paymentId: payment.paymentId };
      }
      return { outcome: 'nothing-to-settle', paymentId: payment.paymentId };
    },
  };
}
