import { proxySinks } from '@temporalio/workflow';
import type { SettleOutcome } from '../activities/payments';
import type { BusinessMetricsSinks } from '../domain/business-metrics';
import type { OrderEvent } from '../domain/schemas/order-events';
import { isTerminal, type OrderState } from '../domain/order-state';
import type { OrderStatus } from '../domain/statuses';

const { businessMetrics } = proxySinks<BusinessMetricsSinks>();

/**
 * Counts what `event` means for the business, given the status before it and the state it led to. The
 * event's number names the occurrence, so each counts once however often the code runs.
 */
export function recordEventMetrics(event: OrderEvent, before: OrderStatus | undefined, state: OrderState): void {
  const occurrence = `event ${event.seq}`;
  switch (event.type) {
    case 'PaymentProviderUnavailable':
      businessMetrics.record('failovers', 1, { provider: event.data.provider }, occurrence);
      break;
    case 'PaymentReconciled':
      businessMetrics.record('reconciliations', 1, { outcome: event.data.providerStatus }, occurrence);
      break;
    case 'CompensationFailed':
      businessMetrics.record('compensationFailures', 1, { step: event.data.step }, occurrence);
      break;
    case 'PaymentReminderSent':
      businessMetrics.record('paymentReminders', 1, { point: event.data.point }, occurrence);
      break;
  }
  // Once, when the order ends: late money settled after the end changes no status.
  if (isTerminal(state.status) && state.status !== before) {
    businessMetrics.record('terminal', 1, { status: state.status, reason: state.reason?.code ?? 'none' }, occurrence);
    // Acceptance is the API host's clock and the end is the server's: never below zero (the SDK would throw).
    const seconds = Math.max(0, (Date.parse(event.at) - Date.parse(state.createdAt)) / 1000);
    businessMetrics.record('timeToTerminal', seconds, { status: state.status }, occurrence);
  }
}

/** An order paid after its customer was reminded: once per order. */
export function recordPaidAfterReminder(): void {
  businessMetrics.record('paidAfterReminder', 1, {}, 'paid after reminder');
}

/** A callback the order had already taken: its `copy`-th repeat (1, 2…) of the provider's event. */
export function recordDuplicateCallback(provider: string, eventId: string, copy: number): void {
  businessMetrics.record('duplicateCallbacks', 1, { provider }, `callback ${eventId} #${copy}`);
}

/** How a late-payment refund workflow ended: once per run. */
export function recordLateRefund(outcome: SettleOutcome['outcome']): void {
  businessMetrics.record('lateRefunds', 1, { outcome }, 'end');
}

/** A late refund its provider kept refusing, handed to support: once per payment. */
export function recordLateRefundRefused(provider: string, paymentId: string): void {
  businessMetrics.record('lateRefundsRefused', 1, { provider }, `refused ${paymentId}`);
}

/** A stock release after an order's end that inventory kept refusing, handed to support: once per order. */
export function recordLateReleaseRefused(orderId: string): void {
  businessMetrics.record('lateReleasesRefused', 1, {}, `release refused ${orderId}`);
}

/** An order webhook that failed long enough to flag the order, or was given up on: once per endpoint and event. */
export function recordWebhookTrouble(kind: 'failing' | 'givenUp', endpoint: string, eventId: string): void {
  businessMetrics.record(
    kind === 'failing' ? 'webhooksFailing' : 'webhooksGivenUp',
    1,
    { endpoint },
    `webhook ${kind} ${endpoint} ${eventId}`,
  );
}

/** An order whose writes to the store of record kept failing long enough to flag it: once per write that did. */
export function recordStoreBehind(lastSeq: number): void {
  businessMetrics.record('storeBehind', 1, {}, `store behind at event ${lastSeq}`);
}
