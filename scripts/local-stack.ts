import { mkdirSync } from 'node:fs';
import http, { type Server } from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { createApp } from '../api/server';
import express from 'express';
import { codecRouter } from '../api/codec-routes';
import { createHardenedServer } from '../api/http-server';
import { EncryptionCodec, type EncryptionKey } from '../codec';
import { encryptionKeys, loadConfig, temporalAddress, temporalConnectionOptions, type Config } from '../config';
import { createSandbox, type SandboxOptions } from '../sandbox/server';
import { configuredActivities, createOrderWorker } from '../worker/worker';
import { DevServerProcess } from './dev-server-process';
import { ensureTemporalCli } from './provision-temporal-cli';
import { ensureOrderSearchAttributes } from './search-attributes';
import { createLogger, type PinoLogger } from '../observability/logger';
import type { Tracing } from '../observability/tracing';

/** How a stack's processes log and trace; silent and untraced unless given. */
export interface StackObservability {
  logger?: PinoLogger;
  tracing?: Tracing | null;
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

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
}

/**
 * The environment of a throwaway stack whose parts may run as child processes (chaos, bench): every
 * port free, its own data directory and encryption keys, so nothing collides with a stack already up.
 */
export async function throwawayStackEnv(dataDir: string, keys: readonly EncryptionKey[]) {
  const [temporalPort, apiPort, sandboxPort, workerMetricsPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
    WORKER_METRICS_PORT: String(workerMetricsPort),
    API_PORT: String(apiPort),
    SANDBOX_PORT: String(sandboxPort),
    DATA_DIR: dataDir,
    ENCRYPTION_KEYS: JSON.stringify(keys.map(({ id, key }) => ({ id, key: key.toString('base64') }))),
  };
  return { env, temporalPort };
}

/**
 * The configuration of a throwaway `startLocalStack` (its own dev server and Web UI): every port free,
 * including the dev codec listener's, and its own data directory; `extra` for the run's own settings.
 */
export async function throwawayLocalStackConfig(dataDir: string, extra: Record<string, string> = {}): Promise<Config> {
  return loadConfig({
    ...process.env,
    TEMPORAL_ADDRESS: '',
    DATA_DIR: dataDir,
    API_PORT: String(await freePort()),
    SANDBOX_PORT: String(await freePort()),
    TEMPORAL_PORT: String(await freePort()),
    TEMPORAL_UI_PORT: String(await freePort()),
    DEV_CODEC_PORT: String(await freePort()),
    WORKER_METRICS_PORT: String(await freePort()),
    ...extra,
  });
}

/**
 * The dev server: the provisioned CLI with SQLite under DATA_DIR and the Web UI, which decodes payloads
 * through the loopback codec listener; none when TEMPORAL_ADDRESS is set.
 */
async function startDevServer(config: Config, say: (line: string) => void): Promise<DevServerProcess | null> {
  if (config.temporal.address) {
    say(`using the Temporal server at ${config.temporal.address} (TEMPORAL_ADDRESS is set: no dev server started)`);
    return null;
  }
  const cli = await ensureTemporalCli(say);
  if (!cli)
    throw new Error('no Temporal CLI: set TEMPORAL_CLI, put temporal on PATH, or install Go for the build from source');
  mkdirSync(config.dataDir, { recursive: true });
  const dbFile = path.resolve(config.dataDir, 'temporal.db');
  say(`starting the Temporal dev server (database ${dbFile})...`);
  const server = new DevServerProcess(cli, {
    port: config.temporal.devServerPort,
    dbFile,
    namespace: config.temporal.namespace,
    ui: { port: config.temporal.uiPort, codecEndpoint: devCodecUrl(config) },
    log: (chunk) => process.stderr.write(chunk),
  });
  await server.start();
  return server;
}

/** The codec endpoint the local Web UI is given; it calls `<endpoint>/decode` and `<endpoint>/encode`. */
export function devCodecUrl(config: Config): string {
  return `http://127.0.0.1:${config.devCodecPort}/codec`;
}

/** A server's close, all connections included. */
async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/** The sandbox's systems on the configured port, in this process. */
export async function serveSandbox(
  config: Config,
  sandboxOptions: Partial<SandboxOptions> = {},
  logger = createLogger({ level: 'silent' }),
) {
  const sandbox = createSandbox({
    providers: config.paymentProviders,
    webhookBaseUrl: config.webhookBaseUrl,
    paymentWindowMs: config.saga.paymentWindowMs,
    logger: logger.child({ component: 'sandbox' }),
    ...sandboxOptions,
  });
  const server = createHardenedServer(sandbox.app);
  await listen(server, config.sandboxPort);
  return {
    sandbox,
    sandboxUrl: config.sandboxUrl,
    async close(): Promise<void> {
      sandbox.close();
      await closeServer(server);
    },
  };
}

