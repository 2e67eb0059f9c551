import type { OrderRecord, OrderStore } from '../store/order-store';

/**
 * The workflow's writes to the store of record. Idempotent (events keyed by order and seq, a view never
 * replaced by an older one): a write lost with a worker, or retried after a timeout, is simply made again.
 */
export function createOrderRecordActivities(store: OrderStore) {
  return {
    async recordOrder(record: OrderRecord): Promise<void> {
      await store.record(record);
    },
  };
}
