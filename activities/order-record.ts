import { ApplicationFailure } from '@temporalio/common';
import type { OrderEventBody } from '../domain/schemas/order-events';
import type { OrderRecord, OrderStore } from '../store/order-store';

/** The order has not recorded its end yet: what follows its end waits for it (retried). */
export const ORDER_NOT_ENDED = 'ORDER_NOT_ENDED';

/**
 * The workflow's writes to the store of record. Idempotent (events keyed by order and seq, a view never
 * replaced by an older one): a write lost with a worker, or retried after a timeout, is simply made again.
 */
export function createOrderRecordActivities(store: OrderStore) {
  return {
    async recordOrder(record: OrderRecord): Promise<void> {
      await store.record(record);
    },

    /**
     * What happened to an ended order's money since, on its record (a late refund, or its refusal): once,
     * however often it is retried. An order the store does not know has no record to add it to.
     */
    async recordAfterEnd(input: { orderId: string; event: OrderEventBody; at: string }): Promise<void> {
      const outcome = await store.appendAfterEnd(input.orderId, input.event, input.at);
      if (outcome === 'not-ended')
        throw ApplicationFailure.retryable(`order ${input.orderId} has not recorded its end yet`, ORDER_NOT_ENDED);
    },
  };
}