/** A client of the configured Temporal server whose payloads are encrypted under `keys`. */
export async function connectClient(config: Config, keys: readonly EncryptionKey[], tracing: Tracing | null = null) {
  const codec = new EncryptionCodec(keys);
  const connection = await Connection.connect(temporalConnectionOptions(config));
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: { payloadCodecs: [codec] },
    plugins: tracing ? [tracing.plugin] : [],
  });
  return { codec, connection, client };
}

/** The API on the configured port, in this process, over `client`. */
export async function serveApi(
  config: Config,
  { client, codec }: { client: Client; codec: EncryptionCodec },
  logger = createLogger({ level: 'silent' }),
) {
  const server = createHardenedServer(createApp({ client, config, codec, logger: logger.child({ component: 'api' }) }));
  await listen(server, config.apiPort);
  return { apiUrl: `http://127.0.0.1:${config.apiPort}`, close: () => closeServer(server) };
}

/**
 * The sandbox and the API in this process, against a Temporal server that runs elsewhere, on the
 * configured ports, with payloads encrypted under `keys` (the bench's stack).
 */
export async function serveApiAndSandbox(
  config: Config,
  keys: readonly EncryptionKey[],
  sandboxOptions: Partial<SandboxOptions> = {},
  { logger = createLogger({ level: 'silent' }), tracing = null }: StackObservability = {},
) {
  const { sandbox, close: closeSandbox } = await serveSandbox(config, sandboxOptions, logger);
  const temporal = await connectClient(config, keys, tracing);
  const api = await serveApi(config, temporal, logger);
  return {
    ...temporal,
    sandbox,
    apiUrl: api.apiUrl,
    sandboxUrl: config.sandboxUrl,
    async close(): Promise<void> {
      await api.close();
      await closeSandbox();
      await temporal.connection.close();
    },
  };
}

/**
 * The whole local stack in this process: dev server (unless TEMPORAL_ADDRESS), sandbox, worker and API,
 * on the configured ports, started in that order. `stop()` takes them down in the reverse order: the API
 * stops taking requests, the worker drains (its activities still reach the sandbox), then the sandbox and
 * the dev server go.
 */
export async function startLocalStack(
  config: Config,
  say: (line: string) => void = () => {},
  observability: StackObservability = {},
) {
  const keys = encryptionKeys(config);
  const { logger = createLogger({ level: 'silent' }), tracing = null } = observability;
  say(`payloads are encrypted (AES-256-GCM) with the ${keys.source}`);
  // What is up so far, last first: a start that fails partway takes it down again instead of leaving it running.
  const started: (() => Promise<unknown>)[] = [];
  const stopStarted = async () => {
    for (const stop of started.splice(0).reverse()) await stop().catch(() => undefined);
  };
  try {
    const devServer = await startDevServer(config, say);
    if (devServer) started.push(() => devServer.stop());
    const served = await serveSandbox(config, {}, logger);
    started.push(() => served.close());
    const temporal = await connectClient(config, keys.keys, tracing);
    started.push(() => temporal.connection.close());
    if (devServer) {
      const added = await ensureOrderSearchAttributes(temporal.connection, config.temporal.namespace);
      if (added.length) say(`registered search attributes ${added.join(', ')} on the existing database`);
    }
    // The local Web UI's codec endpoint: loopback only and without a token, like the dev server itself.
    const devCodec = express().use(
      codecRouter({ codec: temporal.codec, corsOrigins: config.codecCorsOrigins, auth: null }),
    );
    const devCodecServer = http.createServer(devCodec);
    await listen(devCodecServer, config.devCodecPort);
    started.push(() => closeServer(devCodecServer));

    say('bundling the workflow code and starting the worker...');
    const address = temporalAddress(config);
    const nativeConnection = await NativeConnection.connect(temporalConnectionOptions(config));
    started.push(() => nativeConnection.close());
    const worker = await createOrderWorker({
      connection: nativeConnection,
      namespace: config.temporal.namespace,
      activities: configuredActivities(config),
      dataConverter: { payloadCodecs: [temporal.codec] },
      tracing,
    });
    const workerRun = worker.run();
    started.push(() => {
      worker.shutdown();
      return workerRun;
    });

    const api = await serveApi(config, temporal, logger);
    started.push(() => api.close());
    const health = await fetch(`${api.apiUrl}/healthz`);
    if (!health.ok) throw new Error(`the API answered ${health.status} on /healthz`);

    let stopped: Promise<void> | null = null;
    return {
      address,
      devServer,
      client: temporal.client,
      apiUrl: api.apiUrl,
      devCodecUrl: devCodecUrl(config),
      /** Settles when the worker stops; rejects if it fails. */
      workerRun,
      /** Takes the parts down in the reverse order of their start: the API first, the dev server last. */
      stop(): Promise<void> {
        stopped ??= stopStarted();
        return stopped;
      },
    };
  } catch (err) {
    await stopStarted();
    throw err;
  }
}
