import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type { OrderRequest } from '../domain/order-request';
import type { OrderView } from '../domain/order-state';
import { percentiles, processStats, type Percentiles } from '../scripts/measure';

/** How long the open streams are watched with nothing happening: heartbeats and polls only. */
const IDLE_SECONDS = 30;
/** How many of the watched orders are paid, one after the other, to time how soon their streams hear it. */
const PAID_ORDERS = 50;
/** How many streams are opened at once. */
const OPENING_BATCH = 100;
/** The line that starts a stream's `order.paid` event. */
const PAID_EVENT_LINE = 'event: order.paid';

export interface StreamsMeasure {
  streams: number;
  /** The orders idle at their payment links, first with no stream open, then with one each. */
  withoutStreams: IdleCost;
  withStreams: IdleCost;
  /** From the customer's payment to its `order.paid` on the order's stream. */
  heardPaidMs: Percentiles;
}

interface IdleCost {
  apiRssMb: number;
  apiCpuPct: number;
  serverCpuPct: number;
}

/**
 * `npm run bench -- --streams N`: N orders at their payment links, each followed by a live stream
 * (`GET /orders/{id}/stream`), all open at once against one API process; then the API's memory and CPU
 * while they idle (heartbeats, the visibility poll), the server's CPU meanwhile, and how soon a stream
 * hears that its order was paid.
 */
export async function measureStreams({
  count,
  runId,
  apiUrl,
  sandboxUrl,
  apiPid,
  serverCpuSeconds,
  order,
}: {
  count: number;
  runId: string;
  apiUrl: string;
  sandboxUrl: string;
  apiPid: number;
  serverCpuSeconds: () => number;
  order: (id: string) => OrderRequest;
}): Promise<StreamsMeasure> {
  const views: OrderView[] = [];
  for (let placed = 0; placed < count; placed += 32) {
    const batch = Array.from({ length: Math.min(32, count - placed) }, (_, i) => `ST-${runId}-${placed + i}`);
    views.push(...(await Promise.all(batch.map((id) => placeAtPaymentLink(apiUrl, order(id))))));
  }
  const idle = async (): Promise<IdleCost> => {
    const before = { api: processStats(apiPid).cpuSeconds, server: serverCpuSeconds() };
    await sleep(IDLE_SECONDS * 1000);
    const pct = (seconds: number) => Number(((100 * seconds) / IDLE_SECONDS).toFixed(1));
    return {
      apiRssMb: Math.round(processStats(apiPid).rssMb),
      apiCpuPct: pct(processStats(apiPid).cpuSeconds - before.api),
      serverCpuPct: pct(serverCpuSeconds() - before.server),
    };
  };
  const withoutStreams = await idle();

  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const paid = new Map<string, () => void>();
  const opened: http.ClientRequest[] = [];
  // A batch at a time, as checkout pages open them over time: each opening reads its order's history, and
  // thousands at once would wait past the API's deadline for Temporal (a 503 the page retries).
  for (let at = 0; at < views.length; at += OPENING_BATCH) {
    const batch = views.slice(at, at + OPENING_BATCH);
    opened.push(...(await Promise.all(batch.map((view) => openStream(agent, apiUrl, view.orderId, paid)))));
  }
  console.log(`${count} streams open`);

  const withStreams = await idle();

  const heardPaidMs: number[] = [];
  for (const view of views.slice(0, PAID_ORDERS)) {
    const heard = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the stream of ${view.orderId} never heard its payment`)),
        30_000,
      );
      paid.set(view.orderId, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    const paidAt = performance.now();
    const payment = await request(
      `${sandboxUrl}/providers/${view.payment!.provider}/checkout/${view.payment!.paymentId}`,
      {
        method: 'POST',
      },
    );
    await payment.body.dump();
    await heard;
    heardPaidMs.push(performance.now() - paidAt);
  }
  for (const stream of opened) stream.destroy();
  agent.destroy();
  return { streams: count, withoutStreams, withStreams, heardPaidMs: percentiles(heardPaidMs) };
}

async function placeAtPaymentLink(apiUrl: string, order: OrderRequest): Promise<OrderView> {
  const response = await request(`${apiUrl}/orders`, {
    method: 'POST',
    headers: { authorization: 'Bearer dev-checkout', 'content-type': 'application/json' },
    body: JSON.stringify({ ...order, payment: { method: 'card', token: 'tok_lost' } }),
  });
  if (response.statusCode !== 201) throw new Error(`POST /orders answered ${response.statusCode}`);
  return (await response.body.json()) as OrderView;
}

/** One stream, open once its first event came; calls `paid`'s hook for its order on `order.paid`. */
function openStream(
  agent: http.Agent,
  apiUrl: string,
  orderId: string,
  paid: Map<string, () => void>,
): Promise<http.ClientRequest> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      `${apiUrl}/orders/${orderId}/stream`,
      { agent, headers: { authorization: 'Bearer dev-checkout', accept: 'text/event-stream' } },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`the stream answered ${res.statusCode}`));
        res.setEncoding('utf8');
        let first = true;
        // The end of what came before, so an event line split across two chunks is still seen.
        let tail = '';
        res.on('data', (chunk: string) => {
          if (first) {
            first = false;
            resolve(req);
          }
          // Searched whole: a chunk may hold the payment and the (longer) confirmation after it.
          const text = tail + chunk;
          if (text.includes(PAID_EVENT_LINE)) paid.get(orderId)?.();
          tail = text.slice(-PAID_EVENT_LINE.length);
        });
      },
    );
    req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
  });
}
