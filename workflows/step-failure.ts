import { ActivityFailure, ApplicationFailure, CancellationScope, isCancellation } from '@temporalio/workflow';
import type { OrderReason } from '../domain/order-state';
import { FailureType, isReasonCode } from '../domain/reasons';
import { errorMessage } from '../domain/errors';

/** What a step's failure means for the order. */
export type StepFailure =
  /** The system said no in the saga's own terms: a reason (`UNKNOWN_SKU`, `OUT_OF_STOCK`, `PAYMENT_DECLINED`…). */
  | { kind: 'refused'; reason: OrderReason; message: string }
  /** The system could not be reached (5xx, 429, timeouts, refused connections) for the step's whole retry budget. */
  | { kind: 'unavailable'; message: string }
  /** The system answered what the saga has no meaning for: a final 4xx, a body off its contract, an activity bug. */
  | { kind: 'unexpected'; message: string };

/** Failure types that say "try again later": spent retries of these mean the system was unavailable. */
const TRANSIENT_TYPES: readonly string[] = [FailureType.UPSTREAM_UNAVAILABLE, FailureType.PAYMENT_STATE_CHANGED];

/**
 * The meaning of an activity's failure, from its last attempt's `ApplicationFailure` (a retry budget that
 * runs out wraps it in a timeout). Cancellation, including an attempt that failed after its scope was
 * cancelled, and errors of our own workflow code are not step failures: they go on up.
 */
export function stepFailure(err: unknown): StepFailure {
  if (isCancellation(err) || CancellationScope.current().consideredCancelled || !(err instanceof ActivityFailure))
    throw err;
  const last = lastApplicationFailure(err);
  const message = errorMessage(err);
  const code = last?.type;
  if (isReasonCode(code)) return { kind: 'refused', reason: { code, message }, message };
  if (!last || TRANSIENT_TYPES.includes(last.type ?? '')) return { kind: 'unavailable', message };
  return { kind: 'unexpected', message };
}

function lastApplicationFailure(err: Error): ApplicationFailure | undefined {
  for (let cause: unknown = err; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof ApplicationFailure) return cause;
  }
  return undefined;
}
