/**
 * What went wrong, in words a person can act on: the innermost message of a cause chain (a wrapper such as
 * "Activity task failed" or "fetch failed" says only that something below it failed), or the thrown value
 * as text. Log lines take the error itself instead (`{ err }`: pino's serializer keeps its type and stack).
 */
export function errorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.cause instanceof Error ? errorMessage(err.cause) : err.message;
}
