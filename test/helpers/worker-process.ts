/**
 * A test stack's worker as a process of its own, for the tests that crash a worker in the middle of a
 * workflow task: the stack's startWorkerProcess runs this file and SIGKILLs it. What it serves comes in
 * TEST_ENV.workerProcess; it writes WORKER_POLLING on stdout once it polls.
 */
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createActivities, type ActivityEndpoints } from '../../activities';
import { createHttpClient } from '../../activities/http';
import { EncryptionCodec } from '../../codec';
import { createOrderWorker } from '../../worker/worker';
import { OrderStore } from '../../store/order-store';
import { TEST_ENV, testEncryptionKeys, testTemporalAddress, testWorkflowBundlePath } from './test-env';

export interface WorkerProcessOptions {
  namespace: string;
  taskQueue: string;
  endpoints: ActivityEndpoints;
  /** The stack's store of record. */
  storeUrl: string;
  httpTimeoutMs?: number;
}

export const WORKER_POLLING = 'worker polling';

async function main(): Promise<void> {
  const options = JSON.parse(process.env[TEST_ENV.workerProcess]!) as WorkerProcessOptions;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const connection = await NativeConnection.connect({ address: testTemporalAddress() });
  const worker = await createOrderWorker({
    connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    workflowBundle: { codePath: testWorkflowBundlePath() },
    activities: createActivities(
      options.endpoints,
      await OrderStore.open(options.storeUrl),
      createHttpClient(options.httpTimeoutMs),
    ),
    dataConverter: { payloadCodecs: [new EncryptionCodec(testEncryptionKeys())] },
    deliversWebhooks: (options.endpoints.orderWebhooks?.length ?? 0) > 0,
  });
  const run = worker.run();
  process.stdout.write(`${WORKER_POLLING}\n`);
  await run;
}

if (process.env[TEST_ENV.workerProcess]) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
