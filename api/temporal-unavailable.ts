import { isGrpcServiceError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';

/** gRPC's standard codes that say "not now" about Temporal: down, out of capacity, or too slow for the deadline. */
const NOT_NOW_CODES: readonly number[] = [
  1, // CANCELLED: our deadline cut the call
  4, // DEADLINE_EXCEEDED
  8, // RESOURCE_EXHAUSTED: the server's own rate limits
  14, // UNAVAILABLE: down, restarting, or unreachable
];

/**
 * Whether `err` means Temporal could not answer in time (down, restarting, overloaded, or our deadline
 * passed): the API then answers 503 with Retry-After, never 500. The client wraps the gRPC error (a
 * `ServiceError` whose cause carries the code), so the whole cause chain is looked at.
 */
export function isTemporalUnavailable(err: unknown): boolean {
  for (let cause: unknown = err; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return true;
    if (isGrpcServiceError(cause) && NOT_NOW_CODES.includes(cause.code)) return true;
  }
  return false;
}
