import type { NextFunction, Request, Response } from 'express';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ApiKeys } from '../config';
import { apiKeyOf } from './auth';
import { problem } from './problem';

/** How long `shedding` stays true after the last start was shed: what /readyz reports. */
const SHEDDING_WINDOW_MS = 5_000;
/**
 * How long after the last line every start is answered once started: a burst comes in waves (its retries),
 * and a start that waited for its payment link would hold its slot while the saga works through the burst.
 */
const BUSY_WINDOW_MS = 5_000;
/** How many of the latest starts let in from the line the drain rate is measured over. */
const DRAIN_SAMPLES = 64;
/** Fewer than this say too little: the last figure (at first, one slot's worth a second each) stands. */
const DRAIN_MIN_SAMPLES = 8;

/** What admission decided for one `POST /orders`. */
export type Admission =
  /**
   * Go ahead. `answerOnceStarted`: the API is busy (this start waited in line, or another did a moment
   * ago), so it answers 202 as soon as the order is started instead of waiting for its payment link.
   */
  | { kind: 'admitted'; release: () => void; answerOnceStarted: boolean }
  /** Turned away, nothing started: come back after `retryAfterS`, when a place in line is expected to be free. */
  | { kind: 'shed'; retryAfterS: number };

interface Waiter {
  admit: (admission: Admission) => void;
}

/**
 * Admission of order starts, first come first served (queue-based load leveling at the API's door):
 * - at most `limit` `POST /orders` work on Temporal at once;
 * - one more waits its turn in line, as long as the wait it can expect (its place in line over the rate
 *   at which starts drain, measured while there is a line) is within `maxWaitMs`;
 * - beyond that it is shed at once with a `Retry-After` that is honest: the time after which the line is
 *   expected to have room for it, each shed caller told a later time than the one before, so that callers
 *   who honour it come back in the order they first came, and are let in.
 * A start that waited in line is answered as soon as its workflow is started (202), so a burst drains at
 * the rate Temporal takes starts, not at the rate the saga reaches payment links. Reads, cancels and
 * webhooks are never counted here: a payment callback must never be refused because checkouts are busy.
 */
export class StartAdmission {
  private inFlight = 0;
  private readonly line: Waiter[] = [];
  private lastShedAt = Number.NEGATIVE_INFINITY;
  /** When a start last had to wait or was shed. */
  private lastBusyAt = Number.NEGATIVE_INFINITY;
  /** When the last shed caller was told to come back (ms since the epoch). */
  private promisedAt = 0;
  /** How long the latest starts answered once started held their slot (ms), oldest first. */
  private readonly serviceMs: number[] = [];
  /** Starts per second, as last measured; before any, one slot's worth a second each. */
  private drainPerSecond: number;
  private readonly starts: Counter<'outcome'>;

