/**
 * The business metrics the workflows record. One place for each metric's name, kind, unit and help: the
 * workflows, the worker that exports them, the Grafana dashboard and the docs all use these.
 *
 * The workflows record them through the {@link BusinessMetricsSinks} sink, never while replaying, and the
 * worker counts each occurrence once: a workflow task that the server refuses (a signal came in while it
 * completed the workflow) runs again from the last accepted one, recording the same facts a second time. The worker exports them on its Prometheus endpoint with
 * `namespace`, `task_queue` and `workflow_type` labels, the names the SDK's own metrics use. (The SDK's
 * workflow metric meter would label them `taskQueue` and `workflowType`, which Prometheus's conventions
 * refuse.) Counters are named without `_total`: the exporter appends it (`orders_terminal_total`).
 */
export const BusinessMetrics = {
  /** By `status` (CONFIRMED, CANCELLED, REJECTED) and `reason` (a reason code, or `none`). */
  terminal: { name: 'orders_terminal', kind: 'counter', unit: 'orders', help: 'Orders that reached a terminal status' },
  /** By `status`. */
  timeToTerminal: {
    name: 'orders_time_to_terminal_seconds',
    kind: 'histogram',
    unit: 's',
    help: 'Time from acceptance to terminal status',
  },
  /** By `provider`: payment requests that failed over from a provider that was unavailable. */
  failovers: {
    name: 'orders_payment_failovers',
    kind: 'counter',
    unit: 'orders',
    help: 'Payment requests failed over from an unavailable provider',
  },
  /** By `outcome` (the provider's answer): payment windows that expired and were reconciled with the provider. */
  reconciliations: {
    name: 'orders_payment_reconciliations',
    kind: 'counter',
    unit: 'orders',
    help: 'Payment windows reconciled with the provider',
  },
  /** By `step`: compensation steps that kept failing and put the order in front of an operator. */
  compensationFailures: {
    name: 'orders_compensation_failures',
    kind: 'counter',
    unit: 'steps',
    help: 'Compensation steps handed to an operator',
  },
  /** By `point` (as `PAYMENT_REMINDERS` names it): customers reminded to pay, with the payment link. */
  paymentReminders: {
    name: 'orders_payment_reminders',
    kind: 'counter',
    unit: 'reminders',
    help: 'Customers reminded to pay before the payment window closed',
  },
  /** Orders paid after their customer was reminded: over `orders_payment_reminders_total`, how well reminders work. */
  paidAfterReminder: {
    name: 'orders_paid_after_reminder',
    kind: 'counter',
    unit: 'orders',
    help: 'Orders paid after a payment reminder',
  },
  /** By `provider`: payment callbacks the order had already taken (providers retry). */
  duplicateCallbacks: {
    name: 'orders_duplicate_payment_callbacks',
    kind: 'counter',
    unit: 'callbacks',
    help: 'Payment callbacks already taken',
  },
  /** By `outcome` (`refunded`, `voided`, `nothing-to-settle`, `not-found`): late-payment refund workflows that ended. */
  lateRefunds: {
    name: 'orders_late_refunds',
    kind: 'counter',
    unit: 'payments',
    help: 'Late payments settled, by outcome',
  },
  /** By `provider`: late refunds the provider kept refusing, handed to support (the refund is still tried). */
  lateRefundsRefused: {
    name: 'orders_late_refunds_refused',
    kind: 'counter',
    unit: 'payments',
    help: 'Late refunds the provider kept refusing, handed to support',
  },
  /** Stock releases after an order's end that inventory kept refusing, handed to support (the release is still tried). */
  lateReleasesRefused: {
    name: 'orders_late_releases_refused',
    kind: 'counter',
    unit: 'orders',
    help: "Stock releases after an order's end that inventory kept refusing, handed to support",
  },
  /** Orders whose writes to the store of record kept failing long enough to flag them `StoreBehind`. */
  storeBehind: {
    name: 'orders_store_behind',
    kind: 'counter',
    unit: 'orders',
    help: 'Orders whose record the store of record kept refusing long enough to flag them',
  },
  /** By `endpoint` (its id): order webhooks that kept failing long enough to flag their order. */
  webhooksFailing: {
    name: 'orders_webhooks_failing',
    kind: 'counter',
    unit: 'events',
    help: 'Order webhook deliveries that failed long enough to flag the order',
  },
  /** By `endpoint`: order webhooks given up on; that endpoint hears nothing more of the order. */
  webhooksGivenUp: {
    name: 'orders_webhooks_given_up',
    kind: 'counter',
    unit: 'events',
    help: 'Order webhook deliveries given up on',
  },
} as const satisfies Record<string, { name: string; kind: 'counter' | 'histogram'; unit: string; help: string }>;

export type BusinessMetric = keyof typeof BusinessMetrics;

/** Labels of one recording, in Prometheus's snake_case; the worker adds the workflow's own. */
export type BusinessMetricLabels = Record<string, string>;

/** The sink the workflows record business metrics through, and the worker implements. */
export type BusinessMetricsSinks = {
  businessMetrics: {
    /**
     * Adds `value` to a counter, or records it in a histogram, once per `occurrence` of `metric` in a run:
     * what names the fact within the workflow (`event 7`, `callback evt_1 #2`), the same however often
     * the code that records it runs.
     */
    record(metric: BusinessMetric, value: number, labels: BusinessMetricLabels, occurrence: string): void;
  };
};

/** Buckets of {@link BusinessMetrics.timeToTerminal}: a confirmed order takes seconds, a payment window minutes. */
export const TIME_TO_TERMINAL_BUCKETS_SECONDS = [0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 86_400];
