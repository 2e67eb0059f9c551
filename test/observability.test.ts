import { metricSeries } from '../scripts/measure';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { signWebhook, SIGNATURE_HEADER } from '../payment-provider/signature';
import {
  getOrderQuery,
  latePaymentRefundWorkflowId,
  orderWorkflowId,
  retryCompensationSignal,
} from '../domain/contract';
import { BusinessMetrics } from '../domain/business-metrics';
import type { OrderRequest } from '../domain/order-request';
import { createLogger } from '../observability/logger';
import { startTracing, type Tracing } from '../observability/tracing';
import { TemporalPinoLogger } from '../observability/logger';
import { workerTelemetry } from '../observability/worker-runtime';
import { freePort } from '../stack/parts';
import {
  auth,
  eventually,
  installTestRuntime,
  LOST_PAYMENT,
  makeOrder,
  startStack,
  type TestStack,
} from './helpers/stack';

/** Every line the API, sandbox and worker log in this file, as written. */
const lines: string[] = [];
const capture = new Writable({
  write(chunk: Buffer, _encoding, done) {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  },
});
const logger = createLogger({ level: 'info', destination: capture });
const spans = new InMemorySpanExporter();

let stack: TestStack;
let tracing: Tracing;
let workerMetricsUrl: string;
const ok = makeOrder();
const duplicate = makeOrder({ payment: { method: 'card', token: 'tok_duplicate' } });
const declined = makeOrder({ payment: { method: 'card', token: 'tok_decline' } });
/** Placed while the primary provider is down: paid at the backup. */
const failedOver = makeOrder();
/** Never paid: the window expires, reconciliation finds it pending, and its void fails until refunds are back. */
const lost = makeOrder({ payment: LOST_PAYMENT });
/** A payment no provider knows, announced by a correctly signed webhook. */
const unknownPayment = 'pay_nobody_knows';

beforeAll(async () => {
  const port = await freePort();
  workerMetricsUrl = `http://127.0.0.1:${port}/metrics`;
  installTestRuntime({
    logger: new TemporalPinoLogger(logger.child({ component: 'worker' })),
    telemetryOptions: workerTelemetry({ host: '127.0.0.1', port }),
  });
  tracing = (await startTracing('order-saga-test', { spanProcessor: new SimpleSpanProcessor(spans) }))!;
  stack = await startStack({ observability: { logger, tracing } });

  for (const order of [ok, duplicate, declined]) {
    const response = await place(order);
    expect(response.status).toBe(201);
  }
  for (const order of [ok, duplicate, declined]) await finished(order);

  await stack.outage('primary', true);
  expect((await place(failedOver)).status).toBe(201);
  await finished(failedOver);
  await stack.outage('primary', false);

  await stack.outage('refunds', true);
  expect((await place(lost)).status).toBe(201);
  const handle = stack.client.workflow.getHandle(orderWorkflowId(lost.orderId));
  await eventually(
    () => handle.query(getOrderQuery),
    (view) => view.status === 'REQUIRES_ATTENTION',
    30_000,
  );
  await stack.outage('refunds', false);
  await handle.signal(retryCompensationSignal, { operator: 'grace', note: 'refunds are back' });
  await finished(lost);
  // A forged callback: refused, and counted as such.
  const forged = await fetch(`${stack.apiUrl}/webhooks/payments/primary`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      [SIGNATURE_HEADER]: signWebhook('not-the-secret', '{}', Math.floor(Date.now() / 1000)),
    },
    body: '{}',
  });
  expect(forged.status).toBe(401);
  // A correctly signed success for a payment the provider does not know: its refund has nothing to refund.
  const unknown = makeOrder();
  const body = JSON.stringify({
    id: 'evt_unknown',
    type: 'payment.succeeded',
    created: Math.floor(Date.now() / 1000),
    data: { paymentId: unknownPayment, orderId: unknown.orderId, amount: 100, currency: 'EUR', failureReason: null },
  });
  const signed = await fetch(`${stack.apiUrl}/webhooks/payments/primary`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      [SIGNATURE_HEADER]: signWebhook('whsec_dev_primary', body, Math.floor(Date.now() / 1000)),
    },
    body,
  });
  expect(signed.status).toBe(200);
  const refund = stack.client.workflow.getHandle(
    latePaymentRefundWorkflowId({ provider: 'primary', paymentId: unknownPayment }),
  );
  expect(await refund.result()).toEqual({ outcome: 'not-found', paymentId: unknownPayment });
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await tracing?.shutdown();
});

