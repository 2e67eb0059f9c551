import type { Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import type { NativeConnection, WorkerOptions } from '@temporalio/worker';
import { createHardenedServer } from '../api/http-server';
import { createApp } from '../api/server';
import { EncryptionCodec, type EncryptionKey } from '../codec';
import { temporalConnectionOptions, type Config } from '../config';
import { createLogger, type PinoLogger } from '../observability/logger';
import type { Tracing } from '../observability/tracing';
import { createSandbox, type SandboxOptions } from '../sandbox/server';
import type { OrderStore } from '../store/order-store';
import { configuredActivities, createOrderWorker, type OrderWorker } from '../worker/worker';

/**
 * The parts of a stack, each built from the one configuration: a Temporal client, the API, the sandbox and
 * the order worker. The entry points (bin/), `npm start`, the scripts, the bench and the tests build them
 * here, so each part is wired one way wherever it runs.
 */

/** Where a server listens: loopback by default; `null` for every interface (a container's API). */
export interface ListenOptions {
  host?: string | null;
  /** Connections the kernel queues before they are accepted (capped by net.core.somaxconn). */
  backlog?: number;
}

/** Listens on `port` (0: any free one) and resolves with the port it took. */
export function listen(
  server: Server,
  port: number,
  { host = '127.0.0.1', backlog }: ListenOptions = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: host ?? undefined, backlog }, () => resolve((server.address() as AddressInfo).port));
  });
}

/** A server's close, all connections included. */
export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/** A client over `connection` whose payloads go through `codec` (none: plaintext), traced when tracing is on. */
export function temporalClient(
  connection: Connection,
  namespace: string,
  codec: EncryptionCodec | null,
  tracing: Tracing | null = null,
): Client {
  return new Client({
    connection,
    namespace,
    dataConverter: codec ? { payloadCodecs: [codec] } : undefined,
    plugins: tracing ? [tracing.plugin] : [],
  });
}

/** A client of the configured Temporal server whose payloads are encrypted under `keys`. */
export async function connectClient(config: Config, keys: readonly EncryptionKey[], tracing: Tracing | null = null) {
  const codec = new EncryptionCodec(keys);
  const connection = await Connection.connect(temporalConnectionOptions(config));
  return { codec, connection, client: temporalClient(connection, config.temporal.namespace, codec, tracing) };
}

/** The API on the configured port, over `client`. */
export async function serveApi(
  config: Config,
  { client, codec }: { client: Client; codec: EncryptionCodec },
  store: OrderStore,
  logger: PinoLogger = createLogger({ level: 'silent' }),
  listening: ListenOptions = {},
) {
  const app = createApp({
    client,
    store,
    config,
    codec,
    logger: logger.child({ component: 'api' }),
    sweepClosedOrders: true,
  });
  const server = createHardenedServer(app);
  await listen(server, config.apiPort, listening);
  return {
    server,
    apiUrl: `http://127.0.0.1:${config.apiPort}`,
    /** Ends the live streams, which a graceful close would otherwise wait on for as long as their orders run. */
    stopBackground: () => app.stopBackground(),
    close: () => {
      app.stopBackground();
      return closeServer(server);
    },
  };
}

/** The sandbox's systems on the configured host and port. */
export async function serveSandbox(
  config: Config,
  sandboxOptions: Partial<SandboxOptions> = {},
  logger: PinoLogger = createLogger({ level: 'silent' }),
) {
  const sandbox = createSandbox({
    providers: config.paymentProviders,
    webhookBaseUrl: config.webhookBaseUrl,
    paymentWindowMs: config.saga.paymentWindowMs,
    logger: logger.child({ component: 'sandbox' }),
    ...sandboxOptions,
  });
  const server = createHardenedServer(sandbox.app);
  await listen(server, config.sandboxPort, { host: config.sandboxHost });
  return {
    sandbox,
    sandboxUrl: config.sandboxUrl,
    async close(): Promise<void> {
      sandbox.close();
      await closeServer(server);
    },
  };
}

/** The order worker of the configured namespace: its activities reach the configured systems and `store`. */
export function orderWorker(
  config: Config,
  connection: NativeConnection,
  codec: EncryptionCodec,
  store: OrderStore,
  {
    tracing = null,
    workflowBundle,
  }: { tracing?: Tracing | null; workflowBundle?: WorkerOptions['workflowBundle'] } = {},
): Promise<OrderWorker> {
  return createOrderWorker({
    connection,
    namespace: config.temporal.namespace,
    activities: configuredActivities(config, store),
    dataConverter: { payloadCodecs: [codec] },
    tracing,
    workflowBundle,
    deliversWebhooks: config.orderWebhooks.length > 0,
  });
}

/** Below Linux's ephemeral range (32768 and up): outgoing connections never take these ports. */
const LISTEN_PORTS = { from: 20_000, to: 32_767 };
const handedOut = new Set<number>();

/**
 * A port nothing listens on right now, for runs that must not collide with a stack already up. Taken
 * below the ephemeral range, so that between this call and the listen no outgoing connection (the
 * Temporal server has many) can take it, and never the same twice in one process. Below 32768 also
 * suits Temporal's cluster membership, which stores ports as a smallint.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = LISTEN_PORTS.from + Math.floor(Math.random() * (LISTEN_PORTS.to - LISTEN_PORTS.from + 1));
    if (handedOut.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const probe = net.createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (!free) continue;
    handedOut.add(port);
    return port;
  }
}

/** Resolves once `url` answers 2xx; a service that is starting refuses connections until it listens. */
export async function waitUntilAnswers(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(url).catch(() => null);
    if (response?.ok) return;
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await sleep(250);
  }
}
