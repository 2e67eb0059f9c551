import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from '@temporalio/common';

/**
 * The custom search attributes support staff search orders by in the Web UI. Never personal data:
 * search attributes are stored and indexed in plaintext.
 */
export const OrderSearchAttributes = {
  orderId: defineSearchAttributeKey('OrderId', SearchAttributeType.KEYWORD),
  customerId: defineSearchAttributeKey('CustomerId', SearchAttributeType.KEYWORD),
  status: defineSearchAttributeKey('OrderStatus', SearchAttributeType.KEYWORD),
  total: defineSearchAttributeKey('OrderTotal', SearchAttributeType.INT),
  paymentProvider: defineSearchAttributeKey('PaymentProvider', SearchAttributeType.KEYWORD),
  needsAttention: defineSearchAttributeKey('NeedsAttention', SearchAttributeType.BOOL),
  /** Set while a webhook endpoint fails to take the order's status events (docs/SUPPORT.md); the order itself is fine. */
  webhooksFailing: defineSearchAttributeKey('WebhooksFailing', SearchAttributeType.BOOL),
  /** Set while the order's writes to the store of record keep failing (docs/OPERATIONS.md); the order itself goes on. */
  storeBehind: defineSearchAttributeKey('StoreBehind', SearchAttributeType.BOOL),
  /**
   * When the order's status last changed (the time of the event that changed it), written with the status:
   * one visibility query finds the orders that moved since a moment, however many are watched (the live
   * streams' poll).
   */
  statusChangedAt: defineSearchAttributeKey('StatusChangedAt', SearchAttributeType.DATETIME),
} as const;

/**
 * The attributes an order's state sets, in the order they are written: the start request sets them from
 * the first event, the workflow re-sets those that changed. One list for both, so they cannot drift
 * (a difference would be an extra upsert command at the first event, and replay would fail).
 */
export function orderStateSearchAttributes(state: {
  status: string;
  total: number;
  needsAttention: boolean;
  payment: { provider: string } | null;
}): SearchAttributePair[] {
  return [
    { key: OrderSearchAttributes.status, value: state.status },
    { key: OrderSearchAttributes.total, value: state.total },
    { key: OrderSearchAttributes.needsAttention, value: state.needsAttention },
    ...(state.payment ? [{ key: OrderSearchAttributes.paymentProvider, value: state.payment.provider }] : []),
  ];
}

/**
 * What goes with a write that changes the status: when it changed (`at`, the time of the last event
 * written). Not part of {@link orderStateSearchAttributes}, which are written when their values differ:
 * this one differs at every event, and is written only with a new status.
 */
export function statusChangeSearchAttributes(at: string): SearchAttributePair[] {
  return [{ key: OrderSearchAttributes.statusChangedAt, value: new Date(at) }];
}

/** Every key, for registering them on a server. */
export const ALL_ORDER_SEARCH_ATTRIBUTES = Object.values(OrderSearchAttributes);
