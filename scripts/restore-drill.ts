import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Runtime } from '@temporalio/worker';
import { createHttpClient } from '../activities/http';
import { loadConfig, ORDER_STORE_FILE } from '../config';
import type { OrderRequest } from '../domain/order-request';
import type { OrderView } from '../domain/order-state';
import { createLogger, TemporalPinoLogger } from '../observability/logger';
import { PaymentToken, SANDBOX_CATALOG } from '../sandbox/ledger';
import { Reason } from '../domain/reasons';
import { DATABASE_FILE, restoreBackup, takeBackup } from '../stack/backup';
import { runScript, supervisedEntry, type EntryPoint } from '../stack/children';
import { DevServerProcess } from '../stack/dev-server-process';
import { throwawayStackEnv } from '../stack/local-stack';
import { connectClient, serveSandbox, waitUntilAnswers } from '../stack/parts';
import { reconcile, reconcileThrough } from '../stack/reconcile';
import { ensureTemporalCli } from '../stack/temporal-cli';
import { startTemporalCluster } from '../stack/temporal-cluster';
import { setupTemporal } from './setup-temporal';
import { activityEndpoints, writeWorkflowBundle } from '../worker/worker';
import { judgeOrders, judgeStore, waitForOrdersToEnd } from './order-checks';
import { OrderStore } from '../store/order-store';

/**
 * `npm run test:restore`: the embedded stack's restore drill. Orders are left in flight in every state
 * (awaiting payment, paid, compensating, waiting for an operator); the stack is backed up while it runs;
 * more orders come in and pay; then the machine is lost (server, worker and API SIGKILLed, the database
 * gone), the backup is restored onto a new one, the stack starts on it and `reconcile` settles what the
 * providers hold for orders the restored server never heard of. The sandbox plays the world outside, which
 * keeps its books throughout. Its last line is the verdict.
 */
const { values: args } = parseArgs({ options: { server: { type: 'string', default: 'dev' } } });
/**
 * `--server cluster`: the same drill on the production shape (the full Temporal server on PostgreSQL,
 * stack/temporal-cluster.ts): both databases dumped while it runs, the server stopped, both dropped and
 * restored, the server started again.
 */
const SERVER_KINDS = ['dev', 'cluster'] as const;
const SERVER_KIND = args.server as (typeof SERVER_KINDS)[number];
if (!SERVER_KINDS.includes(SERVER_KIND)) {
  console.error(`--server must be one of ${SERVER_KINDS.join(', ')}, not ${args.server}`);
  process.exit(2);
}
const PER_STATE = 4;
const AFTER_BACKUP = 8;
const PAYMENT_WINDOW_MS = 10_000;
const SETTLE_TIMEOUT_MS = 3 * 60_000;

const logDir = mkdtempSync(path.join(os.tmpdir(), 'order-saga-restore-drill-'));
const log = createWriteStream(path.join(logDir, 'drill.log'));
const say = (line: string) => {
  console.log(`[drill] ${line}`);
  log.write(`[drill] ${line}\n`);
};
const logger = createLogger({ level: 'info', destination: log });

