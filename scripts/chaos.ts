import { randomBytes } from 'node:crypto';
import { appendFileSync, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Runtime } from '@temporalio/worker';
import { signWebhook } from '../payment-provider/signature';
import { DEV_API_KEYS, DEV_PROVIDER_SECRETS, loadConfig } from '../config';
import type { OrderRequest } from '../domain/order-request';
import type { OrderView } from '../domain/order-state';
import { SANDBOX_CATALOG } from '../sandbox/ledger';
import { writeWorkflowBundle } from '../worker/worker';
import { DevServerProcess } from '../stack/dev-server-process';
import { connectClient, serveSandbox, waitUntilAnswers } from '../stack/parts';
import { throwawayStackEnv } from '../stack/local-stack';
import { judgeOrders, judgeStatusEvents, judgeStore, judgeWorkflows, waitForOrdersToEnd } from './order-checks';
import { OrderStore } from '../store/order-store';
import { DEV_ORDER_WEBHOOK_SECRET, ORDER_WEBHOOKS_PATH } from '../sandbox/status-event-receiver';
import { statusEventsOf } from '../domain/status-events';
import type { OrderEvent } from '../domain/schemas/order-events';
import { runScript, supervisedEntry, type EntryPoint } from '../stack/children';
import { createLogger, TemporalPinoLogger } from '../observability/logger';
import { ensureTemporalCli } from '../stack/temporal-cli';

/**
 * `npm run test:chaos`: hundreds of orders through the real stack while the worker and the API are
 * SIGKILLed, the Temporal server is stopped and killed and restarts on its database, systems go down, a
 * share of calls fail or hang, and webhooks come twice, out of order, late or forged. Then every promise
 * is checked: every accepted order terminal, no workflow failed or closed with a live-looking status, money
 * conserved per order, stock conserved, no double capture, no forged webhook accepted, no secret in the
 * logs. Loopback only; bounded in time; stops by itself.
 */
const { values: args } = parseArgs({
  options: {
    orders: { type: 'string' },
    concurrency: { type: 'string' },
    quick: { type: 'boolean' },
    seed: { type: 'string' },
  },
});
const ORDERS = Number(args.orders ?? (args.quick ? 120 : 500));
const CONCURRENCY = Number(args.concurrency ?? 20);
const PAYMENT_WINDOW_MS = 4_000;
const GIVE_UP_MS = 3_000;
const SETTLE_TIMEOUT_MS = 5 * 60_000;
const RUN_TIMEOUT_MS = 25 * 60_000;
const WORKER_KILLS = args.quick ? 2 : 4;

const TOKENS = [
  'tok_ok',
  'tok_ok',
  'tok_ok',
  'tok_decline',
  'tok_silent',
  'tok_lost',
  'tok_duplicate',
  'tok_late',
  'cancel',
  'cancel',
] as const;
const SKUS = SANDBOX_CATALOG.filter((entry) => entry.stock > 1000);

