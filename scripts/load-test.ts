import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadConfig } from '../config';
import type { OrderRequest } from '../domain/order-request';
import { isTerminal } from '../domain/order-state';
import type { OrderSummary } from '../api/http-schemas';
import { writeWorkflowBundle } from '../worker/worker';
import { DevServerProcess } from '../stack/dev-server-process';
import { serveSandbox, waitUntilAnswers } from '../stack/parts';
import { throwawayStackEnv } from '../stack/local-stack';
import { judgeOrders } from './order-checks';
import { runScript, supervisedEntry, type EntryPoint } from '../stack/children';
import { peakRssMb, percentiles, processTreeCpuSeconds } from './measure';
import { ensureTemporalCli } from '../stack/temporal-cli';

/**
 * `npm run test:load`: bursts of concurrent `POST /orders` (all `tok_ok`) against the real stack — the
 * dev server, the worker and the API as processes of their own, the sandbox here — sent all at once, by
 * clients with the budget typical HTTP clients have: a 503 is retried with the same body after its
 * Retry-After (never sooner, up to a second later at random), at most MAX_TRIES tries in all, while the paid
 * orders' webhooks arrive. For each burst: what the API answered, how many sheds each order cost, how long
 * a checkout took to be placed, how many later arrivals were placed before it, that every order was placed
 * and ended with its money right, how fast a shed answer came, and the API's peak memory. Loopback only,
 * bounded in time, stops by itself; exits 1 on any 5xx but a 503, a checkout that gave up, more than
 * MAX_SHEDS_PER_ORDER sheds per order, a lost order, a money mismatch or an unhandled error in the API's log.
 */
const { values: args } = parseArgs({ options: { bursts: { type: 'string' }, 'max-starts': { type: 'string' } } });
const BURSTS = (args.bursts ?? '500,2000,5000').split(',').map(Number);
/**
 * A checkout's patience: ten tries in all, each retry after the Retry-After it was given and up to a second
 * more at random (as HTTP clients that honour Retry-After do: never sooner, a little later).
 */
const MAX_TRIES = 10;
const JITTER_MS = 1_000;
/** What a burst may cost in refused requests: an API whose Retry-After is honest lets a client in on its first or second retry. */
const MAX_SHEDS_PER_ORDER = 2;
const SETTLE_TIMEOUT_MS = 10 * 60_000;
const RUN_TIMEOUT_MS = 60 * 60_000;
const SHED_TITLE = 'Too many orders in flight';

const workDir = mkdtempSync(path.join(os.tmpdir(), 'order-saga-load-'));
const log = createWriteStream(path.join(workDir, 'load.log'));
const say = (line: string) => {
  console.log(`[load] ${line}`);
  log.write(`[load] ${line}\n`);
};

/** Every answer of one burst, by kind, and the latency of the shed ones. */
interface Answers {
  byStatus: Map<number, number>;
  noAnswer: number;
  shedMs: number[];
  gaveUp: number;
}

/** One checkout of a burst: when it first sent its order, and when (if ever) an answer placed it. */
interface Checkout {
  firstSentMs: number;
  placedMs: number | null;
}

/**
 * For each placed checkout, how many sent after it were placed before it: 0 in a perfect line. `checkouts`
 * is in the order they were first sent.
 */
function overtaken(checkouts: readonly Checkout[]): number[] {
  return checkouts.flatMap(({ placedMs }, i) =>
    placedMs === null
      ? []
      : [checkouts.slice(i + 1).filter((later) => later.placedMs !== null && later.placedMs < placedMs).length],
  );
}

