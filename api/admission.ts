import { Counter, Gauge, type Registry } from 'prom-client';

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
      help: 'POST /orders by admission: admitted (the order was started or found), shed (refused at once, nothing started)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    });
    const inFlight = () => this.inFlight;
    new Gauge({
      name: 'orders_api_starts_in_flight',
      help: 'POST /orders admitted and still waiting on Temporal',
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
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight--;
    };
  }

  /** What /readyz reports: whether starts were shed a moment ago, and how many are in flight. */
  status(): { shedding: boolean; startsInFlight: number; maxStartsInFlight: number } {
    return { shedding: Date.now() - this.lastShedAt < SHEDDING_WINDOW_MS, startsInFlight: this.inFlight, maxStartsInFlight: this.limit };
  }
}
