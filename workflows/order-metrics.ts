import { proxySinks } from '@temporalio/workflow';
import type { SettleOutcome } from '../activities/payments';
import type { BusinessMetricsSinks } from '../domain/business-metrics';
import type { OrderEvent } from '../domain/order-events';
import { isTerminal, type OrderState, type OrderStatus } from '../domain/order-state';

const { businessMetrics } = proxySinks<BusinessMetricsSinks>();

/**
 * Counts what `event` means for the business, given the status before it and the state it led to. The
 * sink is not called while replaying, so each counts once however often the workflow is replayed.
 */
export function recordEventMetrics(event: OrderEvent, before: OrderStatus | undefined, state: OrderState): void {
  switch (event.type) {
    case 'PaymentProviderUnavailable':
      businessMetrics.record('failovers', 1, { provider: event.data.provider });
      break;
    case 'PaymentReconciled':
      businessMetrics.record('reconciliations', 1, { outcome: event.data.providerStatus });
      break;
    case 'CompensationFailed':
      businessMetrics.record('compensationFailures', 1, { step: event.data.step });
      break;
  }
  // Once, when the order ends: late money settled after the end changes no status.
  if (isTerminal(state.status) && state.status !== before) {
    businessMetrics.record('terminal', 1, { status: state.status, reason: state.reason?.code ?? 'none' });
    // Acceptance is the API host's clock and the end is the server's: never below zero (the SDK would throw).
    businessMetrics.record('timeToTerminal', Math.max(0, (Date.parse(event.at) - Date.parse(state.createdAt)) / 1000), {
      status: state.status,
    });
  }
}

export function recordDuplicateCallback(provider: string): void {
  businessMetrics.record('duplicateCallbacks', 1, { provider });
}

export function recordLateRefund(outcome: SettleOutcome['outcome']): void {
  businessMetrics.record('lateRefunds', 1, { outcome });
}