async function main(): Promise<number> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const cli = await ensureTemporalCli(say);
  if (!cli) throw new Error('the load test needs the Temporal CLI');
  const keys = [{ id: 'load', key: randomBytes(32) }];
  const stack = await throwawayStackEnv(path.join(workDir, 'data'), keys);
  // Warnings and errors only from the API: its log is scanned for unhandled errors, not kept for requests.
  const env = {
    ...stack.env,
    LOG_LEVEL: 'warn',
    ...(args['max-starts'] ? { MAX_STARTS_IN_FLIGHT: args['max-starts'] } : {}),
  };
  const config = loadConfig(env);
  say(`bursts ${BURSTS.join(', ')}; at most ${config.maxStartsInFlight} starts in flight; logs in ${workDir}`);

  const server = new DevServerProcess(cli, {
    port: stack.temporalPort,
    dbFile: path.join(workDir, 'temporal.db'),
    log: (chunk) => log.write(`[temporal] ${chunk}`),
  });
  await server.start();
  const bundlePath = path.join(workDir, 'workflows.js');
  await writeWorkflowBundle(bundlePath);
  const sandbox = await serveSandbox(config);

  let unhandled = 0;
  const service = (name: string, entry: EntryPoint, extraEnv: NodeJS.ProcessEnv = {}) =>
    supervisedEntry(name, entry, {
      env: { ...env, ...extraEnv },
      onOutput: (chunk) => {
        log.write(`[${name}] ${chunk}`);
        unhandled += chunk
          .toString()
          .split('\n')
          .filter((line) => line.includes('"unhandled error"')).length;
      },
      say,
    });
  const worker = service('worker', 'worker', { WORKFLOW_BUNDLE: bundlePath });
  const api = service('api', 'api');
  worker.start();
  api.start();
  const apiUrl = `http://127.0.0.1:${config.apiPort}`;
  await waitUntilAnswers(`${apiUrl}/healthz`);

  // As many connections as the burst has clients: each checkout is its own client.
  const dispatcher = new Agent({ connections: null, pipelining: 1, headersTimeout: 120_000, bodyTimeout: 120_000 });
  const runId = randomBytes(3).toString('hex');
  let failures = 0;
  for (const size of BURSTS) {
    const started = Date.now();
    // CPU of each part over the burst, for what one API, one worker and one server take (docs/PERFORMANCE.md).
    const parts = { API: api.pid!, worker: worker.pid!, server: server.pid! };
    const cpuBefore = Object.fromEntries(
      Object.entries(parts).map(([name, pid]) => [name, processTreeCpuSeconds(pid)]),
    );
    const customerId = `c-load-${runId}-${size}`;
    const orders: OrderRequest[] = Array.from({ length: size }, (_, i) => ({
      orderId: `L-${runId}-${size}-${i}`,
      customer: { id: customerId, email: `load${i}@example.com` },
      currency: 'EUR',
      items: [{ sku: 'SKU-TEE', quantity: 1, unitPrice: 1999 }],
      shippingAddress: { name: 'Load', line1: `${i} Burst St`, city: 'Paris', postalCode: '75001', country: 'FR' },
      payment: { method: 'card', token: 'tok_ok' },
    }));
    const answers: Answers = { byStatus: new Map(), noAnswer: 0, shedMs: [], gaveUp: 0 };
    const placed = new Set<string>();
    const checkouts: Checkout[] = [];

    /** One checkout: POST, and on a 503 wait as it says (plus jitter, never less) and send the same body again. */
    const checkout = async (order: OrderRequest) => {
      const body = JSON.stringify(order);
      const seen: Checkout = { firstSentMs: performance.now(), placedMs: null };
      checkouts.push(seen);
      for (let attempt = 1; attempt <= MAX_TRIES; attempt++) {
        const sent = performance.now();
        let status = 0;
        let retryAfterS = 1;
        try {
          const response = await request(`${apiUrl}/orders`, {
            method: 'POST',
            dispatcher,
            headers: { authorization: 'Bearer dev-checkout', 'content-type': 'application/json' },
            body,
          });
          status = response.statusCode;
          retryAfterS = Number(response.headers['retry-after'] ?? 1);
          const answer = (await response.body.json()) as { title?: string };
          if (status === 503 && answer.title === SHED_TITLE) answers.shedMs.push(performance.now() - sent);
        } catch {
          answers.noAnswer++;
        }
        if (status) answers.byStatus.set(status, (answers.byStatus.get(status) ?? 0) + 1);
        if ([200, 201, 202, 422].includes(status)) {
          seen.placedMs = performance.now();
          return void placed.add(order.orderId);
        }
        if (attempt < MAX_TRIES) await sleep(retryAfterS * 1000 + JITTER_MS * Math.random());
      }
      answers.gaveUp++;
    };
    say(`burst ${size}: ${size} POSTs at once`);
    await Promise.all(orders.map(checkout));
    const placedAfter = Math.round((Date.now() - started) / 1000);

    // Every placed order must end; read them back through the API, a page at a time.
    const views = new Map<string, OrderSummary>();
    const deadline = Date.now() + SETTLE_TIMEOUT_MS;
    while (Date.now() < deadline) {
      for (let pageToken: string | null = null, first = true; first || pageToken; first = false) {
        const query = `customerId=${customerId}&limit=100${pageToken ? `&pageToken=${pageToken}` : ''}`;
        const page = await request(`${apiUrl}/orders?${query}`, {
          dispatcher,
          headers: { authorization: 'Bearer dev-support' },
        });
        if (page.statusCode !== 200) {
          await page.body.dump();
          break;
        }
        const { orders: listed, nextPageToken } = (await page.body.json()) as {
          orders: OrderSummary[];
          nextPageToken: string | null;
        };
        for (const view of listed)
          if (!views.has(view.orderId) || !isTerminal(views.get(view.orderId)!.status)) views.set(view.orderId, view);
        pageToken = nextPageToken;
      }
      if ([...placed].every((id) => views.has(id) && isTerminal(views.get(id)!.status))) break;
      await sleep(2_000);
    }
    // Summaries carry what the money check needs: each order's status and total.
    await sleep(1_000);
    const verdict = judgeOrders(size, views, sandbox.sandbox.ledger.snapshot());
    for (const problem of verdict.problems.slice(0, 20)) say(problem);
    const count = (status: number) => answers.byStatus.get(status) ?? 0;
    const other5xx = [...answers.byStatus]
      .filter(([status]) => status >= 500 && status !== 503)
      .reduce((sum, [, n]) => sum + n, 0);
    const shed = percentiles(answers.shedMs);
    const shedsPerOrder = count(503) / Math.max(placed.size, 1);
    const toPlaced = percentiles(checkouts.flatMap((c) => (c.placedMs === null ? [] : [c.placedMs - c.firstSentMs])));
    const seconds = (ms: number) => (ms / 1000).toFixed(1);
    const overtakenBy = percentiles(overtaken(checkouts));
    const line =
      `burst ${size}: 201 ${count(201)}, 202 ${count(202)}, 200 ${count(200)}, 503 ${count(503)}, 5xx other ${other5xx}, no answer ${answers.noAnswer}; ` +
      `placed ${placed.size} (gave up ${answers.gaveUp}); sheds per order ${shedsPerOrder.toFixed(2)}; ` +
      `time to placed p50 ${seconds(toPlaced.p50)} s, p99 ${seconds(toPlaced.p99)} s; overtaken p99 ${overtakenBy.p99} (p50 ${overtakenBy.p50}); ` +
      `ended ${verdict.terminal.length}; lost ${verdict.lost}; money mismatches ${verdict.moneyMismatches}; ` +
      `CPU per order ${Object.entries(parts)
        .map(
          ([name, pid]) => `${name} ${Math.round(((processTreeCpuSeconds(pid) - cpuBefore[name]!) * 1000) / size)} ms`,
        )
        .join(', ')}; ` +
      `shed answer p99 ${shed.p99} ms (p50 ${shed.p50} ms); API peak RSS ${peakRssMb(api.pid!)} MB; unhandled errors ${unhandled}; ` +
      `all placed in ${placedAfter} s, ended in ${Math.round((Date.now() - started) / 1000)} s`;
    console.log(line);
    log.write(`${line}\n`);
    failures +=
      (shedsPerOrder > MAX_SHEDS_PER_ORDER ? 1 : 0) +
      other5xx +
      answers.noAnswer +
      answers.gaveUp +
      (size - placed.size) +
      verdict.lost +
      verdict.moneyMismatches +
      unhandled;
  }

  await dispatcher.close();
  await api.stop();
  await worker.stop();
  await sandbox.close();
  await server.stop();
  return failures ? 1 : 0;
}

runScript(main, {
  name: 'load',
  timeoutMs: RUN_TIMEOUT_MS,
  afterStop: async (code) => {
    await new Promise((resolve) => log.end(resolve));
    if (code === 0) rmSync(workDir, { recursive: true, force: true });
  },
});
