import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { OrderActivities } from '../../activities';
import { orderStartOptions } from '../../api/start-order';
import { loadConfig } from '../../config';
import type { SagaSettings } from '../../domain/contract';
import type { OrderRequest } from '../../domain/order-request';
import { ALL_ORDER_SEARCH_ATTRIBUTES } from '../../domain/search-attributes';
import { ensureTimeSkippingServer } from '../../stack/time-skipping-server';
import { createOrderWorker, type OrderWorker } from '../../worker/worker';
import { installTestRuntime } from './stack';
import { testWorkflowBundlePath } from './test-env';

/** The saga's settings as production runs them: every default of config/index.ts, nothing shortened. */
export const PRODUCTION_SETTINGS: SagaSettings = loadConfig({}).saga;

/**
 * The SDK's time-skipping environment on the pinned test server (stack/time-skipping-server.ts), with the
 * order search attributes registered: it knows none until told, and does not list them.
 */
export async function startTimeSkipping(): Promise<TestWorkflowEnvironment> {
  installTestRuntime();
  const path = await ensureTimeSkippingServer(() => {});
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path } },
  });
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(
      ALL_ORDER_SEARCH_ATTRIBUTES.map((key) => [key.name, encodeSearchAttributeIndexedValueType(key.type)!]),
    ),
  });
  return env;
}

/**
 * The project's order worker (worker/worker.ts: the real workflow code of the run's bundle, its sinks, and
 * the webhooks' queue) on `activities`, the saga's direct collaborators, stood in for by the test: the
 * timers are what is under test, not the systems.
 */
export function timeSkippingWorker(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  activities: Partial<OrderActivities>,
): Promise<OrderWorker> {
  return createOrderWorker({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: { codePath: testWorkflowBundlePath() },
    activities: activities as OrderActivities,
    dataConverter: undefined,
    deliversWebhooks: true,
  });
}

/** Starts an order's workflow as the API does, with `settings`. */
export function startOrderIn(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  request: OrderRequest,
  settings: SagaSettings = PRODUCTION_SETTINGS,
) {
  const { workflowType, options } = orderStartOptions(request, settings, taskQueue);
  return env.client.workflow.start(workflowType, options);
}
