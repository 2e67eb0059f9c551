import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { devPaymentProviders, encryptionKeys, loadConfig } from '../config';
import type { OrderView } from '../domain/order-state';
import type { OrderRequest } from '../domain/order-request';
import { createSandbox } from '../sandbox/server';
import { connectClient, freePort, waitUntilAnswers } from '../stack/parts';
import { judgeOrders, judgeStore, judgeWorkflows, waitForOrdersToEnd } from './order-checks';
import { OrderStore } from '../store/order-store';
import { entryCompiled, runScript, startLogged, type EntryPoint } from '../stack/children';
import { CLUSTER_SERVER_VERSION, startTemporalCluster, type TemporalCluster } from '../stack/temporal-cluster';
import { errorMessage } from '../domain/errors';
import { isDeepStrictEqual } from 'node:util';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { latePaymentRefundWorkflowId, orderWorkflowId } from '../domain/contract';
import { signWebhook } from '../payment-provider/signature';
import type { PaymentProviderConfig } from '../config';
import type { Ledger } from '../sandbox/ledger';

/**
 * `npm run test:cluster`: the same code on a real Temporal cluster, on this machine (stack/temporal-cluster.ts:
 * the full server built with Go, on PostgreSQL), running what the image runs, from `dist/`
 * (`npm run build`): the setup one-shot (namespace, search attributes), two workers on the prebuilt
 * bundle and two API instances, as separate processes. It places orders across both APIs, kills one
 * worker a third of the way, stops PostgreSQL (Temporal's databases and the store of record) for a while
 * two thirds of the way, and checks every order ends with its money right and the store of record as
 * Temporal ended it. Loopback only, bounded in time, and it removes what it started. Last line: the
 * summary.
 */
const ORDERS = Number(process.env.CLUSTER_ORDERS ?? 240);
const CONCURRENCY = 12;
const RUN_TIMEOUT_MS = 30 * 60_000;
const SETTLE_TIMEOUT_MS = 5 * 60_000;
/** How long PostgreSQL stays stopped: longer than a checkout's first retries, shorter than its patience. */
const POSTGRES_DOWN_MS = 10_000;
/** A checkout's tries at placing an order while the stack does not answer, waits growing to 5 s. */
const CHECKOUT_TRIES = 20;
const NAMESPACE = 'orders';
const DIST = path.resolve(__dirname, '..', 'dist');
/** Confirmed orders whose workflow is then deleted as the namespace's retention deletes it. */
const PAST_RETENTION = 5;
/** Mostly paid orders, some declined, some whose provider sends its callback three times. */
const TOKENS = ['tok_ok', 'tok_ok', 'tok_ok', 'tok_ok', 'tok_ok', 'tok_ok', 'tok_decline', 'tok_duplicate'] as const;

const workDir = mkdtempSync(path.join(os.tmpdir(), 'order-saga-cluster-'));
const log = createWriteStream(path.join(workDir, 'cluster.log'));
const say = (line: string) => {
  console.log(`[cluster] ${line}`);
  log.write(`[cluster] ${line}\n`);
};
/** The server and its PostgreSQL, once started. */
let cluster: TemporalCluster | undefined;

