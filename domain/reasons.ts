/**
 * Why an order is where it is: the closed list of the contract, then the codes added since (only ever
 * added, never changed). Also the `type` of business `ApplicationFailure`s.
 */
export const Reason = {
  UNKNOWN_SKU: 'UNKNOWN_SKU',
  PRICE_MISMATCH: 'PRICE_MISMATCH',
  INVALID_ORDER: 'INVALID_ORDER',
  OUT_OF_STOCK: 'OUT_OF_STOCK',
  PAYMENT_DECLINED: 'PAYMENT_DECLINED',
  PAYMENT_TIMEOUT: 'PAYMENT_TIMEOUT',
  PAYMENT_UNAVAILABLE: 'PAYMENT_UNAVAILABLE',
  CANCELLED_BY_CUSTOMER: 'CANCELLED_BY_CUSTOMER',
  CANCELLED_BY_SUPPORT: 'CANCELLED_BY_SUPPORT',
  CONFIRMATION_FAILED: 'CONFIRMATION_FAILED',
  COMPENSATION_FAILED: 'COMPENSATION_FAILED',
  /** Inventory could not be reached for the reservation's whole retry budget: compensated, `CANCELLED`. */
  INVENTORY_UNAVAILABLE: 'INVENTORY_UNAVAILABLE',
  /** A system answered what the saga has no meaning for (a final 4xx, a body off its contract): `REQUIRES_ATTENTION`. */
  UNEXPECTED_ANSWER: 'UNEXPECTED_ANSWER',
  /** A step with nothing of its own to undo could not reach its system for its whole retry budget: `REQUIRES_ATTENTION`. */
  RETRIES_EXHAUSTED: 'RETRIES_EXHAUSTED',
  /** The order's workflow was closed other than through its own story (terminated, failed, timed out). */
  WORKFLOW_CLOSED: 'WORKFLOW_CLOSED',
} as const;
export type ReasonCode = (typeof Reason)[keyof typeof Reason];

/** Whether a failure's type is one of the reason codes (a refusal in the saga's own terms). */
export function isReasonCode(type: string | null | undefined): type is ReasonCode {
  return typeof type === 'string' && Object.hasOwn(Reason, type);
}

/** Reason codes that end an order as `REJECTED` at validation or reservation: no money has moved. */
export const REJECTION_CODES: readonly ReasonCode[] = [
  Reason.UNKNOWN_SKU,
  Reason.PRICE_MISMATCH,
  Reason.INVALID_ORDER,
  Reason.OUT_OF_STOCK,
];

/** Failure types of the activities that are not reason codes: transient trouble, retried by Temporal. */
export const FailureType = {
  /** An external system answered 5xx, timed out or could not be reached. */
  UPSTREAM_UNAVAILABLE: 'UPSTREAM_UNAVAILABLE',
  /** An external system answered something that does not match its contract. */
  UPSTREAM_CONTRACT: 'UPSTREAM_CONTRACT',
  /** A payment changed state under us (e.g. void raced a success); the next attempt reads it again. */
  PAYMENT_STATE_CHANGED: 'PAYMENT_STATE_CHANGED',
  /** A provider refused our credentials (Stripe's 401 or 403): no retry mends it, an operator must. */
  PROVIDER_MISCONFIGURED: 'PROVIDER_MISCONFIGURED',
} as const;