async function main(): Promise<number> {
  Runtime.install({ logger: new TemporalPinoLogger(logger.child({ component: 'sdk' }, { level: 'warn' })) });
  const cli = await ensureTemporalCli(say);
  if (!cli) throw new Error('the drill needs the Temporal CLI');
  const keys = [{ id: 'drill', key: randomBytes(32) }];
  const { env: stackEnv, temporalPort } = await throwawayStackEnv(path.join(logDir, 'data'), keys);
  const env: NodeJS.ProcessEnv = {
    ...stackEnv,
    PAYMENT_WINDOW_MS: String(PAYMENT_WINDOW_MS),
    // Long enough for a compensation to wait out the refund outage across the restore.
    COMPENSATION_GIVE_UP_MS: '120000',
  };
  const server = SERVER_KIND === 'cluster' ? await clusterServer(env) : await devServer(cli, temporalPort, env);
  const config = loadConfig(env);
  const bundlePath = path.join(logDir, 'workflows.js');
  await writeWorkflowBundle(bundlePath);
  const sandbox = await serveSandbox(config, {}, logger);
  const apiUrl = `http://127.0.0.1:${config.apiPort}`;

  /** The worker and the API, each a process, on the server as it is now. */
  const startServices = async () => {
    const service = (name: EntryPoint, extra: NodeJS.ProcessEnv = {}) =>
      supervisedEntry(name, name, { env: { ...env, ...extra }, onOutput: (chunk) => log.write(chunk), say });
    const worker = service('worker', { WORKFLOW_BUNDLE: bundlePath });
    const api = service('api');
    worker.start();
    api.start();
    await waitUntilAnswers(`${apiUrl}/readyz`);
    return {
      /** As a lost machine ends them: no drain, no goodbye. */
      async lose() {
        await Promise.all([worker.kill(), api.kill()]);
      },
      async stop() {
        await api.stop();
        await worker.stop();
      },
    };
  };

  const sandboxCall = async (route: string, body?: unknown, method = 'POST') => {
    const response = await fetch(`${sandbox.sandboxUrl}${route}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`sandbox ${route} answered ${response.status}`);
  };
  const call = async (method: 'GET' | 'POST', route: string, body?: unknown, token = 'dev-checkout') => {
    const response = await fetch(`${apiUrl}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json().catch(() => null)) as OrderView | null };
  };
  const runId = randomBytes(3).toString('hex');
  const order = (id: string, token: string): OrderRequest => ({
    orderId: `R-${runId}-${id}`,
    customer: { id: 'c-drill', email: 'drill@example.com' },
    currency: 'EUR',
    items: [{ sku: 'SKU-MUG', quantity: 2, unitPrice: 1250 }],
    shippingAddress: { name: 'Drill', line1: '1 Restore St', city: 'Paris', postalCode: '75001', country: 'FR' },
    payment: { method: 'card', token },
  });
  const place = async (request: OrderRequest) => {
    const { status } = await call('POST', '/orders', request);
    if (status >= 300) throw new Error(`POST /orders ${request.orderId} answered ${status}`);
    return request.orderId;
  };
  const statusOf = async (orderId: string) => (await call('GET', `/orders/${orderId}`)).body?.status;
  const waitFor = async (orderIds: string[], status: string) => {
    for (const orderId of orderIds) {
      const deadline = Date.now() + 30_000;
      while ((await statusOf(orderId)) !== status) {
        if (Date.now() > deadline) throw new Error(`${orderId} never reached ${status}`);
        await sleep(200);
      }
    }
  };
  const several = (state: string, token: string) =>
    Array.from({ length: PER_STATE }, (_, i) => order(`${state}-${i}`, token));

  const first = await startServices();
  say(`stack up on ${server.what}; leaving ${PER_STATE} orders in each state`);
  // Compensating: cancelled by the customer while refunds and voids are down.
  await sandboxCall('/_sandbox/refunds/outage', { down: true });
  const compensating = await Promise.all(several('compensating', PaymentToken.LOST).map(place));
  // A cancel answers once the order is cancelled, or 202 at ORDER_ACCEPT_TIMEOUT_MS: not awaited here.
  for (const orderId of compensating)
    void call('POST', `/orders/${orderId}/cancel`, { reason: 'drill' }).catch(() => null);
  await waitFor(compensating, 'COMPENSATING');
  // Waiting for an operator: the inventory answered what the saga has no meaning for.
  await sandboxCall('/_sandbox/faults/reserve', { kind: 'status', status: 400 }, 'PUT');
  const attention = await Promise.all(several('attention', PaymentToken.OK).map(place));
  await waitFor(attention, 'REQUIRES_ATTENTION');
  await sandboxCall('/_sandbox/faults/reserve', undefined, 'DELETE');
  // Awaiting payment: the customer has the link and has not paid.
  const awaiting = await Promise.all(several('awaiting', PaymentToken.LOST).map(place));
  await waitFor(awaiting, 'AWAITING_PAYMENT');
  // Paid: the money is in, fulfillment is down and being retried.
  await sandboxCall('/_sandbox/fulfillment/outage', { down: true });
  const paid = await Promise.all(several('paid', PaymentToken.OK).map(place));
  await waitFor(paid, 'PAID');

  const backup = await server.backup();
  const backupAt = backup.at;
  say(`backup taken at ${backupAt.toISOString()}: ${backup.bytes} bytes`);
  const inBackup = [...compensating, ...attention, ...awaiting, ...paid];

  // After the backup: fulfillment is back, and new orders pay (or are on their way to).
  await sandboxCall('/_sandbox/fulfillment/outage', { down: false });
  const tokens = [PaymentToken.OK, PaymentToken.SILENT, PaymentToken.LOST, PaymentToken.OK];
  const afterBackup = await Promise.all(
    Array.from({ length: AFTER_BACKUP }, (_, i) => place(order(`after-${i}`, tokens[i % tokens.length]!))),
  );
  await sleep(2_000);
  await first.lose();
  await server.lose();
  const lostAt = Date.now();
  say(`${server.lost} ${((lostAt - backupAt.getTime()) / 1000).toFixed(1)} s after the backup`);

  await server.restore();
  const second = await startServices();
  await sandboxCall('/_sandbox/refunds/outage', { down: false });
  const temporal = await connectClient(config, keys);
  const http = createHttpClient(config.httpTimeoutMs);
  // The store of record as restored (on the dev shape, a file on the new machine).
  const store = await OrderStore.open(loadConfig(env).orderStoreUrl);
  const report = await reconcile(backupAt, {
    ...reconcileThrough(http, activityEndpoints(config)),
    client: temporal.client,
    store,
    say: (line) => log.write(`[reconcile] ${line}\n`),
  });
  const recoveredAt = Date.now();
  say(
    `restored, started and reconciled in ${((recoveredAt - lostAt) / 1000).toFixed(1)} s: ` +
      `${report.listed} payments since the backup, ${report.unknown} of orders the server does not know`,
  );

  for (const orderId of attention) {
    await call(
      'POST',
      `/orders/${orderId}/actions/retry-compensation`,
      { note: 'drill: after the restore' },
      'dev-support',
    );
  }
  const views = await waitForOrdersToEnd(inBackup, async (orderId) => (await call('GET', `/orders/${orderId}`)).body, {
    timeoutMs: SETTLE_TIMEOUT_MS,
  });
  // Each order ends as it would have without the loss: "resumed" counts those that did.
  const expected: [string[], string, string | null][] = [
    [paid, 'CONFIRMED', null],
    [awaiting, 'CANCELLED', Reason.PAYMENT_TIMEOUT],
    [compensating, 'CANCELLED', Reason.CANCELLED_BY_CUSTOMER],
    [attention, 'CANCELLED', Reason.UNEXPECTED_ANSWER],
  ];
  let resumed = 0;
  for (const [orderIds, status, code] of expected) {
    for (const orderId of orderIds) {
      const view = views.get(orderId);
      if (view?.status === status && (view.reason?.code ?? null) === code) resumed++;
      else say(`${orderId} ended ${view?.status} ${view?.reason?.code ?? ''}, expected ${status} ${code ?? ''}`);
    }
  }
  const answers = await Promise.all(afterBackup.map((orderId) => call('GET', `/orders/${orderId}`)));
  const unknownAfter = answers.filter((answer) => answer.status === 404).length;
  // The store says what the restored server says: each order as it ended, and none of those it lost.
  const judged = await judgeStore(temporal.client, store, inBackup);
  const keptLost = (await Promise.all(afterBackup.map((orderId) => store.find(orderId)))).filter(Boolean).length;
  const storeMismatches = judged.storeMismatches + keptLost;
  for (const problem of judged.problems) say(problem);
  if (keptLost) say(`the store keeps ${keptLost} orders the restored server does not know`);

  const ledger = sandbox.sandbox.ledger.snapshot();
  const { moneyMismatches, doubleCharges, problems, byStatus } = judgeOrders(inBackup.length, views, ledger);
  for (const problem of problems) say(problem);
  const afterPayments = ledger.payments.filter((payment) => afterBackup.includes(payment.orderId));
  const keptAfter = afterPayments.filter(
    (payment) => payment.captured - payment.refunded !== 0 || payment.status === 'pending',
  );
  for (const payment of keptAfter)
    say(`payment after the backup not settled: ${payment.paymentId} (${payment.status})`);
  // Stock: what the catalog started with, less what the confirmed orders took.
  const taken = new Map<string, number>();
  for (const view of views.values()) {
    if (view.status !== 'CONFIRMED') continue;
    for (const item of view.items) taken.set(item.sku, (taken.get(item.sku) ?? 0) + item.quantity);
  }
  const stockMismatches = SANDBOX_CATALOG.filter(({ sku, stock }) => {
    const expected = stock - (taken.get(sku) ?? 0);
    if (ledger.stock[sku] === expected) return false;
    say(`stock of ${sku}: ${ledger.stock[sku]}, expected ${expected}`);
    return true;
  }).length;
  // Per provider: what it holds is exactly the totals of the confirmed orders it took.
  const providerMismatches = config.paymentProviders.filter(({ name }) => {
    const held = ledger.payments
      .filter((p) => p.provider === name)
      .reduce((sum, p) => sum + p.captured - p.refunded, 0);
    const owed = [...views.values()]
      .filter((view) => view.status === 'CONFIRMED' && view.payment?.provider === name)
      .reduce((sum, view) => sum + view.total, 0);
    if (held !== owed) say(`${name} holds ${held}, the confirmed orders it took total ${owed}`);
    return held !== owed;
  }).length;

  await store.close();
  await second.stop();
  await server.stop();
  await temporal.connection.close();
  await sandbox.close();
  say(`${byStatus}; orders after the backup unknown to the restored server ${unknownAfter} of ${afterBackup.length}`);
  say(
    `RPO ${((lostAt - backupAt.getTime()) / 1000).toFixed(1)} s (the time since the last backup); ` +
      `RTO ${((recoveredAt - lostAt) / 1000).toFixed(1)} s (restore, start, reconcile)`,
  );
  const failures =
    inBackup.length -
    resumed +
    (afterBackup.length - unknownAfter) +
    (afterPayments.length - report.unknown) +
    keptAfter.length +
    report.failures.length +
    moneyMismatches +
    doubleCharges +
    providerMismatches +
    stockMismatches +
    storeMismatches;
  await new Promise((resolve) => log.end(resolve));
  if (!failures) rmSync(logDir, { recursive: true, force: true });
  else say(`logs kept in ${logDir}`);
  console.log(
    `orders in backup ${inBackup.length}, resumed ${resumed}, payments after backup ${afterPayments.length}, ` +
      `settled ${afterPayments.length - keptAfter.length}, money mismatches ${moneyMismatches + providerMismatches}, ` +
      `stock mismatches ${stockMismatches}, store mismatches ${storeMismatches}`,
  );
  return failures ? 1 : 0;
}