async function main(): Promise<number> {
  const started = Date.now();
  cluster = await startTemporalCluster({ workDir, log, say });
  const serverExit = cluster.exited;
  const [apiPorts, sandboxPort] = [[await freePort(), await freePort()], await freePort()];
  const apiUrls = apiPorts.map((port) => `http://127.0.0.1:${port}`);
  const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
  const keys = [{ id: 'cluster', key: randomBytes(32).toString('base64') }];
  const providers = devPaymentProviders(sandboxUrl);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: cluster.address,
    TEMPORAL_NAMESPACE: NAMESPACE,
    ORDER_STORE_URL: cluster.orderStoreUrl,
    ENCRYPTION_KEYS: JSON.stringify(keys),
    SANDBOX_URL: sandboxUrl,
    PAYMENT_PROVIDERS: JSON.stringify(providers),
    PAYMENT_WINDOW_MS: '20000',
    LOG_LEVEL: 'warn',
  };
  const config = loadConfig(env);
  say(`registering namespace ${NAMESPACE} and the search attributes`);
  const setup = startLogged(log, 'setup', process.execPath, [path.join(DIST, 'scripts', 'setup-temporal.js')], env);
  const setupExit = await Promise.race([
    new Promise<number | null>((resolve) => setup.once('exit', resolve)),
    serverExit,
  ]);
  if (setupExit !== 0) throw new Error(`the setup one-shot exited ${setupExit}`);

  // The sandbox in this process (its ledger is what the money check reads); webhooks go to the second API.
  const sandbox = createSandbox({
    providers,
    webhookBaseUrl: apiUrls[1]!,
    paymentWindowMs: config.saga.paymentWindowMs,
  });
  const sandboxServer = http.createServer(sandbox.app);
  await new Promise<void>((resolve) => sandboxServer.listen(sandboxPort, '127.0.0.1', resolve));

  const bundle = path.join(DIST, 'bundle', 'workflows.js');
  if (!existsSync(bundle)) throw new Error(`no ${bundle}: run npm run build first (npm run test:cluster does)`);
  const node = (entry: EntryPoint): [string, string[]] => [process.execPath, [entryCompiled(entry, DIST)]];
  const workers = await Promise.all(
    [1, 2].map(async (n) =>
      startLogged(log, `worker-${n}`, ...node('worker'), {
        ...env,
        WORKFLOW_BUNDLE: bundle,
        WORKER_METRICS_PORT: String(await freePort()),
      }),
    ),
  );
  apiPorts.forEach((port, i) => startLogged(log, `api-${i + 1}`, ...node('api'), { ...env, API_PORT: String(port) }));
  await Promise.all(apiUrls.map((url) => waitUntilAnswers(`${url}/readyz`)));
  say(`2 workers and 2 APIs up (${apiUrls.join(', ')}); placing ${ORDERS} orders at concurrency ${CONCURRENCY}`);

  const placed = new Map<string, OrderRequest>();
  const runId = randomBytes(3).toString('hex');
  let next = 0;
  let killed = false;
  let outage: Promise<void> | null = null;
  const postgresOutage = async () => {
    say(`stopping PostgreSQL for ${POSTGRES_DOWN_MS / 1000} s with ${placed.size} orders placed`);
    cluster!.stopPostgres();
    await sleep(POSTGRES_DOWN_MS);
    cluster!.startPostgres();
    say('PostgreSQL is back');
  };
  const placeOne = async (index: number) => {
    const order: OrderRequest = {
      orderId: `K-${runId}-${index}`,
      customer: { id: `c-${index % 17}`, email: `buyer${index}@example.com` },
      currency: 'EUR',
      items: [{ sku: 'SKU-TEE', quantity: 1 + (index % 3), unitPrice: 1999 }],
      shippingAddress: {
        name: 'Cluster',
        line1: `${index} Main St`,
        city: 'Paris',
        postalCode: '75001',
        country: 'FR',
      },
      payment: { method: 'card', token: TOKENS[index % TOKENS.length]! },
    };
    const api = apiUrls[index % apiUrls.length]!;
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await fetch(`${api}/orders`, {
          method: 'POST',
          headers: { authorization: 'Bearer dev-checkout', 'content-type': 'application/json' },
          body: JSON.stringify(order),
        });
        await response.arrayBuffer();
        if ([200, 201, 202, 422].includes(response.status)) break;
        throw new Error(`POST /orders answered ${response.status}`);
      } catch (err) {
        // A checkout retries with the same body; the order id makes it the same order.
        if (attempt >= CHECKOUT_TRIES) throw err;
        await sleep(Math.min(1_000 * attempt, 5_000));
      }
    }
    placed.set(order.orderId, order);
  };
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < ORDERS) {
        const index = next++;
        if (!killed && index >= ORDERS / 3) {
          killed = true;
          say(`killing worker-1 (SIGKILL) with ${placed.size} orders placed`);
          workers[0]!.kill('SIGKILL');
        }
        if (!outage && index >= (2 * ORDERS) / 3) outage = postgresOutage();
        await placeOne(index);
      }
    }),
  );
  await outage;
  say(
    `all ${placed.size} orders accepted in ${Math.round((Date.now() - started) / 1000)} s since start; waiting for each to end`,
  );

  const views = await waitForOrdersToEnd(
    placed.keys(),
    async (orderId) => {
      const response = await fetch(`${apiUrls[0]}/orders/${orderId}`, {
        headers: { authorization: 'Bearer dev-support' },
      }).catch(() => null);
      return response?.ok ? ((await response.json()) as OrderView) : null;
    },
    { timeoutMs: SETTLE_TIMEOUT_MS },
  );
  // Duplicated callbacks arrive after the first: let them land before reading the ledger.
  await sleep(2_000);
  const { terminal, lost, byStatus, moneyMismatches, doubleCharges, problems } = judgeOrders(
    ORDERS,
    views,
    sandbox.ledger.snapshot(),
  );
  for (const problem of problems) say(problem);
  const visibility = await connectClient(config, encryptionKeys(config).keys);
  const workflows = await judgeWorkflows(visibility.client, { timeoutMs: 60_000 });
  for (const problem of workflows.problems) say(problem);
  const store = await OrderStore.open(config.orderStoreUrl);
  const { storeMismatches, problems: storeProblems } = await judgeStore(visibility.client, store, placed.keys());
  for (const problem of storeProblems) say(problem);
  await store.close();
  const confirmed = [...views.values()].filter((view) => view.status === 'CONFIRMED').slice(0, PAST_RETENTION);
  const retentionMismatches = await afterRetention(visibility.client, {
    apiUrl: apiUrls[0]!,
    sandboxUrl,
    providers,
    orders: confirmed.map((view) => ({ view, request: placed.get(view.orderId)! })),
    ledger: () => sandbox.ledger.snapshot(),
  });
  await visibility.connection.close();

  sandbox.close();
  sandboxServer.closeAllConnections();
  await new Promise((resolve) => sandboxServer.close(resolve));
  const ok =
    lost === 0 &&
    workflows.failed === 0 &&
    workflows.stale === 0 &&
    moneyMismatches === 0 &&
    doubleCharges === 0 &&
    storeMismatches === 0 &&
    retentionMismatches === 0;
  if (!ok) say(`logs kept in ${workDir}`);
  say(`${byStatus}; ${Math.round((Date.now() - started) / 1000)} s`);
  console.log(
    `[cluster] orders ${ORDERS}, terminal ${terminal.length}, lost ${lost}, failed workflows ${workflows.failed}, stale statuses ${workflows.stale}, ` +
      `money mismatches ${moneyMismatches}, double charges ${doubleCharges}, store mismatches ${storeMismatches}, ` +
      `past retention ${confirmed.length}, retention mismatches ${retentionMismatches}` +
      ` (Temporal ${CLUSTER_SERVER_VERSION} on PostgreSQL, 2 APIs, 2 workers, 1 killed, PostgreSQL stopped ${POSTGRES_DOWN_MS / 1000} s)`,
  );
  return ok ? 0 : 1;
}

