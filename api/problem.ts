import type { Response } from 'express';
import type { z } from 'zod';

export interface FieldError {
  path: string;
  message: string;
}

/** At most this many field errors in one answer: a body with 50,000 bad items gets the first ones, not a 5 MB list. */
export const MAX_FIELD_ERRORS = 50;

/** Field errors as docs/API.md ("Errors") words them: a dotted path (`items.0.quantity`) and a message. */
export function fieldErrors(error: z.ZodError): FieldError[] {
  const errors = error.issues.slice(0, MAX_FIELD_ERRORS).flatMap((issue) => {
    // An unknown key is reported on its parent; name the key itself, it is what the caller must remove.
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [null];
    return keys.map((key) => ({
      path: [...issue.path, ...(key === null ? [] : [key])].map(String).join('.'),
      message: key === null ? issue.message : 'unknown field',
    }));
  });
  return errors.slice(0, MAX_FIELD_ERRORS);
}

/** Answers with an RFC 9457 problem (`application/problem+json`), with field paths when there are any. */
export function problem(
  res: Response,
  status: number,
  title: string,
  detail: string,
  error?: z.ZodError,
  errors: FieldError[] = error ? fieldErrors(error) : [],
): void {
  res
    .status(status)
    .type('application/problem+json')
    .json({ type: `https://httpstatuses.io/${status}`, title, status, detail, errors });
}

/** Seconds a client should wait before retrying a 503: long enough for a burst to drain a little. */
export const RETRY_AFTER_SECONDS = 2;

/** A 503 problem with `Retry-After`: the request may be sent again, with the same body, after that. */
export function serviceUnavailable(res: Response, title: string, detail: string): void {
  res.set('Retry-After', String(RETRY_AFTER_SECONDS));
  problem(res, 503, title, detail);
}
