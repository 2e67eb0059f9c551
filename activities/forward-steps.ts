import { Context } from '@temporalio/activity';
import type { OrderItem } from '../domain/order-request';
import type { PaymentRecord } from '../payment-provider/protocol';
import type { createInventoryActivities } from './inventory';
import type { createPaymentActivities } from './payments';

type InventoryActivities = ReturnType<typeof createInventoryActivities>;
type PaymentActivities = ReturnType<typeof createPaymentActivities>;

/** What the steps up to the payment link leave when all three went through: the order's total and its payment. */
export interface ForwardStepsDone {
  total: number;
  payment: PaymentRecord;
}

/**
 * The steps up to the payment link in one call: the saga's first attempt at them (workflows/order-steps.ts,
 * `allAtOnce`), so that an order whose systems all answer asks its worker for one local
 * activity instead of three. Each step is the same call its own activity makes, with the same
 * idempotency, in the same order; the first that fails ends the call with its failure, and the saga then
 * takes the steps one by one, as it would have without this call.
 */
export function createForwardStepActivities(inventory: InventoryActivities, payments: PaymentActivities) {
  return {
    async validateReserveAndRequestPayment(input: {
      orderId: string;
      items: OrderItem[];
      provider: string;
      currency: string;
      token: string;
    }): Promise<ForwardStepsDone> {
      const { orderId, items, provider, currency, token } = input;
      const { cancellationSignal } = Context.current();
      const { total } = await inventory.validateOrder({ orderId, items });
      // A cancel asked meanwhile stops the call before its next step moves anything.
      cancellationSignal.throwIfAborted();
      await inventory.reserveStock({ orderId, items });
      cancellationSignal.throwIfAborted();
      const payment = await payments.createPayment({ provider, orderId, amount: total, currency, token });
      return { total, payment };
    },
  };
}
