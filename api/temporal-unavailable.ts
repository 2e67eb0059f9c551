import { isGrpcServiceError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';

/** The gRPC status codes Temporal's answers are read by (grpc.io's standard list). */
export const GrpcCode = {
  CANCELLED: 1,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  RESOURCE_EXHAUSTED: 8,
  UNAVAILABLE: 14,
} as const;

/** The codes that say "not now" about Temporal: down, out of capacity, or too slow for the deadline. */
const NOT_NOW_CODES: readonly number[] = [
  GrpcCode.CANCELLED, // our deadline cut the call
  GrpcCode.DEADLINE_EXCEEDED,
  GrpcCode.RESOURCE_EXHAUSTED, // the server's own rate limits
  GrpcCode.UNAVAILABLE, // down, restarting, or unreachable
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