function finished(order: OrderRequest): Promise<unknown> {
  return stack.result(stack.client.workflow.getHandle(orderWorkflowId(order.orderId)));
}

function place(order: OrderRequest): Promise<Response> {
  return fetch(`${stack.apiUrl}/orders`, {
    method: 'POST',
    headers: { ...auth('dev-checkout'), 'content-type': 'application/json' },
    body: JSON.stringify(order),
  });
}

/** The values of the series named `name` whose labels include all of `labels`. */
function samples(text: string, name: string, labels: Record<string, string>): number[] {
  return metricSeries(text, name)
    .filter((series) => Object.entries(labels).every(([key, value]) => series.labels[key] === value))
    .map((series) => series.value);
}

/** The value of the one series named `name` whose labels include all of `labels`; undefined if none. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const found = samples(text, name, labels);
  if (found.length > 1)
    throw new Error(`${found.length} series of ${name} match ${JSON.stringify(labels)}: name more labels`);
  return found[0];
}

/** The sum of every series of `name` that carries `labels`. */
function sum(text: string, name: string, labels: Record<string, string>): number {
  return samples(text, name, labels).reduce((total, value) => total + value, 0);
}

test('the API counts requests by route and code, times them, and counts webhooks by outcome', async () => {
  const text = await (await fetch(`${stack.apiUrl}/metrics`)).text();
  expect(sample(text, 'orders_api_http_requests_total', { method: 'POST', route: '/orders', code: '201' })).toBe(5);
  expect(
    sample(text, 'orders_api_http_request_duration_seconds_count', { method: 'POST', route: '/orders', code: '201' }),
  ).toBe(5);
  // One callback for the paid order, one for the declined one, three deliveries of the duplicated one
  // (a copy that lands after its order has ended counts as a duplicate here); the failed-over order's came
  // from the backup.
  const primary = (outcome: string) => sample(text, 'orders_api_webhooks_total', { provider: 'primary', outcome }) ?? 0;
  expect(primary('accepted')).toBeGreaterThanOrEqual(3);
  expect(primary('accepted') + primary('duplicate')).toBe(5);
  expect(sample(text, 'orders_api_webhooks_total', { provider: 'backup', outcome: 'accepted' })).toBe(1);
  expect(sample(text, 'orders_api_webhooks_total', { provider: 'primary', outcome: 'refused_signature' })).toBe(1);
});

