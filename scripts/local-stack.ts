import { mkdirSync } from 'node:fs';
import http, { type Server } from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection } from '@temporalio/worker';
import { createActivities } from '../activities';
import { createApp } from '../api/server';
import express from 'express';
import { codecRouter } from '../api/codec-routes';
import { createHardenedServer } from '../api/http-server';
import { EncryptionCodec, type EncryptionKey } from '../codec';
import { encryptionKeys, temporalAddress, temporalConnectionOptions, type Config } from '../config';
import { ALL_ORDER_SEARCH_ATTRIBUTES } from '../domain/search-attributes';
import { createSandbox, type SandboxOptions } from '../sandbox/server';
import { activityEndpoints, createOrderWorker } from '../worker/worker';
import { DEV_SERVER_SQLITE_PRAGMAS, withoutOtelVariables } from './dev-server-process';
import { ensureTemporalCli } from './provision-temporal-cli';
import { ensureOrderSearchAttributes } from './search-attributes';
import { createLogger, type PinoLogger } from '../observability/logger';
import type { Tracing } from '../observability/tracing';

/** How a stack's processes log and trace; silent and untraced unless given. */
export interface StackObservability {
  logger?: PinoLogger;
  tracing?: Tracing | null;
}

/** A port nothing listens on right now, for runs that must not collide with a stack already up. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
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
  const [temporalPort, apiPort, sandboxPort, workerMetricsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
    WORKER_METRICS_PORT: String(workerMetricsPort),
    API_PORT: String(apiPort),
    SANDBOX_PORT: String(sandboxPort),
    DATA_DIR: dataDir,
    ENCRYPTION_KEYS: JSON.stringify(keys.map(({ id, key }) => ({ id, key: key.toString('base64') }))),
  };
  return { env, temporalPort, apiPort, sandboxPort };
}

/**
 * The dev server: the provisioned CLI with SQLite under DATA_DIR and the Web UI, which decodes payloads
 * through the loopback codec listener; none when TEMPORAL_ADDRESS is set.
 */
async function startDevServer(config: Config, say: (line: string) => void): Promise<TestWorkflowEnvironment | null> {
  if (config.temporal.address) {
    say(`using the Temporal server at ${config.temporal.address} (TEMPORAL_ADDRESS is set: no dev server started)`);
    return null;
  }
  const cli = ensureTemporalCli(say);
  mkdirSync(config.dataDir, { recursive: true });
  const dbFilename = path.resolve(config.dataDir, 'temporal.db');
  say(`starting the Temporal dev server (database ${dbFilename})...`);
  // The SDK starts the server with this process's environment: for that moment, without OTEL_* (see withoutOtelVariables).
  const otel = Object.keys(process.env).filter((key) => !(key in withoutOtelVariables(process.env)));
  const saved = otel.map((key) => [key, process.env[key]] as const);
  for (const key of otel) delete process.env[key];
  try {
    return await startDevServerProcess(config, cli, dbFilename);
  } finally {
    for (const [key, value] of saved) process.env[key] = value;
  }
}

function startDevServerProcess(config: Config, cli: string | null, dbFilename: string): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      ...(cli ? { executable: { type: 'existing-path' as const, path: cli } } : {}),
      ip: '127.0.0.1',
      port: config.temporal.devServerPort,
      ui: true,
      uiPort: config.temporal.uiPort,
      namespace: config.temporal.namespace,
      dbFilename,
      searchAttributes: ALL_ORDER_SEARCH_ATTRIBUTES,
      log: { format: 'pretty', level: 'error' },
      extraArgs: ['--ui-codec-endpoint', devCodecUrl(config), ...DEV_SERVER_SQLITE_PRAGMAS.flatMap((pragma) => ['--sqlite-pragma', pragma])],
    },
  });
}

/** The codec endpoint the local Web UI is given; it calls `<endpoint>/decode` and `<endpoint>/encode`. */
export function devCodecUrl(config: Config): string {
  return `http://127.0.0.1:${config.devCodecPort}/codec`;
}

