import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { latePaymentRefundWorkflowId, orderWorkflowId } from '../../domain/contract';
import type { OrderRequest } from '../../domain/order-request';
import type { OrderView } from '../../domain/order-state';
import { reminderSchedule } from '../../domain/payment-reminders';
import { eventually, makeOrder, installTestRuntime, startStack, type TestStack } from '../helpers/stack';
import { writeWorkflowBundle } from '../../worker/worker';
import { startEphemeralServer } from '../../stack/ephemeral-server';
import { HISTORIES_DIR } from '../../scripts/histories';

/**
 * `npm run histories:capture`: runs every saga path for real (a fresh dev server, the worker, the
 * sandbox, orders placed through the API) and writes each history to test/histories/<path>.json, which
 * the replay suite then replays against every change to the workflow code. Payloads are left plaintext:
 * the orders are test data, and the files are meant to be read.
 */
const say = (line: string) => console.log(`[capture] ${line}`);

type Scenario = (stack: TestStack, orderId: string) => Promise<{ name: string; handle: WorkflowHandle }[]>;

async function api(stack: TestStack, method: 'POST' | 'GET', route: string, body?: unknown, token = 'dev-checkout') {
  const response = await fetch(`${stack.apiUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as OrderView };
}

/** Places an order through the API and waits until its workflow has closed. */
async function placeAndFinish(stack: TestStack, order: OrderRequest): Promise<WorkflowHandle> {
  await api(stack, 'POST', '/orders', order);
  const handle = stack.client.workflow.getHandle(orderWorkflowId(order.orderId));
  await handle.result();
  return handle;
}

const orderWith = (orderId: string, token: string, overrides: Partial<OrderRequest> = {}) =>
  makeOrder({
    orderId,
    customer: { id: 'c-history', email: 'ada@example.com' },
    payment: { method: 'card', token },
    ...overrides,
  });
const single = (name: string, handle: WorkflowHandle) => [{ name, handle }];
const statusIs = (stack: TestStack, orderId: string, status: string) =>
  eventually(
    () => api(stack, 'GET', `/orders/${orderId}`),
    (res) => res.body.status === status,
    30_000,
  );
/** Turns a sandbox route's fault switch on (with `fault`) or off, around `run`. */
async function withRouteFault<T>(
  stack: TestStack,
  route: string,
  fault: object,
  run: (faultOn: () => Promise<void>) => Promise<T>,
): Promise<T> {
  const faultSwitch = `/_sandbox/faults/${route}`;
  const faultOn = async () => void (await stack.callSandbox(faultSwitch, 'PUT', fault));
  try {
    return await run(faultOn);
  } finally {
    await stack.callSandbox(faultSwitch, 'DELETE');
  }
}

/** Every saga path, by the file name its history gets. */
const SCENARIOS: Record<string, Scenario> = {
  happy: async (stack, id) => single('happy', await placeAndFinish(stack, orderWith(id, 'tok_ok'))),
  declined: async (stack, id) => single('declined', await placeAndFinish(stack, orderWith(id, 'tok_decline'))),
  'window-expiry-reconciled': async (stack, id) =>
    single('window-expiry-reconciled', await placeAndFinish(stack, orderWith(id, 'tok_silent'))),
  'window-expiry-voided': async (stack, id) =>
    single('window-expiry-voided', await placeAndFinish(stack, orderWith(id, 'tok_lost'))),
  'duplicate-callbacks': async (stack, id) =>
    single('duplicate-callbacks', await placeAndFinish(stack, orderWith(id, 'tok_duplicate'))),
  failover: async (stack, id) => {
    await stack.outage('primary', true);
    try {
      return single('failover', await placeAndFinish(stack, orderWith(id, 'tok_ok')));
    } finally {
      await stack.outage('primary', false);
    }
  },
  'customer-cancel': async (stack, id) => {
    await api(stack, 'POST', '/orders', orderWith(id, 'tok_lost'));
    await api(stack, 'POST', `/orders/${id}/cancel`, { reason: 'changed my mind' });
    const handle = stack.client.workflow.getHandle(orderWorkflowId(id));
    await handle.result();
    return single('customer-cancel', handle);
  },
  'compensation-failure-operator-retry': async (stack, id) => {
    await stack.outage('refunds', true);
    await api(stack, 'POST', '/orders', orderWith(id, 'tok_lost'));
    await statusIs(stack, id, 'REQUIRES_ATTENTION');
    await stack.outage('refunds', false);
    await api(stack, 'POST', `/orders/${id}/actions/retry-compensation`, { note: 'refunds are back' }, 'dev-support');
    const handle = stack.client.workflow.getHandle(orderWorkflowId(id));
    await handle.result();
    return single('compensation-failure-operator-retry', handle);
  },
  'fulfillment-cancelled': async (stack, id) =>
    withRouteFault(stack, 'fulfillment', { kind: 'status', status: 503 }, async (faultOn) => {
      await faultOn();
      return single('fulfillment-cancelled', await placeAndFinish(stack, orderWith(id, 'tok_ok')));
    }),
  'unexpected-answer-operator-retry': async (stack, id) => {
    await withRouteFault(stack, 'reserve', { kind: 'status', status: 400 }, async (faultOn) => {
      await faultOn();
      await api(stack, 'POST', '/orders', orderWith(id, 'tok_ok'));
      await statusIs(stack, id, 'REQUIRES_ATTENTION');
    });
    await api(
      stack,
      'POST',
      `/orders/${id}/actions/retry-compensation`,
      { note: 'inventory fixed its contract' },
      'dev-support',
    );
    const handle = stack.client.workflow.getHandle(orderWorkflowId(id));
    await handle.result();
    return single('unexpected-answer-operator-retry', handle);
  },
  'reconciled-not-found': async (stack, id) =>
    withRouteFault(
      stack,
      'get-payment',
      { kind: 'status', status: 404, code: 'PAYMENT_NOT_FOUND' },
      async (faultOn) => {
        await api(stack, 'POST', '/orders', orderWith(id, 'tok_lost'));
        await faultOn();
        const handle = stack.client.workflow.getHandle(orderWorkflowId(id));
        await handle.result();
        return single('reconciled-not-found', handle);
      },
    ),
  'late-payment-after-cancel': async (stack, id) => {
    const order = await placeAndFinish(stack, orderWith(id, 'tok_late'));
    const paymentId = (await api(stack, 'GET', `/orders/${id}`)).body.payment!.paymentId;
    const refund = stack.client.workflow.getHandle(latePaymentRefundWorkflowId({ provider: 'primary', paymentId }));
    await eventually(
      () =>
        refund.describe().then(
          () => true,
          () => false,
        ),
      (started) => started,
      30_000,
    );
    await refund.result();
    return [
      { name: 'late-payment-after-cancel', handle: order },
      { name: 'late-payment-refund', handle: refund },
    ];
  },
  rejected: async (stack, id) =>
    single(
      'rejected',
      await placeAndFinish(
        stack,
        orderWith(id, 'tok_ok', { items: [{ sku: 'SKU-NOPE', quantity: 1, unitPrice: 100 }] }),
      ),
    ),
};

/** Paths of an order whose checkout registered a webhook endpoint: run on a stack that has one. */
const WEBHOOK_SCENARIOS: Record<string, Scenario> = {
  'webhooks-confirmed': async (stack, id) =>
    single('webhooks-confirmed', await placeAndFinish(stack, orderWith(id, 'tok_ok'))),
  // The endpoint refuses past the flag's delay, then takes everything: the flag goes up, then down.
  'webhooks-endpoint-down': async (stack, id) => {
    await stack.refuseConnections('checkout', true);
    try {
      await api(stack, 'POST', '/orders', orderWith(id, 'tok_ok'));
      await new Promise((resolve) => setTimeout(resolve, 3_000));
    } finally {
      await stack.refuseConnections('checkout', false);
    }
    const handle = stack.client.workflow.getHandle(orderWorkflowId(id));
    await handle.result();
    return single('webhooks-endpoint-down', handle);
  },
};

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  installTestRuntime();
  say('starting a fresh dev server and bundling the workflow code...');
  const env = await startEphemeralServer(say);
  const bundleDir = path.join(os.tmpdir(), `order-saga-capture-${process.pid}`);
  mkdirSync(bundleDir, { recursive: true });
  const bundlePath = path.join(bundleDir, 'workflows.js');
  await writeWorkflowBundle(bundlePath);
  const settings = {
    temporalAddress: env.address,
    workflowBundlePath: bundlePath,
    encryptPayloads: false,
    paymentWindowMs: 3_000,
    // As production does by default: an order left at its link is reminded at half its window.
    paymentReminders: reminderSchedule(['50%'], 3_000),
    compensationGiveUpMs: 2_000,
  };
  const stack = await startStack(settings);
  const webhookStack = await startStack({ ...settings, orderWebhooks: { flagAfterMs: 1_000 } });
  mkdirSync(HISTORIES_DIR, { recursive: true });
  try {
    for (const [on, scenarios] of [
      [stack, SCENARIOS],
      [webhookStack, WEBHOOK_SCENARIOS],
    ] as const) {
      for (const [scenario, run] of Object.entries(scenarios)) {
        if (only.length && !only.includes(scenario)) continue;
        for (const { name, handle } of await run(on, `H-${scenario}`)) {
          const history = await handle.fetchHistory();
          const file = path.join(HISTORIES_DIR, `${name}.json`);
          writeFileSync(file, `${JSON.stringify(JSON.parse(historyToJSON(history)), null, 2)}\n`);
          say(`${name}: ${history.events?.length ?? 0} events -> ${path.relative(process.cwd(), file)}`);
        }
      }
    }
  } finally {
    await stack.stop();
    await webhookStack.stop();
    await env.teardown();
    rmSync(bundleDir, { recursive: true, force: true });
  }
  say(
    `${readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json')).length} histories in ${path.relative(process.cwd(), HISTORIES_DIR)}`,
  );
}

main().catch((err: unknown) => {
  console.error('[capture] failed:', err instanceof Error ? err.stack : err);
  process.exit(1);
});
