import type { NextFunction, Request, Response } from 'express';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ApiKeys } from '../config';
import { apiKeyOf } from './auth';
import { serviceUnavailable } from './problem';

/** How long `shedding` stays true after the last start was shed: what /readyz reports. */
const SHEDDING_WINDOW_MS = 5_000;

/**
 * Load shedding for order starts: at most `limit` `POST /orders` wait on Temporal at once; one more is
 * refused at once, before anything is started, so a burst cannot drown the server (and every order in
 * it) in work it cannot finish within the accept timeout. Reads, cancels and webhooks are never counted
 * here: a payment callback must never be refused because checkouts are busy.
 */
export class StartAdmission {
  private inFlight = 0;
  private lastShedAt = Number.NEGATIVE_INFINITY;
  private readonly starts: Counter<'outcome'>;

  constructor(
    readonly limit: number,
    registry: Registry,
  ) {
    this.starts = new Counter({
      name: 'orders_api_starts_total',
      help: 'POST /orders by admission: admitted (read, then placed or refused as invalid), shed (refused at once, nothing read or started)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    });
    const inFlight = () => this.inFlight;
    new Gauge({
      name: 'orders_api_starts_in_flight',
      help: 'POST /orders admitted and not yet answered',
      registers: [registry],
      collect() {
        this.set(inFlight());
      },
    });
  }

  /** Admits one start and returns its release, or null when the limit is reached (shed it). */
  tryAdmit(): (() => void) | null {
    if (this.inFlight >= this.limit) {
      this.lastShedAt = Date.now();
      this.starts.inc({ outcome: 'shed' });
      return null;
    }
    this.inFlight++;
    this.starts.inc({ outcome: 'admitted' });
    return () => {
      this.inFlight--;
    };
  }

  /** What /readyz reports: whether starts were shed a moment ago, and how many are in flight. */
  status(): { shedding: boolean; startsInFlight: number; maxStartsInFlight: number } {
    return {
      shedding: Date.now() - this.lastShedAt < SHEDDING_WINDOW_MS,
      startsInFlight: this.inFlight,
      maxStartsInFlight: this.limit,
    };
  }
}

/**
 * `POST /orders`' admission, as the app's very first handler: a start beyond the limit is answered 503
 * before the body is read and before tracing, metrics and the request log (a burst of thousands must cost
 * next to nothing to refuse). Only callers who may place orders are counted; the others go on to their
 * 401 or 403.
 */
export function admitStarts(admission: StartAdmission, apiKeys: ApiKeys) {
  const keyOf = apiKeyOf(apiKeys);
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!keyOf(req)?.scopes.includes('orders:write')) return next();
    const release = admission.tryAdmit();
    if (!release) {
      return serviceUnavailable(
        res,
        'Too many orders in flight',
        `the API is placing ${admission.limit} orders already: nothing was started; retry after Retry-After with the same body`,
      );
    }
    res.once('close', release);
    next();
  };
}
