/**
 * The business metrics the order workflow emits (through the SDK's workflow metric meter, so they are
 * replay-safe and land on the worker's Prometheus endpoint). One place for the names: the workflow, the
 * worker's exporter settings, the Grafana dashboard and the README all use these.
 *
 * Counters are named without `_total`: the worker's exporter appends it (`orders_terminal_total`).
 */
export const BusinessMetric = {
  /** Orders that ended, by `status` (CONFIRMED, CANCELLED, REJECTED) and `reason` (a reason code, or `none`). */
  terminal: 'orders_terminal',
  /** Seconds from the order's acceptance to its terminal state, by `status`. */
  timeToTerminal: 'orders_time_to_terminal_seconds',
  /** Payment requests that failed over from a provider that was unavailable, by `provider`. */
  failovers: 'orders_payment_failovers',
  /** Payment windows that expired and were reconciled with the provider, by `outcome` (the provider's answer). */
  reconciliations: 'orders_payment_reconciliations',
  /** Compensation steps that kept failing and put the order in front of an operator, by `step`. */
  compensationFailures: 'orders_compensation_failures',
  /** Payment callbacks the order had already taken (providers retry), by `provider`. */
  duplicateCallbacks: 'orders_duplicate_payment_callbacks',
  /** Late-payment refund workflows that ended, by `outcome` (`refunded`, `voided`, `nothing-to-settle`, `not-found`). */
  lateRefunds: 'orders_late_refunds',
} as const;

/** Buckets of {@link BusinessMetric.timeToTerminal}: a confirmed order takes seconds, a payment window minutes. */
export const TIME_TO_TERMINAL_BUCKETS_SECONDS = [0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 86_400];
