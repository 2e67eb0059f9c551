import { NativeConnection } from '@temporalio/worker';
import { createActivities } from '../activities';
import { encryptedDataConverter } from '../codec';
import { encryptionKeys, loadConfig, temporalAddress } from '../config';
import { activityEndpoints, createOrderWorker } from './worker';

/**
 * Worker entry point. The SDK's runtime turns SIGINT/SIGTERM into a graceful shutdown: no new tasks are
 * polled, activities in flight finish, then `run()` resolves and the connection closes.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const connection = await connectPatiently(temporalAddress(config));
  try {
    const worker = await createOrderWorker({
      connection,
      namespace: config.temporal.namespace,
      activities: createActivities(activityEndpoints(config)),
      dataConverter: encryptedDataConverter(encryptionKeys(config).keys),
      // A prebuilt bundle starts in a moment; without one the worker bundles workflows/ itself.
      ...(process.env.WORKFLOW_BUNDLE ? { workflowBundle: { codePath: process.env.WORKFLOW_BUNDLE } } : {}),
    });
    console.log(`worker polling task queue on ${temporalAddress(config)} (namespace ${config.temporal.namespace})`);
    await worker.run();
  } finally {
    await connection.close();
  }
}

/** How long a starting worker waits for the server: a restart or a rolling deploy is not a reason to exit. */
const CONNECT_PATIENCE_MS = 60_000;

async function connectPatiently(address: string): Promise<NativeConnection> {
  const deadline = Date.now() + CONNECT_PATIENCE_MS;
  for (let wait = 250; ; wait = Math.min(wait * 2, 5_000)) {
    try {
      return await NativeConnection.connect({ address });
    } catch (err) {
      if (Date.now() + wait > deadline) throw err;
      console.error(`worker: Temporal at ${address} does not answer yet; retrying in ${wait} ms`);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

main().catch((err: unknown) => {
  console.error('worker failed:', err instanceof Error ? err.message : err);
  process.exit(1);
});