  constructor(
    readonly limit: number,
    readonly maxWaitMs: number,
    registry: Registry,
    private readonly now: () => number = Date.now,
  ) {
    this.drainPerSecond = limit;
    this.starts = new Counter({
      name: 'orders_api_starts_total',
      help: 'POST /orders by admission: admitted at once, queued (waited in line, then admitted), shed (refused at once, nothing read or started)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    });
    const self = () => this;
    new Gauge({
      name: 'orders_api_starts_in_flight',
      help: 'POST /orders admitted and not yet answered',
      registers: [registry],
      collect() {
        this.set(self().inFlight);
      },
    });
    new Gauge({
      name: 'orders_api_starts_waiting',
      help: 'POST /orders waiting in line for a slot',
      registers: [registry],
      collect() {
        this.set(self().line.length);
      },
    });
    new Gauge({
      name: 'orders_api_starts_drain_per_second',
      help: 'The rate at which waiting starts were let in, as last measured (what Retry-After is computed from)',
      registers: [registry],
      collect() {
        this.set(self().drainPerSecond);
      },
    });
  }

  /**
   * Admits one start at once, after its turn in line, or sheds it. A start put in line hands `onGone` the
   * way to give up its place, for when its caller goes away (asked only of those that wait).
   */
  admit(onGone?: (leave: () => void) => void): Admission | Promise<Admission> {
    if (this.inFlight < this.limit && this.line.length === 0) {
      this.starts.inc({ outcome: 'admitted' });
      return this.take(this.now() - this.lastBusyAt < BUSY_WINDOW_MS);
    }
    this.lastBusyAt = this.now();
    const expectedWaitMs = ((this.line.length + 1) / this.drainPerSecond) * 1000;
    if (expectedWaitMs > this.maxWaitMs) return this.shed();
    return new Promise<Admission>((resolve) => {
      const waiter: Waiter = { admit: resolve };
      this.line.push(waiter);
      onGone?.(() => {
        const at = this.line.indexOf(waiter);
        if (at >= 0) this.line.splice(at, 1);
      });
    });
  }

  /** What /readyz reports: whether starts were shed a moment ago, and how many are in flight and in line. */
  status() {
    return {
      shedding: this.now() - this.lastShedAt < SHEDDING_WINDOW_MS,
      startsInFlight: this.inFlight,
      startsWaiting: this.line.length,
      maxStartsInFlight: this.limit,
    };
  }

  /** `fromLine`: it waited its turn, so it ran while the API was saturated: what the drain rate is measured on. */
  private take(answerOnceStarted: boolean, fromLine = false): Admission {
    this.inFlight++;
    const admittedAt = this.now();
    let released = false;
    return {
      kind: 'admitted',
      answerOnceStarted,
      release: () => {
        if (released) return;
        released = true;
        this.inFlight--;
        if (fromLine) this.sample(this.now() - admittedAt);
        const next = this.line.shift();
        if (!next) return;
        this.starts.inc({ outcome: 'queued' });
        next.admit(this.take(true, true));
      },
    };
  }

  /**
   * A start let in from the line held its slot this long. The line is let in as fast as such starts end
   * (answered once started, each), so it drains at `limit` over their typical time: a figure that holds
   * from the first few, before the slots of starts that wait for a payment link have all come free, and
   * one taken while the API was saturated, not in the quiet after a burst.
   */
  private sample(ms: number): void {
    this.serviceMs.push(ms);
    if (this.serviceMs.length > DRAIN_SAMPLES) this.serviceMs.shift();
    if (this.serviceMs.length < DRAIN_MIN_SAMPLES) return;
    const sorted = [...this.serviceMs].sort((a, b) => a - b);
    const median = Math.max(sorted[Math.floor(sorted.length / 2)]!, 1);
    this.drainPerSecond = (this.limit * 1000) / median;
  }

  /**
   * Sheds a start, telling it when to come back: when the line ahead of it is expected to be half its
   * longest, and never before the caller shed just before it, so that callers come back one by one, at
   * the rate the line drains, in the order they were shed.
   */
  private shed(): Admission {
    const now = this.now();
    const rate = this.drainPerSecond;
    const spacingMs = 1000 / rate;
    const lineDrainedAt = now + ((this.line.length + 1) / rate) * 1000 - this.maxWaitMs / 2;
    this.promisedAt = Math.max(lineDrainedAt, this.promisedAt + spacingMs, now);
    this.lastShedAt = now;
    this.starts.inc({ outcome: 'shed' });
    return { kind: 'shed', retryAfterS: Math.max(1, Math.ceil((this.promisedAt - now) / 1000)) };
  }
}

/**
 * `POST /orders`' admission, as the app's very first handler: a start beyond the line is answered 503
 * before the body is read and before tracing, metrics and the request log (a burst of thousands must cost
 * next to nothing to refuse). Only callers who may place orders are counted; the others go on to their
 * 401 or 403. A start admitted while the API is busy is marked (`res.locals.answerOnceStarted`).
 */
export function admitStarts(admission: StartAdmission, apiKeys: ApiKeys) {
  const keyOf = apiKeyOf(apiKeys);
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    if (!keyOf(req)?.scopes.includes('orders:write')) return next();
    const decided = await admission.admit((leave) => res.once('close', leave));
    if (decided.kind === 'shed') {
      res.set('Retry-After', String(decided.retryAfterS));
      return problem(
        res,
        503,
        'Too many orders in flight',
        `the API is placing ${admission.limit} orders already and its line is full: nothing was started; retry after Retry-After with the same body`,
      );
    }
    // The caller went away while it waited in line: its turn passes to the next.
    if (res.destroyed) return decided.release();
    res.once('close', decided.release);
    res.locals.answerOnceStarted = decided.answerOnceStarted;
    next();
  };
}