test("the worker's endpoint carries the SDK's metrics and the business metrics, with their labels", async () => {
  const text = await (await fetch(workerMetricsUrl)).text();
  // The business metrics carry the labels the SDK's own metrics do, in the same snake_case names.
  const queue = { task_queue: stack.taskQueue, workflow_type: 'orderWorkflow' };
  const sdkQueue = { task_queue: stack.taskQueue };
  expect(
    sample(text, `${BusinessMetrics.terminal.name}_total`, { ...queue, status: 'CONFIRMED', reason: 'none' }),
  ).toBe(3);
  expect(
    sample(text, `${BusinessMetrics.terminal.name}_total`, {
      ...queue,
      status: 'CANCELLED',
      reason: 'PAYMENT_DECLINED',
    }),
  ).toBe(1);
  expect(
    sample(text, `${BusinessMetrics.terminal.name}_total`, {
      ...queue,
      status: 'CANCELLED',
      reason: 'PAYMENT_TIMEOUT',
    }),
  ).toBe(1);
  expect(sample(text, `${BusinessMetrics.timeToTerminal.name}_count`, { ...queue, status: 'CONFIRMED' })).toBe(3);
  expect(
    sample(text, `${BusinessMetrics.timeToTerminal.name}_bucket`, { ...queue, status: 'CONFIRMED', le: '+Inf' }),
  ).toBe(3);
  // The timed-out order waited out its 3 s payment window before it ended: the times are real.
  expect(sample(text, `${BusinessMetrics.timeToTerminal.name}_count`, { ...queue, status: 'CANCELLED' })).toBe(2);
  // In seconds: at least the window, far less than its figure in milliseconds; the declined order ended well within 2.5 s.
  expect(
    sample(text, `${BusinessMetrics.timeToTerminal.name}_sum`, { ...queue, status: 'CANCELLED' }),
  ).toBeGreaterThanOrEqual(3);
  expect(sample(text, `${BusinessMetrics.timeToTerminal.name}_sum`, { ...queue, status: 'CANCELLED' })).toBeLessThan(
    60,
  );
  expect(
    sample(text, `${BusinessMetrics.timeToTerminal.name}_bucket`, { ...queue, status: 'CANCELLED', le: '2.5' }),
  ).toBe(1);
  // The two repeated deliveries: taken and dropped by the order, or (after it ended) by the API.
  const apiText = await (await fetch(`${stack.apiUrl}/metrics`)).text();
  const droppedByApi = sample(apiText, 'orders_api_webhooks_total', { provider: 'primary', outcome: 'duplicate' }) ?? 0;
  expect(
    (sample(text, `${BusinessMetrics.duplicateCallbacks.name}_total`, { ...queue, provider: 'primary' }) ?? 0) +
      droppedByApi,
  ).toBe(2);
  expect(sample(text, `${BusinessMetrics.failovers.name}_total`, { ...queue, provider: 'primary' })).toBe(1);
  expect(sample(text, `${BusinessMetrics.reconciliations.name}_total`, { ...queue, outcome: 'pending' })).toBe(1);
  expect(
    sample(text, `${BusinessMetrics.compensationFailures.name}_total`, { ...queue, step: 'settle payment at primary' }),
  ).toBe(1);
  expect(sample(text, 'temporal_workflow_completed_total', { ...sdkQueue, workflow_type: 'orderWorkflow' })).toBe(5);
  expect(
    sample(text, `${BusinessMetrics.lateRefunds.name}_total`, {
      ...sdkQueue,
      workflow_type: 'latePaymentRefundWorkflow',
      outcome: 'not-found',
    }),
  ).toBe(1);
  expect(
    sample(text, 'temporal_workflow_completed_total', { ...sdkQueue, workflow_type: 'latePaymentRefundWorkflow' }),
  ).toBe(1);
  // Each confirmed order's fulfillment call ran, locally in the worker, at least once: a workflow task the
  // server refuses (a repeated callback landing as the order completes) runs its local activities again,
  // and the call's idempotency key makes the second the same request (the sandbox's books, below).
  const fulfillment = { ...sdkQueue, activity_type: 'submitFulfillment' };
  expect(sample(text, 'temporal_local_activity_execution_latency_count', fulfillment)).toBeGreaterThanOrEqual(3);
  const { fulfillments } = stack.ledger.snapshot();
  expect([ok, duplicate, failedOver].filter(({ orderId }) => fulfillments[orderId])).toHaveLength(3);
  expect(Object.keys(fulfillments)).toHaveLength(3);
});

test("activities reach the worker eagerly, in the answer to the workflow task that scheduled them (the servers' dynamic config)", async () => {
  const text = await (await fetch(workerMetricsUrl)).text();
  const queue = { task_queue: stack.taskQueue };
  const run = sum(text, 'temporal_activity_execution_latency_count', queue);
  const eager = sum(text, 'temporal_activity_task_received_total', { ...queue, eager: 'true' });
  // The regular ones: this file's reconciliations and compensations (a step's first attempt runs locally).
  expect(run).toBeGreaterThanOrEqual(8);
  // Retries, and activities scheduled while the worker's slots were busy, still come from a poll.
  expect(eager).toBeGreaterThan(run / 2);
});

