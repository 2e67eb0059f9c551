import { writeFileSync } from 'node:fs';
import type { DataConverter } from '@temporalio/common';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityEndpoints, type OrderActivities } from '../activities';
import { createHttpClient } from '../activities/http';
import { ORDER_TASK_QUEUE } from '../domain/contract';
import type { Config } from '../config';
import { TRACING_WORKFLOW_INTERCEPTORS } from '../observability/tracing';
import { businessMetricsSinks } from '../observability/worker-runtime';

/** The workflows' entry file (`index.ts`, or `index.js` once compiled), bundled when no prebuilt bundle is given. */
export const WORKFLOWS_PATH = require.resolve('../workflows');

/**
 * Bundles the workflows once into `file`; workers given it (`WORKFLOW_BUNDLE`) start without bundling.
 * `traced`: with OpenTelemetry's workflow interceptors inside, for workers that run with tracing on.
 */
export async function writeWorkflowBundle(file: string, { traced = false } = {}): Promise<void> {
  const interceptors = traced ? { workflowInterceptorModules: [TRACING_WORKFLOW_INTERCEPTORS] } : {};
  writeFileSync(
    file,
    (await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, ...interceptors, logger: new DefaultLogger('WARN') }))
      .code,
  );
}

/** Where `npm run build` puts the traced twin of a bundle: `workflows.js` → `workflows.traced.js`. */
export function tracedBundlePath(bundle: string): string {
  return bundle.replace(/\.js$/, '.traced.js');
}

/** The saga's activities as configured: where each system is, and how long to wait for its answer. */
export function configuredActivities(config: Config): OrderActivities {
  return createActivities(activityEndpoints(config), createHttpClient(config.httpTimeoutMs));
}

/** Where the activities reach the external systems, from configuration. */
function activityEndpoints(config: Config): ActivityEndpoints {
  return {
    catalogUrl: config.sandboxUrl,
    inventoryUrl: config.sandboxUrl,
    fulfillmentUrl: config.sandboxUrl,
    notificationsUrl: config.sandboxUrl,
    paymentProviders: config.paymentProviders,
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
  /** SDK plugins: tracing's (observability/tracing.ts) when it is on. */
  plugins?: WorkerOptions['plugins'];
}

/** A worker for the order saga: its workflows and every activity, on the orders task queue. */
export function createOrderWorker(options: OrderWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue ?? ORDER_TASK_QUEUE,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    activities: options.activities,
    sinks: businessMetricsSinks(),
    dataConverter: options.dataConverter,
    plugins: options.plugins,
  });
}
