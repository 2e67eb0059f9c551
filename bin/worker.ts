import { existsSync } from 'node:fs';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import { EncryptionCodec } from '../codec';
import { encryptionKeys, loadConfigOrExit, temporalAddress, temporalConnectionOptions, type Config } from '../config';
import { loggerFromConfig, type PinoLogger } from '../observability/logger';
import { startTracing } from '../observability/tracing';
import { installWorkerRuntime } from '../observability/worker-runtime';
import { orderWorker } from '../stack/parts';
import { OrderStore } from '../store/order-store';
import { tracedBundlePath } from '../worker/worker';

/**
 * Worker entry point. The SDK's runtime turns SIGINT/SIGTERM into a graceful shutdown: no new tasks are
 * polled, activities in flight finish, then `run()` resolves and the connection closes.
 */
async function main(config: Config, logger: PinoLogger): Promise<void> {
  installWorkerRuntime({ logger, metrics: { host: config.workerMetricsHost, port: config.workerMetricsPort } });
  const tracing = await startTracing('order-worker');
  const connection = await connectPatiently(temporalConnectionOptions(config), logger);
  try {
    const bundle = prebuiltBundle(config.workflowBundle, tracing !== null);
    if (config.workflowBundle && !bundle.workflowBundle) {
      logger.warn(
        { bundle: config.workflowBundle, tracing: tracing !== null },
        'no such prebuilt bundle: bundling the workflows at start',
      );
    }
    const codec = new EncryptionCodec(encryptionKeys(config).keys);
    const store = await OrderStore.open(config.orderStoreUrl);
    const worker = await orderWorker(config, connection, codec, store, { tracing, ...bundle });
    logger.info(
      {
        address: temporalAddress(config),
        namespace: config.temporal.namespace,
        metrics: `http://${config.workerMetricsHost}:${config.workerMetricsPort}/metrics`,
        tracing: tracing !== null,
      },
      'worker polling its task queue',
    );
    await worker.run();
    await store.close();
  } finally {
    try {
      await connection.close();
    } finally {
      await tracing?.shutdown();
    }
  }
}

/**
 * The prebuilt bundle to load (`npm run build`), if any. Workflow spans need the tracing interceptors
 * inside the bundle: with tracing on, its traced twin, else the worker bundles the workflows itself.
 */
function prebuiltBundle(bundle: string | null, traced: boolean): { workflowBundle?: { codePath: string } } {
  if (!bundle) return {};
  const codePath = traced ? tracedBundlePath(bundle) : bundle;
  return existsSync(codePath) ? { workflowBundle: { codePath } } : {};
}

/** How long a starting worker waits for the server: a restart or a rolling deploy is not a reason to exit. */
const CONNECT_PATIENCE_MS = 60_000;

async function connectPatiently(
  options: NativeConnectionOptions & { address: string },
  logger: PinoLogger,
): Promise<NativeConnection> {
  const deadline = Date.now() + CONNECT_PATIENCE_MS;
  for (let wait = 250; ; wait = Math.min(wait * 2, 5_000)) {
    try {
      return await NativeConnection.connect(options);
    } catch (err) {
      if (Date.now() + wait > deadline) throw err;
      logger.warn({ address: options.address, retryInMs: wait }, 'Temporal does not answer yet');
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

const config = loadConfigOrExit('worker');
const logger = loggerFromConfig(config.log).child({ component: 'worker' });
main(config, logger).catch((err: unknown) => {
  logger.fatal({ err }, 'worker failed');
  process.exit(1);
});