/**
 * Some confirmed orders after Temporal forgot them: each workflow deleted as the namespace's retention
 * deletes it; then the order must still answer its view and events as before, the checkout's retry of the
 * same body must place nothing (200, the same view), and the provider's resent success must refund nothing.
 * Returns how many orders did not.
 */
async function afterRetention(
  client: Client,
  parts: {
    apiUrl: string;
    sandboxUrl: string;
    providers: PaymentProviderConfig[];
    orders: { view: OrderView; request: OrderRequest }[];
    ledger: () => ReturnType<Ledger['snapshot']>;
  },
): Promise<number> {
  const api = (route: string, init: RequestInit = {}, token = 'dev-support') =>
    fetch(`${parts.apiUrl}${route}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
    });
  const before = new Map<string, unknown>();
  for (const { view } of parts.orders)
    before.set(view.orderId, await (await api(`/orders/${view.orderId}/events`)).json());
  for (const { view } of parts.orders)
    await client.workflowService.deleteWorkflowExecution({
      namespace: NAMESPACE,
      workflowExecution: { workflowId: orderWorkflowId(view.orderId) },
    });
  const deadline = Date.now() + 120_000;
  for (const { view } of parts.orders) {
    // An answer other than "not found" (a shard still settling, say) is asked again.
    while (await workflowExists(client, orderWorkflowId(view.orderId)).catch(() => true)) {
      if (Date.now() > deadline) throw new Error(`Temporal did not forget ${view.orderId} in 120 s`);
      await sleep(1_000);
    }
  }
  const { webhooks } = (await (await fetch(`${parts.sandboxUrl}/_sandbox/webhooks`)).json()) as {
    webhooks: { provider: string; event: { type: string; data: { orderId: string; paymentId: string } } }[];
  };
  let mismatches = 0;
  for (const { view, request } of parts.orders) {
    const problems: string[] = [];
    const read = await api(`/orders/${view.orderId}`);
    if (read.status !== 200 || !isDeepStrictEqual(await read.json(), view))
      problems.push(`GET answered ${read.status}`);
    const events = await api(`/orders/${view.orderId}/events`);
    if (!isDeepStrictEqual(await events.json(), before.get(view.orderId))) problems.push('its events differ');
    const again = await api('/orders', { method: 'POST', body: JSON.stringify(request) }, 'dev-checkout');
    if (again.status !== 200 || !isDeepStrictEqual(await again.json(), view))
      problems.push(`the same POST answered ${again.status}`);
    const success = webhooks.find(
      ({ event }) => event.type === 'payment.succeeded' && event.data.orderId === view.orderId,
    );
    const secret = parts.providers.find(({ name }) => name === success?.provider)?.webhookSecret;
    if (!success || !secret) problems.push('the provider sent no success to resend');
    else {
      const body = JSON.stringify(success.event);
      const resent = await fetch(`${parts.apiUrl}/webhooks/payments/${success.provider}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'payment-signature': signWebhook(secret, body, Math.floor(Date.now() / 1000)),
        },
        body,
      });
      if (resent.status !== 200) problems.push(`the resent success answered ${resent.status}`);
      // Money is only ever refunded by a late refund, which the API starts before it answers: none may exist.
      const { paymentId } = success.event.data;
      if (await workflowExists(client, latePaymentRefundWorkflowId({ provider: success.provider, paymentId })))
        problems.push('the resent success started a refund');
    }
    const net = parts
      .ledger()
      .payments.filter((payment) => payment.orderId === view.orderId)
      .reduce((sum, payment) => sum + payment.captured - payment.refunded, 0);
    if (net !== view.total) problems.push(`the provider holds ${net} of ${view.total}`);
    if (problems.length) {
      mismatches++;
      say(`past retention, ${view.orderId}: ${problems.join('; ')}`);
    }
  }
  return mismatches;
}

/** Whether Temporal holds a workflow with this id; throws when it does not say. */
async function workflowExists(client: Client, workflowId: string): Promise<boolean> {
  try {
    await client.workflow.getHandle(workflowId).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

runScript(
  () =>
    main().catch((err: unknown) => {
      say(`failed: ${errorMessage(err)} (logs in ${workDir})`);
      return 1;
    }),
  {
    name: 'cluster',
    timeoutMs: RUN_TIMEOUT_MS,
    // PostgreSQL goes after its clients (the tracked children); the logs stay when the run failed.
    afterStop: async (code) => {
      cluster?.stopPostgres();
      await new Promise((resolve) => log.end(resolve));
      if (code === 0 || code === 130) rmSync(workDir, { recursive: true, force: true });
    },
  },
);
