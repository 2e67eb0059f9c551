import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

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
} as const;

/** Every key, for registering them on a server. */
export const ALL_ORDER_SEARCH_ATTRIBUTES = Object.values(OrderSearchAttributes);
