import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import type { temporal } from '@temporalio/proto';
import { DefaultLogger, NativeConnection, Runtime, type RuntimeOptions } from '@temporalio/worker';
import { createHardenedServer } from '../../api/http-server';
import { EXAMPLE_ORDER } from '../../api/http-schemas';
import { createApp } from '../../api/server';
import { createActivities, type ActivityEndpoints, type OrderActivities } from '../../activities';
import { createHttpClient } from '../../activities/http';
import { orderStartOptions } from '../../api/start-order';
import {
  DEFAULT_MAX_STARTS_IN_FLIGHT,
  DEFAULT_START_QUEUE_WAIT_MS,
  DEV_API_KEYS,
  devPaymentProviders,
  ORDER_STORE_FILE,
  webhookEndpointId,
  type ApiKeys,
  type Config,
} from '../../config';
import { getEventsQuery, getOrderQuery } from '../../domain/contract';
import type { OrderEvent } from '../../domain/schemas/order-events';
import type { OrderRequest } from '../../domain/order-request';
import type { OrderView } from '../../domain/order-state';
import { PaymentToken } from '../../sandbox/ledger';
import { createSandbox } from '../../sandbox/server';
import { DEV_ORDER_WEBHOOK_SECRET, ORDER_WEBHOOKS_PATH } from '../../sandbox/status-event-receiver';
import type { WebhookEndpoint } from '../../activities/status-webhooks';
import type { StatusEventType } from '../../domain/statuses';
import { createOrderWorker, type OrderWorker } from '../../worker/worker';
import { EncryptionCodec } from '../../codec';
import { createOrdersClient, type OrdersClient } from '../../client';
import { TEST_ENV, testEncryptionKeys, testTemporalAddress, testWorkflowBundlePath } from './test-env';
import type { StackObservability } from '../../stack/local-stack';
import { killChild, tracked } from '../../stack/children';
import { WORKER_POLLING, type WorkerProcessOptions } from './worker-process';
import { closeServer, listen, temporalClient } from '../../stack/parts';
import { loopbackAddressOfItsOwn } from './loopback';
import type { HttpProviderConfig, PaymentProviderType, StripeProviderConfig } from '../../payment-provider/providers';

/** A dev provider as the sandbox's Stripe: its name and secret, an API key of its own, the sandbox as Stripe's API. */
export function sandboxStripeProvider(provider: HttpProviderConfig, sandboxUrl: string): StripeProviderConfig {
  return {
    type: 'stripe',
    name: provider.name,
    apiKey: `sk_test_sandbox_${provider.name}`,
    webhookSecret: provider.webhookSecret,
    apiBase: sandboxUrl,
    successUrl: `${sandboxUrl}/paid?session={CHECKOUT_SESSION_ID}`,
  };
}
import { OrderStore } from '../../store/order-store';

export const NAMESPACE = 'default';
/** The Web UI origin the test API allows to call its codec endpoints. */
export const TEST_UI_ORIGIN = 'http://127.0.0.1:8233';

/** The dev tokens, plus one that may only read (a dashboard's, say). */
export const TEST_API_KEYS: ApiKeys = {
  ...(DEV_API_KEYS as unknown as ApiKeys),
  'test-reader': { name: 'dashboard', scopes: ['orders:read'] },
};
export type TestToken = keyof typeof TEST_API_KEYS & string;
export const auth = (token: TestToken) => ({ authorization: `Bearer ${token}` });

/** Short windows so every path finishes in seconds; a test can shorten or lengthen any of them. */
export const FAST_SETTINGS: Omit<Config['saga'], 'paymentProviders' | 'answerWaitMs'> = {
  paymentWindowMs: 3_000,
  compensationGiveUpMs: 2_000,
  // Longer than any outage these tests stage: only the fault matrix lets a step give up.
  stepGiveUpMs: 20_000,
  stateSlaMs: 60_000,
  // None unless a test asks: a reminder is a notification and an event more in every order's story.
  paymentReminders: [],
};

/**
 * The external systems the activities call, each on a port of its own (the sandbox serves them all):
 * `checkout` is the checkout's order webhook endpoint.
 */
export const SYSTEMS = ['catalog', 'inventory', 'payments', 'fulfillment', 'notifications', 'checkout'] as const;
export type SystemName = (typeof SYSTEMS)[number];

