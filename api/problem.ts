import type { Response } from 'express';
import type { z } from 'zod';

export interface FieldError {
  path: string;
  message: string;
}

/** Answers with an RFC 9457 problem (`application/problem+json`), with field paths when zod found them. */
export function problem(res: Response, status: number, title: string, detail: string, error?: z.ZodError): void {
  const errors: FieldError[] = error ? error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })) : [];
  res
    .status(status)
    .type('application/problem+json')
    .json({ type: `https://httpstatuses.io/${status}`, title, status, detail, errors });
}
