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
  const connection = await NativeConnection.connect({ address: temporalAddress(config) });
  try {
    const worker = await createOrderWorker({
      connection,
      namespace: config.temporal.namespace,
      activities: createActivities(activityEndpoints(config)),
      dataConverter: encryptedDataConverter(encryptionKeys(config).keys),
    });
    console.log(`worker polling task queue on ${temporalAddress(config)} (namespace ${config.temporal.namespace})`);
    await worker.run();
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error('worker failed:', err instanceof Error ? err.message : err);
  process.exit(1);
});
