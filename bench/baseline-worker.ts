import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { baselineActivities } from './baseline-activities';
import { errorMessage } from '../domain/errors';

/** The baseline's worker (a child process of the bench, like the saga's). */
export const BASELINE_TASK_QUEUE = 'bench-baseline';

async function main(): Promise<void> {
  // Warnings and errors only: the bench's output is its table, not the worker's lifecycle or webpack's report.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  const worker = await Worker.create({
    connection,
    taskQueue: BASELINE_TASK_QUEUE,
    workflowsPath: require.resolve('./baseline-workflow'),
    activities: baselineActivities,
  });
  await worker.run();
  await connection.close();
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error('baseline worker failed:', errorMessage(err));
    process.exit(1);
  });
}
