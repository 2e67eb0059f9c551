import { metricMeter } from '@temporalio/workflow';
import type { SettleOutcome } from '../activities/payments';
import { BusinessMetric } from '../domain/business-metrics';
import type { OrderEvent } from '../domain/order-events';
import { isTerminal, type OrderState, type OrderStatus } from '../domain/order-state';

const terminal = metricMeter.createCounter(BusinessMetric.terminal, 'orders', 'Orders that reached a terminal status');
const timeToTerminal = metricMeter.createHistogram(BusinessMetric.timeToTerminal, 'float', 's', 'Time from acceptance to terminal status');
const failovers = metricMeter.createCounter(BusinessMetric.failovers, 'orders', 'Payment requests failed over from an unavailable provider');
const reconciliations = metricMeter.createCounter(BusinessMetric.reconciliations, 'orders', 'Payment windows reconciled with the provider');
const compensationFailures = metricMeter.createCounter(BusinessMetric.compensationFailures, 'steps', 'Compensation steps handed to an operator');
const duplicateCallbacks = metricMeter.createCounter(BusinessMetric.duplicateCallbacks, 'callbacks', 'Payment callbacks already taken');
const lateRefunds = metricMeter.createCounter(BusinessMetric.lateRefunds, 'payments', 'Late payments settled, by outcome');

/**
 * Counts what `event` means for the business, given the status before it and the state it led to. The
 * SDK drops these while replaying, so each counts once however often the workflow is replayed.
 */
export function recordEventMetrics(event: OrderEvent, before: OrderStatus | undefined, state: OrderState): void {
  switch (event.type) {
    case 'PaymentProviderUnavailable':
      failovers.add(1, { provider: event.data.provider });
      break;
    case 'PaymentReconciled':
      reconciliations.add(1, { outcome: event.data.providerStatus });
      break;
    case 'CompensationFailed':
      compensationFailures.add(1, { step: event.data.step });
      break;
  }
  // Once, when the order ends: late money settled after the end changes no status.
  if (isTerminal(state.status) && state.status !== before) {
    terminal.add(1, { status: state.status, reason: state.reason?.code ?? 'none' });
    // Acceptance is the API host's clock and the end is the server's: never below zero (the SDK would throw).
    timeToTerminal.record(Math.max(0, (Date.parse(event.at) - Date.parse(state.createdAt)) / 1000), { status: state.status });
  }
}

export function recordDuplicateCallback(provider: string): void {
  duplicateCallbacks.add(1, { provider });
}

export function recordLateRefund(outcome: SettleOutcome['outcome']): void {
  lateRefunds.add(1, { outcome });
}