test('both endpoints name series and labels as Prometheus does: snake_case labels, `_total` on counters only', async () => {
  // What `promtool check metrics` (run on both endpoints by .ci/run) holds a scrape to, checked here too.
  for (const url of [`${stack.apiUrl}/metrics`, workerMetricsUrl]) {
    const text = await (await fetch(url)).text();
    const types = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => [name!, type!]));
    const misnamed = [...types]
      .filter(([name, type]) => (type === 'counter') !== name.endsWith('_total'))
      .map(([name, type]) => `${name} (${type})`);
    const labels = new Set(
      [...text.matchAll(/^[a-zA-Z_:][\w:]*\{([^}]*)\}/gm)].flatMap(([, inside]) =>
        [...inside!.matchAll(/(\w+)="/g)].map(([, label]) => label!),
      ),
    );
    expect({ url, misnamed, camelCaseLabels: [...labels].filter((label) => /[A-Z]/.test(label)) }).toEqual({
      url,
      misnamed: [],
      camelCaseLabels: [],
    });
  }
});

test('every series the Grafana dashboard queries is one the API or the worker exposes', async () => {
  const exposed = `${await (await fetch(`${stack.apiUrl}/metrics`)).text()}\n${await (await fetch(workerMetricsUrl)).text()}`;
  const dashboard = readFileSync(path.join(__dirname, '..', 'deploy', 'grafana', 'order-saga-dashboard.json'), 'utf8');
  const queried = new Set([...dashboard.matchAll(/\b(?:orders|temporal)_[a-z0-9_]+/g)].map(([name]) => name));
  expect(queried.size).toBeGreaterThan(10);
  const missing = [...queried].filter((name) => !new RegExp(`^${name}[{ ]`, 'm').test(exposed));
  expect(missing).toEqual([]);
});

test('every log line is JSON with the order ids where known, and none carries personal data or secrets', async () => {
  // Workflow lines go out through the SDK's sink after their activation: the refund's may trail its result.
  const nothingToRefund = (line: Record<string, unknown>) =>
    line.msg === 'late payment unknown to its provider: nothing to refund' && line.paymentId === unknownPayment;
  await eventually(
    () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    (all) => all.some(nothingToRefund),
  );
  const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  const about = (order: OrderRequest) => parsed.filter((line) => line.orderId === order.orderId);
  const workflowId = orderWorkflowId(ok.orderId);

  expect(about(ok)).toContainEqual(
    expect.objectContaining({ component: 'api', route: '/orders', status: 201, workflowId }),
  );
  expect(about(ok)).toContainEqual(expect.objectContaining({ component: 'sandbox', workflowId }));
  expect(about(ok)).toContainEqual(
    expect.objectContaining({
      component: 'worker',
      msg: 'order event',
      event: 'OrderConfirmed',
      workflowId,
      runId: expect.any(String),
    }),
  );
  expect(about(declined)).toContainEqual(
    expect.objectContaining({
      component: 'api',
      msg: 'payment webhook',
      outcome: 'accepted',
      workflowId: orderWorkflowId(declined.orderId),
    }),
  );

  // The refund with nothing to refund is logged once, by the workflow (replays add no line).
  expect(parsed.filter(nothingToRefund)).toHaveLength(1);

  const text = lines.join('\n');
  for (const secret of [ok.customer.email, ok.shippingAddress.line1, 'tok_ok', 'whsec_dev_primary', 'dev-checkout']) {
    expect(text).not.toContain(secret);
  }
});

test('one trace spans the API call, the workflow, its activities and the calls they make', () => {
  const finished = spans.getFinishedSpans();
  // The first order placed, and every span of its trace.
  const post = finished.find(
    (span) => span.name === 'POST /orders' && span.attributes['http.response.status_code'] === 201,
  );
  expect(post).toBeDefined();
  const names = finished
    .filter((span) => span.spanContext().traceId === post!.spanContext().traceId)
    .map((span) => span.name);
  expect(names).toEqual(
    expect.arrayContaining([
      'POST /orders',
      'UpdateWithStartWorkflow:awaitAcceptance',
      'RunWorkflow:orderWorkflow',
      // The steps up to the payment link, in one call (one activity), each system's call inside its span.
      'StartActivity:validateReserveAndRequestPayment',
      'RunActivity:validateReserveAndRequestPayment',
      'GET /catalog',
      'POST /inventory/reservations',
      'POST /providers/primary/payments',
      'RunActivity:submitFulfillment',
    ]),
  );
});
