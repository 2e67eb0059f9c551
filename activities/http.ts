import { ApplicationFailure } from '@temporalio/common';
import { request } from 'undici';
import { z } from 'zod';
import { FailureType } from '../domain/reasons';
import { traceHeaders } from '../observability/trace-context';
import { errorMessage } from '../domain/errors';

/** What an activity sends to an external system. */
export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  body?: unknown;
  /** A body already serialized as JSON, sent byte for byte (instead of `body`): what a signature covers. */
  serializedBody?: string;
  /** Headers besides the ones every call sends (a webhook's signature). */
  headers?: Record<string, string>;
  /** Sent as `Idempotency-Key`; derived from the order id so a retried attempt is the same request. */
  idempotencyKey?: string;
}

/** A 2xx or 4xx answer; 5xx, timeouts and network errors never come back as a response (they are retried). */
export interface HttpResponse {
  status: number;
  body: unknown;
}

/** The one thing activities need from HTTP, so tests hand in a fake instead of mocking modules. */
export interface HttpClient {
  send(request: HttpRequest): Promise<HttpResponse>;
  /** How long a call may take, for an adapter that calls through a client of its own (Stripe's package). */
  readonly timeoutMs?: number;
}

export const DEFAULT_HTTP_TIMEOUT_MS = 5_000;

/**
 * An {@link HttpClient} on undici's `request` (keep-alive by default). Not `fetch`: its WHATWG streams
 * cost several times the CPU of the call itself, and an order makes five of them (docs/PERFORMANCE.md).
 * Each call, answer read included, is bounded by `timeoutMs`, which stays under the activities'
 * `startToCloseTimeout` so a slow system fails the attempt cleanly; anything that says "try again later"
 * becomes a retryable `UPSTREAM_UNAVAILABLE` failure.
 */
export function createHttpClient(timeoutMs = DEFAULT_HTTP_TIMEOUT_MS): HttpClient {
  return {
    timeoutMs,
    async send({ method, url, body, serializedBody, headers: extraHeaders, idempotencyKey }) {
      // The activity's trace goes on into the external system (`traceparent`), when tracing is on.
      const headers: Record<string, string> = { accept: 'application/json', ...traceHeaders(), ...extraHeaders };
      const sent = serializedBody ?? (body === undefined ? undefined : JSON.stringify(body));
      if (sent !== undefined) headers['content-type'] = 'application/json';
      if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
      let status: number;
      let text: string;
      try {
        const response = await request(url, {
          method,
          headers,
          body: sent,
          signal: AbortSignal.timeout(timeoutMs),
        });
        status = response.statusCode;
        text = await response.body.text();
      } catch (err) {
        throw ApplicationFailure.retryable(
          `${method} ${url} failed: ${errorMessage(err)}`,
          FailureType.UPSTREAM_UNAVAILABLE,
        );
      }
      if (status >= 500 || status === 429) {
        throw ApplicationFailure.retryable(`${method} ${url} answered ${status}`, FailureType.UPSTREAM_UNAVAILABLE);
      }
      return { status, body: parseJson(text) };
    },
  };
}

/** Parses a successful answer against the external system's contract; a mismatch is retried (it may be a bad deploy there). */
function parseAnswer<T>(schema: z.ZodType<T>, response: HttpResponse, what: string): T {
  const parsed = schema.safeParse(response.body);
  if (!parsed.success) {
    throw ApplicationFailure.retryable(
      `${what}: unexpected answer (${response.status}): ${oneLine(parsed.error)}`,
      FailureType.UPSTREAM_CONTRACT,
    );
  }
  return parsed.data;
}

/** A contract mismatch on one line (it ends up in an order's reason and live step): `path: problem; …`. */
function oneLine(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; ');
}

/** The error body external systems (and the sandbox) send with a 4xx. */
export const UpstreamError = z.object({ code: z.string(), message: z.string().optional() });

function isSuccess(response: HttpResponse): boolean {
  return response.status >= 200 && response.status < 300;
}

/** A 2xx answer parsed against the system's contract; any other answer is unexpected (see below). */
export function expectAnswer<T>(schema: z.ZodType<T>, response: HttpResponse, what: string): T {
  if (!isSuccess(response)) throw unexpectedAnswer(what, response);
  return parseAnswer(schema, response, what);
}

/**
 * The error of an answer that is `status` with the contract's `code` (OUT_OF_STOCK, PAYMENT_NOT_FOUND…):
 * the 4xx answers a system's contract gives a meaning. Null for any other answer.
 */
export function contractError(
  response: HttpResponse,
  status: number,
  code: string,
): z.infer<typeof UpstreamError> | null {
  if (response.status !== status) return null;
  const error = UpstreamError.safeParse(response.body);
  return error.success && error.data.code === code ? error.data : null;
}

/** A 4xx the activity does not expect: retrying cannot help, so it is not retried. */
function unexpectedAnswer(what: string, response: HttpResponse): ApplicationFailure {
  const parsed = UpstreamError.safeParse(response.body);
  const detail = parsed.success
    ? `${parsed.data.code}${parsed.data.message ? `: ${parsed.data.message}` : ''}`
    : 'no error code';
  return ApplicationFailure.nonRetryable(
    `${what} answered ${response.status} (${detail})`,
    FailureType.UPSTREAM_CONTRACT,
  );
}

function parseJson(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
