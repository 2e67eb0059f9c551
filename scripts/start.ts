import { mkdirSync } from 'node:fs';
import http, { type Server } from 'node:http';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createActivities } from '../activities';
import { createApp } from '../api/server';
import { DEV_API_KEYS, loadConfig, temporalAddress, type Config } from '../config';
import { ALL_ORDER_SEARCH_ATTRIBUTES } from '../domain/search-attributes';
import { createSandbox } from '../sandbox/server';
import { activityEndpoints, createOrderWorker } from '../worker/worker';
import { ensureTemporalCli } from './provision-temporal-cli';
import { ensureOrderSearchAttributes } from './search-attributes';

const say = (line: string) => console.log(`[start] ${line}`);

/** The dev server: the provisioned CLI with SQLite under DATA_DIR and the Web UI, or nothing when TEMPORAL_ADDRESS is set. */
async function startTemporal(config: Config): Promise<TestWorkflowEnvironment | null> {
  if (config.temporal.address) {
    say(`using the Temporal server at ${config.temporal.address} (TEMPORAL_ADDRESS is set: no dev server started)`);
    return null;
  }
  const cli = ensureTemporalCli((line) => say(line));
  mkdirSync(config.dataDir, { recursive: true });
  const dbFilename = path.resolve(config.dataDir, 'temporal.db');
  say(`starting the Temporal dev server (database ${dbFilename})...`);
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
    },
  });
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
}

/** `npm start`: the whole local stack in one foreground process tree (API.md §1). */
async function main(): Promise<void> {
  const config = loadConfig();
  // Installed before anything touches Temporal: the worker's metrics endpoint, and our own signal handling
  // so that Ctrl-C stops the parts in order instead of the SDK stopping only the worker.
  Runtime.install({
    logger: new DefaultLogger('WARN'),
    shutdownSignals: [],
    telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${config.workerMetricsPort}` } } },
  });

  const devServer = await startTemporal(config);
  const address = temporalAddress(config);
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  if (devServer) {
    const added = await ensureOrderSearchAttributes(connection, config.temporal.namespace);
    if (added.length) say(`registered search attributes ${added.join(', ')} on the existing database`);
  }

  const sandbox = createSandbox({
    providers: config.paymentProviders,
    webhookBaseUrl: config.webhookBaseUrl,
    paymentWindowMs: config.saga.paymentWindowMs,
  });
  const sandboxServer = http.createServer(sandbox.app);
  await listen(sandboxServer, config.sandboxPort);
  const apiServer = http.createServer(createApp({ client, config }));
  await listen(apiServer, config.apiPort);

  say('bundling the workflow code and starting the worker...');
  const nativeConnection = await NativeConnection.connect({ address });
  const worker = await createOrderWorker({
    connection: nativeConnection,
    namespace: config.temporal.namespace,
    activities: createActivities(activityEndpoints(config)),
  });
  const workerRun = worker.run();

  const health = await fetch(`http://127.0.0.1:${config.apiPort}/healthz`);
  if (!health.ok) throw new Error(`the API answered ${health.status} on /healthz`);

  say(`Temporal      ${address} (namespace ${config.temporal.namespace})`);
  if (devServer) say(`Web UI        http://127.0.0.1:${config.temporal.uiPort}`);
  say(`Orders API    http://127.0.0.1:${config.apiPort}`);
  say(`Sandbox       ${config.sandboxUrl}   (ledger: ${config.sandboxUrl}/_sandbox/ledger)`);
  say(`Worker        metrics on http://127.0.0.1:${config.workerMetricsPort}/metrics`);
  if (config.usingDevApiKeys) {
    for (const [token, key] of Object.entries(DEV_API_KEYS)) say(`dev token     ${token}  (${key.name}: ${key.scopes.join(', ')})`);
  }
  say('ready: press Ctrl-C to stop');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping the worker, the API, the sandbox and the dev server...`);
    worker.shutdown();
    await workerRun;
    sandbox.close();
    for (const server of [apiServer, sandboxServer]) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    await nativeConnection.close();
    await connection.close();
    await devServer?.teardown();
    say('stopped');
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  await workerRun.catch(async (err: unknown) => {
    if (!stopping) {
      console.error('[start] the worker failed:', err instanceof Error ? err.message : err);
      await stop('worker failure');
      process.exitCode = 1;
    }
  });
}

main().catch((err: unknown) => {
  console.error('[start] failed:', err instanceof Error ? err.message : err);
  process.exit(1);
});
