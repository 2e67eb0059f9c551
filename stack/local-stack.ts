import { mkdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import express from 'express';
import { codecRouter } from '../api/codec-routes';
import type { EncryptionKey } from '../codec';
import { encryptionKeys, loadConfig, temporalAddress, temporalConnectionOptions, type Config } from '../config';
import { createLogger, type PinoLogger } from '../observability/logger';
import type { Tracing } from '../observability/tracing';
import type { SandboxOptions } from '../sandbox/server';
import { DevServerProcess } from './dev-server-process';
import { closeServer, connectClient, freePort, listen, orderWorker, serveApi, serveSandbox } from './parts';
import { ensureOrderSearchAttributes } from './search-attributes';
import { ensureRetention, retentionDays } from './retention';
import { describeStore } from '../store/dialects';
import { OrderStore } from '../store/order-store';
import { ensureTemporalCli } from './temporal-cli';

/** How a stack's processes log and trace; silent and untraced unless given. */
export interface StackObservability {
  logger?: PinoLogger;
  tracing?: Tracing | null;
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
  const store = await OrderStore.open(config.orderStoreUrl);
  const api = await serveApi(config, temporal, store, logger);
  return {
    ...temporal,
    sandbox,
    apiUrl: api.apiUrl,
    sandboxUrl: config.sandboxUrl,
    async close(): Promise<void> {
      await api.close();
      await store.close();
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
    const { namespace, retentionDays: days } = config.temporal;
    if (devServer) {
      const added = await ensureOrderSearchAttributes(temporal.connection, namespace);
      if (added.length) say(`registered search attributes ${added.join(', ')} on the existing database`);
      const had = await ensureRetention(temporal.connection, namespace, days);
      if (had !== days) say(`retention of namespace ${namespace} set to ${days} days (it was ${had ?? 'unset'})`);
    }
    const kept = await retentionDays(temporal.connection, namespace);
    say(
      `Temporal keeps a closed order ${kept ?? 'an unknown number of'} days (TEMPORAL_RETENTION_DAYS); ` +
        `the store of record keeps it for good (${describeStore(config.orderStoreUrl)})`,
    );
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
    const store = await OrderStore.open(config.orderStoreUrl);
    started.push(() => store.close());
    const worker = await orderWorker(config, nativeConnection, temporal.codec, store, { tracing });
    const workerRun = worker.run();
    started.push(() => {
      worker.shutdown();
      return workerRun;
    });

    const api = await serveApi(config, temporal, store, logger);
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