/** A small seeded PRNG (mulberry32), so a failing run can be replayed with --seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
const seed = Number(args.seed ?? Date.now() % 1_000_000);
const random = prng(seed);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

const logDir = mkdtempSync(path.join(os.tmpdir(), 'order-saga-chaos-'));
const logFile = path.join(logDir, 'chaos.log');
const log = createWriteStream(logFile);
const say = (line: string) => {
  console.log(`[chaos] ${line}`);
  // The log is closed to be scanned for secrets; the verdict lines after that go to the same file.
  if (log.writableEnded) appendFileSync(logFile, `[chaos] ${line}\n`);
  else log.write(`[chaos] ${line}\n`);
};
// The API and the sandbox run in this process and log into the same file: their lines are scanned for secrets too.
const logger = createLogger({ level: 'info', destination: log });

async function main(): Promise<number> {
  const started = Date.now();
  Runtime.install({ logger: new TemporalPinoLogger(logger.child({ component: 'sdk' }, { level: 'warn' })) });
  const cli = await ensureTemporalCli(say);
  if (!cli) throw new Error('chaos needs the Temporal CLI (a dev server it can stop and restart)');
  const dataDir = path.join(logDir, 'data');
  const keys = [{ id: 'chaos', key: randomBytes(32) }];
  const stack = await throwawayStackEnv(dataDir, keys);
  const { temporalPort } = stack;
  const env = {
    ...stack.env,
    PAYMENT_WINDOW_MS: String(PAYMENT_WINDOW_MS),
    COMPENSATION_GIVE_UP_MS: String(GIVE_UP_MS),
    ORDER_ACCEPT_TIMEOUT_MS: '5000',
    // A checkout listening to every status change: the sandbox's endpoint, under the same faults as the rest.
    ORDER_WEBHOOKS: JSON.stringify([
      { url: `${loadConfig(stack.env).sandboxUrl}${ORDER_WEBHOOKS_PATH}`, secret: DEV_ORDER_WEBHOOK_SECRET },
    ]),
  };
  const config = loadConfig(env);
  say(`seed ${seed}: ${ORDERS} orders at concurrency ${CONCURRENCY}; logs in ${logFile}`);

  const server = new DevServerProcess(cli, {
    port: temporalPort,
    dbFile: path.join(logDir, 'temporal.db'),
    log: (chunk) => log.write(`[temporal] ${chunk}`),
  });
  await server.start();
  const bundlePath = path.join(logDir, 'workflows.js');
  await writeWorkflowBundle(bundlePath);

  const served = await serveSandbox(config, { random }, logger);
  const { sandboxUrl } = served;
  // The verdict reads Temporal's visibility with a client of its own.
  const temporal = await connectClient(config, keys);

  // The worker and the API are separate processes, supervised as an orchestrator would: restarted whenever
  // they exit on their own; the chaos SIGKILLs them and starts them again.
  const service = (name: string, entry: EntryPoint, extraEnv: NodeJS.ProcessEnv = {}) =>
    supervisedEntry(name, entry, {
      env: { ...env, ...extraEnv },
      onOutput: (chunk) => log.write(`[${name}] ${chunk}`),
      say,
    });
  const worker = service('worker', 'worker', { WORKFLOW_BUNDLE: bundlePath });
  const api = service('api', 'api');
  const apiUrl = `http://127.0.0.1:${config.apiPort}`;
  worker.start();
  api.start();
  await waitUntilAnswers(`${apiUrl}/healthz`);

  const sandboxCall = (route: string, body?: unknown, method = 'POST') =>
    fetch(`${sandboxUrl}${route}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  /** Answers the saga has no meaning for: the orders they reach wait for an operator (the settle loop below is one). */
  const UNEXPECTED: [string, object][] = [
    ['reserve', { kind: 'status', status: 400 }],
    ['fulfillment', { kind: 'bad-body' }],
    ['get-payment', { kind: 'status', status: 409 }],
  ];
  const call = async (method: 'GET' | 'POST', route: string, body?: unknown, token = 'dev-checkout') => {
    const response = await fetch(`${apiUrl}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    return { status: response.status, body: (await response.json().catch(() => null)) as OrderView | null };
  };
  /**
   * Retries what the server could not answer (5xx, a dropped or refused connection) with the same body, as
   * a checkout does: placing an order and cancelling it are idempotent.
   */
  let inFlightPosts = 0;
  let unansweredRetried = 0;
  const callUntilAnswered = async (method: 'GET' | 'POST', route: string, body?: unknown, token?: string) => {
    for (let attempt = 0; ; attempt++) {
      if (method === 'POST') inFlightPosts++;
      const answer = await call(method, route, body, token)
        .catch(() => ({ status: 0, body: null }))
        .finally(() => method === 'POST' && inFlightPosts--);
      if (answer.status > 0 && answer.status < 500) return answer;
      if (method === 'POST') unansweredRetried++;
      if (attempt > 120) throw new Error(`${method} ${route} got no answer after ${attempt} tries`);
      await sleep(500);
    }
  };

  // The load: orders of every token, some cancelled by the customer.
  const placed = new Map<string, OrderRequest>();
  let forgedSent = 0;
  let forgedAccepted = 0;
  let next = 0;
  const load = async () => {
    while (next < ORDERS) {
      const index = next++;
      const kind = pick(TOKENS);
      const orderId = `X-${seed}-${index}`;
      const order: OrderRequest = {
        orderId,
        customer: { id: `c-${index % 37}`, email: `customer${index}@example.com` },
        currency: 'EUR',
        items: [pick(SKUS), pick(SKUS)].map((entry) => ({
          sku: entry.sku,
          quantity: 1 + Math.floor(random() * 3),
          unitPrice: entry.unitPrice,
        })),
        shippingAddress: {
          name: `Customer ${index}`,
          line1: `${index} Chaos Street`,
          city: 'Paris',
          postalCode: '75001',
          country: 'FR',
        },
        payment: { method: 'card', token: kind === 'cancel' ? 'tok_lost' : kind },
      };
      const answer = await callUntilAnswered('POST', '/orders', order);
      if (answer.status >= 400 && answer.status !== 422)
        throw new Error(`order ${orderId} was refused with ${answer.status}`);
      placed.set(orderId, order);
      if (kind === 'cancel') await callUntilAnswered('POST', `/orders/${orderId}/cancel`, { reason: 'chaos' });
    }
  };

  // The chaos, while the load runs.
  let loading = true;
  const chaos = async () => {
    const phase = async (name: string, on: () => Promise<unknown>, off: () => Promise<unknown>, ms: number) => {
      say(`${name} for ${ms} ms`);
      await on();
      await sleep(ms);
      await off();
    };
    /** A system down for `ms`: its sandbox outage switch on, then off. */
    const outage = (name: string, outageSwitch: string, ms: number) => () =>
      phase(
        name,
        () => sandboxCall(outageSwitch, { down: true }),
        () => sandboxCall(outageSwitch, { down: false }),
        ms,
      );
    /** Takes the server down (`how`), then starts it again on the same database. */
    const restartServer = async (how: string, down: () => Promise<void>) => {
      say(`Temporal server ${how}; restarting it on the same database`);
      await down();
      await sleep(2_000);
      await server.start();
      say('Temporal server is back');
    };
    // The kills first: they need POSTs in flight, and even the quick run's load lasts only so long.
    const steps: (() => Promise<void>)[] = [
      async () => {
        while (loading && inFlightPosts === 0) await sleep(10);
        say(`API SIGKILLed with ${inFlightPosts} POSTs in flight; restarted`);
        await api.kill();
        await sleep(1_000);
        api.start();
        await waitUntilAnswers(`${apiUrl}/healthz`);
        say('API is back');
      },
      () => restartServer('SIGKILLed mid-run', () => server.kill()),
      outage('primary provider down', '/_sandbox/providers/primary/outage', 4_000),
      () =>
        phase(
          'sandbox faults at 10%',
          () => sandboxCall('/_sandbox/faults', { rate: 0.1, mode: 'mixed', hangMs: 6_000 }),
          () => sandboxCall('/_sandbox/faults', { rate: 0 }),
          8_000,
        ),
      () => restartServer('stopped (database kept)', () => server.stop()),
      () =>
        phase(
          `unexpected answers (${UNEXPECTED.map(([route]) => route).join(', ')})`,
          () => Promise.all(UNEXPECTED.map(([route, fault]) => sandboxCall(`/_sandbox/faults/${route}`, fault, 'PUT'))),
          () => Promise.all(UNEXPECTED.map(([route]) => sandboxCall(`/_sandbox/faults/${route}`, undefined, 'DELETE'))),
          3_000,
        ),
      outage('refunds and voids down', '/_sandbox/refunds/outage', 5_000),
      outage('fulfillment down', '/_sandbox/fulfillment/outage', 4_000),
    ];
    let kills = 0;
    // Every fault happens in every run, however quickly the orders go in; mischief goes on while they do.
    for (let step = 0; loading || step < steps.length || kills < WORKER_KILLS; step++) {
      if (kills < WORKER_KILLS) {
        await sleep(2_000 + random() * 4_000);
        say(`worker SIGKILL #${++kills}`);
        await worker.kill();
        await sleep(500 + random() * 1_500);
        worker.start();
      }
      if (step < steps.length) await steps[step]!();
      await sendWebhookMischief();
      if (kills >= WORKER_KILLS && step >= steps.length) await sleep(1_000);
    }
  };

  /** Real events sent again, in reverse order, late; and forged ones that must all be refused. */
  const sendWebhookMischief = async () => {
    const { webhooks } = (await (await fetch(`${sandboxUrl}/_sandbox/webhooks`)).json()) as {
      webhooks: { provider: 'primary' | 'backup'; event: object }[];
    };
    for (const { provider, event } of webhooks.slice(-10).reverse()) {
      const body = JSON.stringify(event);
      await fetch(`${apiUrl}/webhooks/payments/${provider}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'payment-signature': signWebhook(DEV_PROVIDER_SECRETS[provider], body, Math.floor(Date.now() / 1000)),
        },
        body,
      }).catch(() => undefined);
    }
    const victims = [...placed.keys()].slice(-5);
    for (const orderId of victims) {
      const body = JSON.stringify({
        id: `evt_forged_${randomBytes(4).toString('hex')}`,
        type: 'payment.succeeded',
        created: Math.floor(Date.now() / 1000),
        data: { paymentId: `pay_forged_${orderId}`, orderId, amount: 1, currency: 'EUR', failureReason: null },
      });
      const forgedSignatures = [
        signWebhook('whsec_forged_by_attacker', body, Math.floor(Date.now() / 1000)),
        signWebhook(DEV_PROVIDER_SECRETS.primary, body, Math.floor(Date.now() / 1000) - 3_600),
        't=0,v1=deadbeef',
      ];
      for (const signature of forgedSignatures) {
        forgedSent++;
        const response = await fetch(`${apiUrl}/webhooks/payments/primary`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'payment-signature': signature },
          body,
        }).catch(() => null);
        if (response && response.status < 300) forgedAccepted++;
      }
    }
  };

  const chaosRun = chaos();
  await Promise.all(Array.from({ length: CONCURRENCY }, load));
  loading = false;
  await chaosRun;
  say(`all ${placed.size} orders accepted in ${Math.round((Date.now() - started) / 1000)} s; faults off, settling...`);
  await sandboxCall('/_sandbox/faults', { rate: 0 });

  // Settle: wait for every order to end; apply operator retries to those that need one.
  let retried = 0;
  const lastRetry = new Map<string, number>();
  const views = await waitForOrdersToEnd(
    placed.keys(),
    async (orderId) => {
      const { status, body } = await callUntilAnswered('GET', `/orders/${orderId}`);
      return status === 200 ? body : null;
    },
    {
      timeoutMs: SETTLE_TIMEOUT_MS,
      // One retry per order every 10 s at most: a retry takes a moment to show in the view.
      onView: async (view) => {
        if (view.status !== 'REQUIRES_ATTENTION' || Date.now() - (lastRetry.get(view.orderId) ?? 0) <= 10_000) return;
        lastRetry.set(view.orderId, Date.now());
        retried++;
        await callUntilAnswered(
          'POST',
          `/orders/${view.orderId}/actions/retry-compensation`,
          { note: 'chaos: faults are off' },
          'dev-support',
        );
      },
    },
  );
  // Late payments succeed PAYMENT_WINDOW_MS + 2 s after creation, and their refunds follow.
  await sleep(PAYMENT_WINDOW_MS + 6_000);
  const ledger = served.sandbox.ledger.snapshot();
  const workflows = await judgeWorkflows(temporal.client, { timeoutMs: 60_000 });
  for (const problem of workflows.problems) say(problem);
  // The store of record (SQLite in the stack's DATA_DIR, as `npm start` keeps it): every order as it ended.
  const store = await OrderStore.open(config.orderStoreUrl);
  const { storeMismatches, problems: storeProblems } = await judgeStore(temporal.client, store, placed.keys());
  await store.close();
  for (const problem of storeProblems) say(problem);

  // The checks.
  const { terminal, lost, byStatus, moneyMismatches, doubleCharges, problems } = judgeOrders(
    placed.size,
    views,
    ledger,
  );
  for (const problem of problems) say(problem);
  const stockExpected = new Map<string, number>(SANDBOX_CATALOG.map((entry) => [entry.sku, entry.stock]));
  for (const view of terminal) {
    if (view.status === 'CONFIRMED')
      for (const item of view.items) stockExpected.set(item.sku, stockExpected.get(item.sku)! - item.quantity);
  }
  const stockMismatches = [...stockExpected].filter(([sku, stock]) => ledger.stock[sku] !== stock).length;
  for (const [sku, stock] of stockExpected)
    if (ledger.stock[sku] !== stock) say(`stock mismatch: ${sku} is ${ledger.stock[sku]}, expected ${stock}`);
  for (const view of terminal) {
    // A forged success would have moved a tok_lost order to PAID; none may end confirmed.
    if (placed.get(view.orderId)!.payment.token === 'tok_lost' && view.status === 'CONFIRMED') forgedAccepted++;
  }
  // What each order told its checkout (its event log says), against what the checkout's endpoint took.
  const told = new Map<string, ReturnType<typeof statusEventsOf>>();
  for (const orderId of placed.keys()) {
    const { body } = await callUntilAnswered('GET', `/orders/${orderId}/events`);
    told.set(orderId, statusEventsOf((body as unknown as { events: OrderEvent[] } | null)?.events ?? []));
  }
  const webhooks = judgeStatusEvents(told, served.sandbox.statusEvents.received);
  for (const problem of webhooks.problems) say(problem);
  say(
    `order webhooks: ${webhooks.told} status changes told, ${webhooks.taken} taken, ${webhooks.repeats} ` +
      `delivered again and dropped, ${served.sandbox.statusEvents.rejected} refused`,
  );

  await api.stop();
  await worker.stop();
  await temporal.connection.close();
  await served.close();
  await server.stop();
  await new Promise((resolve) => log.end(resolve));

  const leaks = secretsIn(readFileSync(logFile, 'utf8'), [
    ...Object.keys(DEV_API_KEYS),
    ...Object.values(DEV_PROVIDER_SECRETS),
    DEV_ORDER_WEBHOOK_SECRET,
    ...keys.map(({ key }) => key.toString('base64')),
  ]);
  for (const leak of leaks) say(`secret in the logs: ${leak}`);
  // Every chaos order names real SKUs at catalog prices: a rejection can only be a fault mistaken for a verdict.
  const wrongRejections = terminal.filter((view) => view.status === 'REJECTED');
  for (const view of wrongRejections)
    say(`wrongly rejected: ${view.orderId}: ${view.reason?.code} (${view.reason?.message})`);
  say(
    `${byStatus}; operator retries ${retried}; POSTs retried after no answer ${unansweredRetried}; ` +
      `restarts after unplanned exits: worker ${worker.unplannedExits}, API ${api.unplannedExits}; ` +
      `workflows still running ${workflows.running}; forged webhooks sent ${forgedSent}; ${Math.round((Date.now() - started) / 1000)} s`,
  );
  const failures =
    lost +
    workflows.failed +
    workflows.stale +
    moneyMismatches +
    doubleCharges +
    forgedAccepted +
    stockMismatches +
    webhooks.missing +
    webhooks.outOfOrder +
    leaks.length +
    wrongRejections.length +
    storeMismatches;
  if (!failures) rmSync(logDir, { recursive: true, force: true });
  console.log(
    `orders ${placed.size}, terminal ${terminal.length}, lost ${lost}, failed workflows ${workflows.failed}, stale statuses ${workflows.stale}, money mismatches ${moneyMismatches}, ` +
      `double charges ${doubleCharges}, forged accepted ${forgedAccepted}, stock mismatches ${stockMismatches}, ` +
      `wrong rejections ${wrongRejections.length}, order webhooks missing ${webhooks.missing}, ` +
      `out of order ${webhooks.outOfOrder}, secrets in logs ${leaks.length}, store mismatches ${storeMismatches}`,
  );
  return failures ? 1 : 0;
}

/** Which secrets, or email addresses, appear in the logs (named by kind, never printed). */
function secretsIn(text: string, secrets: string[]): string[] {
  const found = secrets
    .filter((secret) => text.includes(secret))
    .map((secret) => `a secret of ${secret.length} characters`);
  if (/[\w.+-]+@example\.com/.test(text)) found.push('an email address');
  return found;
}

runScript(main, { name: 'chaos', timeoutMs: RUN_TIMEOUT_MS });
