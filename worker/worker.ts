import { writeFileSync } from 'node:fs';
import type { DataConverter } from '@temporalio/common';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type WorkerOptions,
} from '@temporalio/worker';
import { createActivities, type ActivityEndpoints, type OrderActivities } from '../activities';
import { createHttpClient } from '../activities/http';
import { ORDER_TASK_QUEUE, webhookTaskQueue } from '../domain/contract';
import type { Config } from '../config';
import type { OrderStore } from '../store/order-store';
import { TRACING_WORKFLOW_INTERCEPTORS, type Tracing } from '../observability/tracing';
import { businessMetricsSinks } from '../observability/worker-runtime';

/** The workflows' entry file (`index.ts`, or `index.js` once compiled), bundled when no prebuilt bundle is given. */
export const WORKFLOWS_PATH = require.resolve('../workflows');

/**
 * The workflows bundled in memory. `traced`: with OpenTelemetry's workflow interceptors inside, for workers
 * that run with tracing on. Webpack's report (a whole build log per bundle) stays out of the logs; its
 * errors do not.
 */
async function bundleWorkflows({ traced = false } = {}): Promise<{ code: string }> {
  const interceptors = traced ? { workflowInterceptorModules: [TRACING_WORKFLOW_INTERCEPTORS] } : {};
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    ...interceptors,
    logger: new DefaultLogger('WARN'),
  });
  return { code };
}

/** Bundles the workflows once into `file`; workers given it (`WORKFLOW_BUNDLE`) start without bundling. */
export async function writeWorkflowBundle(file: string, { traced = false } = {}): Promise<void> {
  writeFileSync(file, (await bundleWorkflows({ traced })).code);
}

/** Where `npm run build` puts the traced twin of a bundle: `workflows.js` → `workflows.traced.js`. */
export function tracedBundlePath(bundle: string): string {
  return bundle.replace(/\.js$/, '.traced.js');
}

/** The saga's activities as configured: where each system is, how long to wait for its answer, the store. */
export function configuredActivities(config: Config, store: OrderStore): OrderActivities {
  return createActivities(activityEndpoints(config), store, createHttpClient(config.httpTimeoutMs));
}

/** Where the activities reach the external systems, from configuration. */
export function activityEndpoints(config: Config): ActivityEndpoints {
  return {
    ...config.systems,
    paymentProviders: config.paymentProviders,
    orderWebhooks: config.orderWebhooks,
  };
}

export interface OrderWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  /** The saga's activities, built by {@link createActivities} from the endpoints. */
  activities: OrderActivities;
  /** How payloads are encoded: the stack's encrypted converter (codec/); plaintext only for recorded test histories. */
  dataConverter: DataConverter | undefined;
  /** A prebuilt bundle (`bundleWorkflowCode`), so tests and production do not bundle on every start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  taskQueue?: string;
  /** Tracing (observability/tracing.ts) when it is on: its plugin, and its interceptors in the bundle made at start. */
  tracing?: Tracing | null;
  /** Whether the activities know order webhook endpoints (`ORDER_WEBHOOKS`): then their deliveries are served too. */
  deliversWebhooks?: boolean;
}

/** The order worker: one SDK worker per task queue it serves, run and stopped together. */
export interface OrderWorker {
  /** Resolves once every queue's worker has stopped; a worker that fails stops the others, then rejects. */
  run(): Promise<void>;
  shutdown(): void;
}

/**
 * A worker for the order saga: its workflows and every activity on the orders task queue, and, with
 * webhook endpoints, the deliveries on their own queue (`webhookTaskQueue`), with slots of their own.
 */
export async function createOrderWorker(options: OrderWorkerOptions): Promise<OrderWorker> {
  const tracing = options.tracing ?? null;
  const taskQueue = options.taskQueue ?? ORDER_TASK_QUEUE;
  const common = {
    connection: options.connection,
    namespace: options.namespace,
    dataConverter: options.dataConverter,
    plugins: tracing ? [tracing.plugin] : [],
  };
  const workers = [
    await Worker.create({
      ...common,
      taskQueue,
      workflowBundle: options.workflowBundle ?? (await bundledAtStart(tracing !== null)),
      activities: options.activities,
      sinks: businessMetricsSinks(),
    }),
  ];
  if (options.deliversWebhooks) {
    const { deliverStatusEvent } = options.activities;
    workers.push(
      await Worker.create({ ...common, taskQueue: webhookTaskQueue(taskQueue), activities: { deliverStatusEvent } }),
    );
  }
  const shutdown = () => {
    for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
  };
  return {
    async run() {
      const runs = workers.map((worker) => worker.run());
      try {
        await Promise.all(runs);
      } catch (err) {
        shutdown();
        await Promise.allSettled(runs);
        throw err;
      }
    },
    shutdown,
  };
}

/** Bundles the workflows for a worker given no prebuilt bundle, and says so in one line. */
async function bundledAtStart(traced: boolean): Promise<{ code: string }> {
  const started = Date.now();
  const bundle = await bundleWorkflows({ traced });
  Runtime.instance().logger.info('workflow bundle built', {
    sizeKb: Math.round(bundle.code.length / 1024),
    ms: Date.now() - started,
    traced,
  });
  return bundle;
}