/**
 * One system's port. `refuse()` closes it, so connections are refused as by a host that is down;
 * `accept()` listens on the same port again. Each system listens on a loopback address of its own
 * (all of 127/8 is loopback), so while it refuses, another stack of the same run that is given the
 * same port number on 127.0.0.1 cannot answer in its place.
 */
export class SystemPort {
  private constructor(
    private server: http.Server,
    private readonly app: http.RequestListener,
    readonly url: string,
  ) {}

  static async open(app: http.RequestListener): Promise<SystemPort> {
    const server = http.createServer(app);
    const host = loopbackAddressOfItsOwn();
    const port = await listen(server, 0, { host });
    return new SystemPort(server, app, `http://${host}:${port}`);
  }

  async refuse(): Promise<void> {
    if (!this.server.listening) return;
    await closeServer(this.server);
  }

  async accept(): Promise<void> {
    if (this.server.listening) return;
    const { hostname, port } = new URL(this.url);
    this.server = http.createServer(this.app);
    await listen(this.server, Number(port), { host: hostname });
  }
}

let runtimeInstalled = false;
/**
 * The Temporal runtime of this test file's process, installed once (it is a per-process singleton): by
 * default workers log errors only (tests expect lifecycle lines and retried activities); a file that
 * checks logs or metrics installs its own first.
 */
export function installTestRuntime(options: RuntimeOptions = { logger: new DefaultLogger('ERROR') }): void {
  if (runtimeInstalled) return;
  Runtime.install(options);
  runtimeInstalled = true;
}

/** Listens on 127.0.0.1 on any free port and answers with the server's URL. */
export async function listenAt(server: http.Server): Promise<string> {
  return `http://127.0.0.1:${await listen(server, 0)}`;
}

/**
 * The real stack for one test file: the shared dev server, the sandbox and the API's webhook endpoint on
 * free ports, and the real worker on a task queue of its own.
 */
export interface StackOptions extends Partial<Omit<Config['saga'], 'paymentProviders'>> {
  /** How long the activities wait for a system's answer (the fault matrix shortens it to stage hangs quickly). */
  httpTimeoutMs?: number;
  /** Wraps the real activities, for a test that must put something in history at an exact moment. */
  wrapActivities?: (activities: OrderActivities, client: Client) => OrderActivities;
  /** False to start with no worker polling (the API must still accept and answer). */
  worker?: boolean;
  orderAcceptTimeoutMs?: number;
  /** The API's limit of starts in flight (a shedding test lowers it). */
  maxStartsInFlight?: number;
  /** How long a start may wait in line for a slot before it is shed. */
  startQueueWaitMs?: number;
  /** False to keep payloads plaintext (recorded histories are test data, meant to be read). */
  encryptPayloads?: boolean;
  /** The API server's deadline for receiving a whole request (slow-body tests shorten it). */
  requestTimeoutMs?: number;
  /** Outside jest (the history capture script): the server and bundle to use instead of the run's. */
  temporalAddress?: string;
  workflowBundlePath?: string;
  /** Where the API and the sandbox log, and tracing (the worker then bundles the workflows with its interceptors). */
  observability?: StackObservability;
  /**
   * Registers the sandbox's order webhook endpoint (the `checkout` system) for every order. `secret` is the
   * one the worker signs with (the sandbox checks the dev one); the rest as in `WebhookSettings`.
   */
  /** How often an idle live stream gets a heartbeat (the stream tests shorten it). */
  streamHeartbeatMs?: number;
  /** How many live streams the API keeps open at once. */
  maxStreams?: number;
  /**
   * Each provider's type, primary first (both `http` by default): a `stripe` one is the sandbox playing
   * Stripe, reached through the real `stripe` adapter.
   */
  providerTypes?: readonly [PaymentProviderType, PaymentProviderType];
  orderWebhooks?: {
    /** An endpoint of the test's own (the sandbox's by default). */
    url?: string;
    secret?: string;
    events?: StatusEventType[];
    flagAfterMs?: number;
    giveUpMs?: number;
  };
}