/** The drill's Temporal server: where its orders are kept, and how they are backed up, lost and restored. */
interface DrillServer {
  what: string;
  /** What losing it does, as the drill says it. */
  lost: string;
  backup(): Promise<{ at: Date; bytes: number }>;
  lose(): Promise<void>;
  /** The backup put in place, and the server started on it. */
  restore(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The local stack's dev server on SQLite, and the store of record beside it (`orders.db`, as `npm start`
 * keeps them both in DATA_DIR); lost with their machine, restored onto a new one. Points `env` at the store.
 */
async function devServer(cli: string, port: number, env: NodeJS.ProcessEnv): Promise<DrillServer> {
  const start = async (dataDir: string) => {
    mkdirSync(dataDir, { recursive: true });
    const server = new DevServerProcess(cli, {
      port,
      dbFile: path.join(dataDir, DATABASE_FILE),
      log: (chunk) => log.write(`[temporal] ${chunk}`),
    });
    await server.start();
    return server;
  };
  const lost = path.join(logDir, 'lost-machine');
  const backupDir = path.join(logDir, 'backup');
  const storeIn = (dataDir: string) => `sqlite:${path.join(dataDir, ORDER_STORE_FILE)}`;
  env.ORDER_STORE_URL = storeIn(lost);
  let server = await start(lost);
  return {
    what: `the dev server on ${lost}`,
    lost: 'machine lost (server, worker, API SIGKILLed)',
    async backup() {
      const { manifest, totalBytes } = await takeBackup(lost, backupDir);
      return { at: new Date(manifest.createdAt), bytes: totalBytes };
    },
    lose: () => server.kill(),
    async restore() {
      const restored = path.join(logDir, 'new-machine');
      await restoreBackup(backupDir, restored);
      env.ORDER_STORE_URL = storeIn(restored);
      server = await start(restored);
    },
    stop: () => server.stop(),
  };
}

/** The full server on PostgreSQL; its databases dumped, dropped and restored. Points `env` at it. */
async function clusterServer(env: NodeJS.ProcessEnv): Promise<DrillServer> {
  // A folder of its own, outside the drill's private one: PostgreSQL runs as its own user.
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'order-saga-restore-drill-cluster-'));
  const cluster = await startTemporalCluster({ workDir, log, say });
  env.TEMPORAL_ADDRESS = cluster.address;
  env.ORDER_STORE_URL = cluster.orderStoreUrl;
  await Promise.race([setupTemporal(loadConfig(env), say), cluster.exited]);
  const dumps = path.join(workDir, 'backup');
  return {
    what: `Temporal ${cluster.address} on PostgreSQL`,
    lost: 'server stopped, worker and API SIGKILLed',
    async backup() {
      const at = new Date();
      return { at, bytes: cluster.dumpDatabases(dumps) };
    },
    lose: () => cluster.stopServer(),
    async restore() {
      cluster.restoreDatabases(dumps);
      cluster.startServer();
    },
    async stop() {
      await cluster.stop();
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

runScript(main, { name: 'restore-drill', timeoutMs: 15 * 60_000 });