/**
 * The sandbox and the API in this process, against a Temporal server that runs elsewhere, on the
 * configured ports, with payloads encrypted under `keys`. The shared core of `npm start`, chaos and bench.
 */
export async function serveApiAndSandbox(
  config: Config,
  keys: readonly EncryptionKey[],
  sandboxOptions: Partial<SandboxOptions> = {},
  { logger = createLogger({ level: 'silent' }), tracing = null }: StackObservability = {},
) {
  const codec = new EncryptionCodec(keys);
  const connection = await Connection.connect(temporalConnectionOptions(config));
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: { payloadCodecs: [codec] },
    plugins: tracing ? [tracing.plugin] : [],
  });
  const sandbox = createSandbox({
    providers: config.paymentProviders,
    webhookBaseUrl: config.webhookBaseUrl,
    paymentWindowMs: config.saga.paymentWindowMs,
    logger: logger.child({ component: 'sandbox' }),
    ...sandboxOptions,
  });
  const sandboxServer = createHardenedServer(sandbox.app);
  await listen(sandboxServer, config.sandboxPort);
  const apiServer = createHardenedServer(createApp({ client, config, codec, logger: logger.child({ component: 'api' }) }));
  await listen(apiServer, config.apiPort);
  return {
    codec,
    connection,
    client,
    sandbox,
    apiUrl: `http://127.0.0.1:${config.apiPort}`,
    sandboxUrl: config.sandboxUrl,
    async close(): Promise<void> {
      sandbox.close();
      for (const server of [apiServer, sandboxServer]) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
      await connection.close();
    },
  };
}

/**
 * The whole local stack in this process: dev server (unless TEMPORAL_ADDRESS), sandbox, API and worker,
 * on the configured ports. `stop()` takes them down in order.
 */
export async function startLocalStack(config: Config, say: (line: string) => void = () => {}, observability: StackObservability = {}) {
  const keys = encryptionKeys(config);
  say(`payloads are encrypted (AES-256-GCM) with the ${keys.source}`);
  const devServer = await startDevServer(config, say);
  const served = await serveApiAndSandbox(config, keys.keys, {}, observability);
  if (devServer) {
    const added = await ensureOrderSearchAttributes(served.connection, config.temporal.namespace);
    if (added.length) say(`registered search attributes ${added.join(', ')} on the existing database`);
  }
  // The local Web UI's codec endpoint: loopback only and without a token, like the dev server itself.
  const devCodec = express().use(codecRouter({ codec: served.codec, corsOrigins: config.codecCorsOrigins, auth: null }));
  const devCodecServer = http.createServer(devCodec);
  await listen(devCodecServer, config.devCodecPort);

  say('bundling the workflow code and starting the worker...');
  const address = temporalAddress(config);
  const nativeConnection = await NativeConnection.connect(temporalConnectionOptions(config));
  const worker = await createOrderWorker({
    connection: nativeConnection,
    namespace: config.temporal.namespace,
    activities: createActivities(activityEndpoints(config)),
    dataConverter: { payloadCodecs: [served.codec] },
    plugins: observability.tracing ? [observability.tracing.plugin] : [],
  });
  const workerRun = worker.run();

  const health = await fetch(`${served.apiUrl}/healthz`);
  if (!health.ok) throw new Error(`the API answered ${health.status} on /healthz`);

  let stopped: Promise<void> | null = null;
  return {
    address,
    devServer,
    client: served.client,
    apiUrl: served.apiUrl,
    devCodecUrl: devCodecUrl(config),
    /** Settles when the worker stops; rejects if it fails. */
    workerRun,
    stop(): Promise<void> {
      stopped ??= (async () => {
        worker.shutdown();
        await workerRun.catch(() => undefined);
        devCodecServer.closeAllConnections();
        await new Promise((resolve) => devCodecServer.close(resolve));
        await served.close();
        await nativeConnection.close();
        await devServer?.teardown();
      })();
      return stopped;
    },
  };
}