export async function startStack({
  wrapActivities,
  worker: withWorker = true,
  orderAcceptTimeoutMs = 10_000,
  maxStartsInFlight = DEFAULT_MAX_STARTS_IN_FLIGHT,
  startQueueWaitMs = DEFAULT_START_QUEUE_WAIT_MS,
  encryptPayloads = true,
  temporalAddress,
  workflowBundlePath,
  requestTimeoutMs,
  httpTimeoutMs,
  observability: { logger, tracing } = {},
  orderWebhooks,
  streamHeartbeatMs = 15_000,
  maxStreams = 10_000,
  providerTypes = ['http', 'http'],
  ...settings
}: StackOptions = {}) {
  installTestRuntime();
  const address = temporalAddress ?? testTemporalAddress();
  const bundlePath = workflowBundlePath ?? testWorkflowBundlePath();
  const taskQueue = `orders-test-${randomUUID()}`;
  const connection = await Connection.connect({ address });
  const codec = new EncryptionCodec(encryptPayloads ? testEncryptionKeys() : [{ id: 'unused', key: randomBytes(32) }]);
  const dataConverter = encryptPayloads ? { payloadCodecs: [codec] } : undefined;
  const client = temporalClient(connection, NAMESPACE, encryptPayloads ? codec : null, tracing);
  const nativeConnection = await NativeConnection.connect({ address });

  // The store of record, a SQLite file of this stack's own, as `npm start` keeps one in DATA_DIR.
  const storeDir = mkdtempSync(path.join(os.tmpdir(), 'order-store-'));
  const storeUrl = `sqlite:${path.join(storeDir, ORDER_STORE_FILE)}`;
  const store = await OrderStore.open(storeUrl);
  const apiServer = createHardenedServer(undefined, requestTimeoutMs);
  const sandboxServer = http.createServer();
  const apiUrl = await listenAt(apiServer);
  const sandboxUrl = await listenAt(sandboxServer);
  // Each system on a port of its own, served by the sandbox made below (it needs the providers' URLs first).
  const sandboxApp: http.RequestListener = (req, res) => sandbox.app(req, res);
  const systems = Object.fromEntries(
    await Promise.all(SYSTEMS.map(async (name) => [name, await SystemPort.open(sandboxApp)] as const)),
  ) as Record<SystemName, SystemPort>;
  const providers = devPaymentProviders(systems.payments.url).map((provider, i) =>
    providerTypes[i] === 'stripe' ? sandboxStripeProvider(provider, systems.payments.url) : provider,
  );
  const webhookUrl = orderWebhooks?.url ?? `${systems.checkout.url}${ORDER_WEBHOOKS_PATH}`;
  const webhookEndpoint: WebhookEndpoint | null = orderWebhooks
    ? { id: webhookEndpointId(webhookUrl), url: webhookUrl, secret: orderWebhooks.secret ?? DEV_ORDER_WEBHOOK_SECRET }
    : null;
  const saga: Config['saga'] = {
    ...FAST_SETTINGS,
    answerWaitMs: orderAcceptTimeoutMs,
    ...settings,
    paymentProviders: providers.map((p) => p.name),
    ...(orderWebhooks && webhookEndpoint
      ? {
          webhooks: {
            endpoints: [{ id: webhookEndpoint.id, ...(orderWebhooks.events ? { events: orderWebhooks.events } : {}) }],
            flagAfterMs: orderWebhooks.flagAfterMs ?? 60_000,
            giveUpMs: orderWebhooks.giveUpMs ?? 86_400_000,
          },
        }
      : {}),
  };

  const sandbox = createSandbox({
    providers,
    webhookBaseUrl: apiUrl,
    paymentWindowMs: saga.paymentWindowMs,
    ...(logger ? { logger: logger.child({ component: 'sandbox' }) } : {}),
  });
  sandboxServer.on('request', sandbox.app);
  const appConfig = {
    paymentProviders: providers,
    saga,
    orderAcceptTimeoutMs,
    maxStartsInFlight,
    startQueueWaitMs,
    codecCorsOrigins: [TEST_UI_ORIGIN],
    // News reaches a stream within a quarter second: tests wait on it.
    orderStreams: { pollMs: 250, heartbeatMs: streamHeartbeatMs, max: maxStreams },
  };
  const app = createApp({
    client,
    store,
    sweepClosedOrders: true,
    config: { ...appConfig, apiKeys: TEST_API_KEYS },
    codec,
    taskQueue,
    ...(logger ? { logger: logger.child({ component: 'api' }) } : {}),
  });
  apiServer.on('request', app);

  const endpoints: ActivityEndpoints = {
    catalogUrl: systems.catalog.url,
    inventoryUrl: systems.inventory.url,
    fulfillmentUrl: systems.fulfillment.url,
    notificationsUrl: systems.notifications.url,
    paymentProviders: providers,
    orderWebhooks: webhookEndpoint ? [webhookEndpoint] : [],
  };
  const activities = createActivities(endpoints, store, createHttpClient(httpTimeoutMs));
  let running: { worker: OrderWorker; run: Promise<void> } | null = null;
  async function startWorker(): Promise<void> {
    const worker = await createOrderWorker({
      connection: nativeConnection,
      namespace: NAMESPACE,
      taskQueue,
      // The prebuilt bundle has no tracing interceptors: with tracing, the worker bundles the workflows itself.
      ...(tracing ? {} : { workflowBundle: { codePath: bundlePath } }),
      activities: wrapActivities ? wrapActivities(activities, client) : activities,
      dataConverter,
      tracing,
      deliversWebhooks: webhookEndpoint !== null,
    });
    running = { worker, run: worker.run() };
  }
  async function stopWorker(): Promise<void> {
    if (!running) return;
    running.worker.shutdown();
    await running.run;
    running = null;
  }
  if (withWorker) await startWorker();

  const workerProcesses = new Set<ChildProcess>();
  /**
   * Starts the real worker as a process of its own, polling this stack's task queue. Its `crash()` SIGKILLs
   * it, as an out-of-memory kill or a lost machine ends a worker: a workflow task it holds is never
   * completed, and the server hands it out again once the task's timeout passes.
   */
  async function startWorkerProcess(): Promise<{ crash(): Promise<void> }> {
    const options: WorkerProcessOptions = { namespace: NAMESPACE, taskQueue, endpoints, storeUrl, httpTimeoutMs };
    const child = tracked(
      spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'worker-process.ts')], {
        env: { ...process.env, [TEST_ENV.workerProcess]: JSON.stringify(options) },
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    workerProcesses.add(child);
    child.once('exit', () => workerProcesses.delete(child));
    const lines = createInterface({ input: child.stdout! });
    const polling = async () => {
      for await (const line of lines) if (line === WORKER_POLLING) return true;
      return false;
    };
    if (!(await polling())) throw new Error(`the worker process exited (${child.exitCode}) before it polled`);
    child.stdout!.resume();
    return { crash: () => killChild(child) };
  }

  /** Calls the sandbox as a test's operator does: its switches, or a system's route directly. */
  const callSandbox = (path: string, method: string, body?: unknown) =>
    fetch(`${sandboxUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  return {
    client,
    app,
    /** The store of record the API and the workers of this stack share, and its ORDER_STORE_URL. */
    store,
    storeUrl,
    taskQueue,
    sandboxUrl,
    apiUrl,
    /** The generated typed client of the API, as a checkout or support tool holding this token calls it. */
    api: (token?: TestToken): OrdersClient => createOrdersClient(apiUrl, token),
    startWorker,
    stopWorker,
    startWorkerProcess,
    /** Where the worker reaches each system, for a test that calls them as the activities do. */
    endpoints,
    /** The API configuration this stack runs with, for a second app in the same test. */
    settingsForApp: () => appConfig,
    codec,
    ledger: sandbox.ledger,
    settings: saga,

    /** Starts an order's workflow the way the API does. */
    async startOrder(request: OrderRequest): Promise<WorkflowHandle> {
      const { workflowType, options } = orderStartOptions(request, saga, taskQueue);
      return client.workflow.start(workflowType, options);
    },

    async result(handle: WorkflowHandle): Promise<OrderView> {
      return (await handle.result()) as OrderView;
    },

    /** Refuses (or accepts again) every connection to one system, as a host that is down does. */
    async refuseConnections(system: SystemName, refuse: boolean): Promise<void> {
      await (refuse ? systems[system].refuse() : systems[system].accept());
    },

    callSandbox,

    /** The customer pays at the order's link: the sandbox's provider takes the money and calls the API back. */
    async payAtLink(view: OrderView): Promise<void> {
      const paid = await fetch(view.payment!.checkoutUrl, { method: 'POST' });
      if (paid.status !== 200) throw new Error(`paying ${view.orderId} at its link answered ${paid.status}`);
    },

    /** Flips a sandbox outage switch, as the operator of a real outage would experience it. */
    async outage(target: 'primary' | 'backup' | 'fulfillment' | 'refunds', down: boolean): Promise<void> {
      const path =
        target === 'fulfillment' || target === 'refunds'
          ? `/_sandbox/${target}/outage`
          : `/_sandbox/providers/${target}/outage`;
      const response = await callSandbox(path, 'POST', { down });
      if (!response.ok) throw new Error(`outage switch answered ${response.status}`);
    },

    async stop(): Promise<void> {
      app.stopBackground();
      await Promise.all([...workerProcesses].map(killChild));
      await stopWorker();
      sandbox.close();
      await Promise.all(Object.values(systems).map((system) => system.refuse()));
      await nativeConnection.close();
      await connection.close();
      await store.close();
      rmSync(storeDir, { recursive: true, force: true });
      apiServer.closeAllConnections();
      sandboxServer.closeAllConnections();
      await Promise.all([
        new Promise((resolve) => apiServer.close(resolve)),
        new Promise((resolve) => sandboxServer.close(resolve)),
      ]);
    },
  };
}

export type TestStack = Awaited<ReturnType<typeof startStack>>;

/** A payment the customer never makes: the order waits at its payment link until its window closes. */
export const LOST_PAYMENT = { method: 'card', token: PaymentToken.LOST } as const;

/** The events of an order that was paid and confirmed, in order. */
export const CONFIRMED_ORDER_EVENTS = [
  'OrderReceived',
  'OrderValidated',
  'StockReserved',
  'PaymentRequested',
  'PaymentSucceeded',
  'OrderConfirmed',
];

/**
 * The tests' stand-in for a checkout's session (the example backend's `mayFollow`): a cookie `order=<id>`
 * names the order this visitor placed. A real checkout asks its own signed session.
 */
export function orderInCookie(req: { get(name: string): string | undefined }, orderId: string): boolean {
  return (req.get('cookie') ?? '').split(/;\s*/).includes(`order=${orderId}`);
}

/** A valid order with an id no other test uses: the contract's example order (39.98 EUR), paid. */
export function makeOrder(overrides: Partial<OrderRequest> = {}): OrderRequest {
  return {
    ...structuredClone(EXAMPLE_ORDER),
    orderId: `T-${randomUUID().slice(0, 13)}`,
    payment: { method: 'card', token: 'tok_ok' },
    ...overrides,
  };
}

/** Polls until `check` holds, for things that happen outside the workflow (webhooks, the sandbox's timers). */
export async function eventually<T>(
  read: () => Promise<T> | T,
  check: (value: T) => boolean,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Captured minus refunded for one order, over every provider: the figure the money invariant is about. */
export function netMoney(stack: TestStack, orderId: string): number {
  return stack.ledger
    .snapshot()
    .payments.filter((p) => p.orderId === orderId)
    .reduce((sum, p) => sum + p.captured - p.refunded, 0);
}

/**
 * The summaries support reads beside an order's calls in the Web UI, oldest first: a regular activity's
 * (scheduled) and a local one's (a step's first attempt in the worker, recorded as a marker); with
 * `localOnly`, the local ones alone.
 */
export async function callSummaries(
  stack: TestStack,
  events: readonly temporal.api.history.v1.IHistoryEvent[],
  { localOnly = false } = {},
): Promise<string[]> {
  const summaries: string[] = [];
  for (const event of events) {
    const payload = event.userMetadata?.summary;
    const isCall = event.markerRecordedEventAttributes || (!localOnly && event.activityTaskScheduledEventAttributes);
    if (isCall && payload) {
      summaries.push(await decodeFromPayloadsAtIndex<string>(stack.client.options.loadedDataConverter, 0, [payload]));
    }
  }
  return summaries;
}

/** The order's domain event types, oldest first. */
/** When the order recorded its first event of `type`, in ms. */
export function eventAt(events: readonly OrderEvent[], type: OrderEvent['type']): number {
  const event = events.find((candidate) => candidate.type === type);
  if (!event) throw new Error(`the order has no ${type} event`);
  return Date.parse(event.at);
}

/** Until the order waits at its payment link; the order as it is then. */
export function atPaymentLink(handle: WorkflowHandle): Promise<OrderView> {
  return eventually(
    () => handle.query(getOrderQuery),
    (view) => view.status === 'AWAITING_PAYMENT',
  );
}

export async function eventTypes(handle: WorkflowHandle): Promise<string[]> {
  return (await handle.query(getEventsQuery)).map((event) => event.type);
}
