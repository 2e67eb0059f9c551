import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { cancelOrderSignal } from '../domain/contract';
import { OrderSearchAttributes } from '../domain/search-attributes';
import type { ListOrdersQuery, OrdersClient } from '../client';
import {
  atPaymentLink,
  auth,
  callSummaries,
  eventually,
  LOST_PAYMENT,
  makeOrder,
  NAMESPACE,
  startStack,
  TEST_UI_ORIGIN,
  type TestStack,
} from './helpers/stack';
import { STORE_RECORD_SUMMARY } from '../workflows/store-record';
import { expectProblem } from './helpers/problems';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const PERSONAL = ['ada.lovelace@example.com', '12 Analytical Engine Row', 'Marylebone'];
const personalOrder = (overrides = {}) =>
  makeOrder({
    customer: { id: `c-${Date.now()}`, email: PERSONAL[0]! },
    shippingAddress: {
      name: 'Ada Lovelace',
      line1: PERSONAL[1]!,
      city: PERSONAL[2]!,
      postalCode: 'NW1',
      country: 'GB',
    },
    ...overrides,
  });

/** The history exactly as the server stores it, as bytes: what anyone with database access would see. */
async function rawHistory(
  handle: WorkflowHandle,
): Promise<{ bytes: Buffer; history: temporal.api.history.v1.IHistory }> {
  const response = await stack.client.workflowService.getWorkflowExecutionHistory({
    namespace: NAMESPACE,
    execution: { workflowId: handle.workflowId },
  });
  const history = response.history!;
  return { bytes: Buffer.from(temporal.api.history.v1.History.encode(history).finish()), history };
}

test('the raw history of a finished order holds no plaintext email or address', async () => {
  const handle = await stack.startOrder(personalOrder());
  expect((await stack.result(handle)).status).toBe('CONFIRMED');
  const { bytes } = await rawHistory(handle);
  for (const value of PERSONAL) expect(bytes.includes(value)).toBe(false);
  // The detector sees plaintext when it is there: the same values in an unencrypted payload are found.
  const unencrypted = Buffer.from(
    temporal.api.common.v1.Payload.encode(defaultPayloadConverter.toPayload({ email: PERSONAL[0] })).finish(),
  );
  expect(unencrypted.includes(PERSONAL[0]!)).toBe(true);
});

test('support reads a summary, details, the live step and a summary on each external call', async () => {
  const handle = await stack.startOrder(personalOrder({ payment: LOST_PAYMENT }));
  const description = await handle.describe();
  const summary = await description.staticSummary();
  expect(summary).toMatch(/^Order T-\S+ · customer c-\d+ · 39\.98 EUR$/);
  expect(await description.staticDetails()).toContain('| SKU-TEE | 2 | 19.99 EUR |');
  for (const value of PERSONAL) expect(`${summary}${await description.staticDetails()}`).not.toContain(value);

  const metadata = () => handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  const waiting = await eventually(metadata, (m) => m.currentDetails?.startsWith('Waiting for primary') ?? false);
  expect(waiting.currentDetails).toMatch(/^Waiting for primary's payment callback for pay_\w+ until \d{4}-/);

  await stack.result(handle);
  expect((await metadata()).currentDetails).toBe('Cancelled: PAYMENT_TIMEOUT (no payment within 3000 ms)');
  const { history } = await rawHistory(handle);
  // The calls to the order's systems; the writes to the store of record between them have their own tests.
  const systemCalls = (await callSummaries(stack, history.events ?? [])).filter((s) => s !== STORE_RECORD_SUMMARY);
  expect(systemCalls.slice(0, 4)).toEqual([
    'check 1 line(s) against the catalog, reserve stock at inventory and request payment of 39.98 EUR at primary',
    expect.stringMatching(/^reconcile pay_\w+ at primary$/),
    expect.stringMatching(/^refund or void pay_\w+ at primary$/),
    'release stock at inventory',
  ]);
  // The customer is told beside what follows: the provider the order never asked, settled in case a lost
  // workflow task made a payment there. Either may come first.
  expect(systemCalls.slice(4)).toEqual(
    expect.arrayContaining([
      'notify the customer (order-cancelled)',
      expect.stringMatching(
        /^refund or void the payment of order \S+ at backup \(in case a lost workflow task made one\)$/,
      ),
    ]),
  );
  expect(systemCalls).toHaveLength(6);
});

test('visibility finds orders by each search attribute', async () => {
  await stack.outage('primary', true);
  const failedOver = personalOrder();
  const failedOverRun = await stack.startOrder(failedOver);
  await stack.result(failedOverRun);
  await stack.outage('primary', false);
  const big = personalOrder({
    items: [{ sku: 'SKU-CAP', quantity: 7, unitPrice: 1500 }],
    payment: LOST_PAYMENT,
  });
  await stack.result(await stack.startOrder(big));

  const ids = async (query: string) => {
    const found: string[] = [];
    for await (const run of stack.client.workflow.list({ query })) found.push(run.workflowId);
    return found;
  };
  const within = `TaskQueue = '${stack.taskQueue}'`;
  const by = (clause: string) =>
    eventually(
      () => ids(`${within} AND ${clause}`),
      (found) => found.length > 0,
    );
  const { orderId, customerId, status, total, paymentProvider, needsAttention } = OrderSearchAttributes;
  expect(await by(`${orderId.name} = '${failedOver.orderId}'`)).toEqual([`order-${failedOver.orderId}`]);
  expect(await by(`${customerId.name} = '${big.customer.id}'`)).toEqual([`order-${big.orderId}`]);
  expect(await by(`${status.name} = 'CANCELLED' AND ${total.name} = 10500`)).toEqual([`order-${big.orderId}`]);
  expect(await by(`${total.name} > 10000 AND ${customerId.name} = '${big.customer.id}'`)).toEqual([
    `order-${big.orderId}`,
  ]);
  expect(await by(`${paymentProvider.name} = 'backup'`)).toEqual([`order-${failedOver.orderId}`]);
  expect(await ids(`${within} AND ${needsAttention.name} = true`)).toEqual([]);
  expect(await by(`${needsAttention.name} = false AND ${status.name} = 'CONFIRMED'`)).toContain(
    `order-${failedOver.orderId}`,
  );
});

test('an order whose workflow was terminated (the Web UI’s Terminate) shows it needs attention, and the filters find it', async () => {
  const customerId = `c-closed-${Date.now()}`;
  const terminated = personalOrder({
    customer: { id: customerId, email: PERSONAL[0]! },
    payment: LOST_PAYMENT,
  });
  const confirmed = personalOrder({ customer: { id: customerId, email: PERSONAL[0]! } });
  const handle = await stack.startOrder(terminated);
  await atPaymentLink(handle);
  await stack.result(await stack.startOrder(confirmed));
  await handle.terminate('stopped by hand in the Web UI');

  const support = stack.api('dev-support');
  const view = (await support.GET('/orders/{orderId}', { params: { path: { orderId: terminated.orderId } } })).data!;
  expect(view).toMatchObject({
    status: 'REQUIRES_ATTENTION',
    needsAttention: true,
    reason: { code: 'WORKFLOW_CLOSED' },
  });
  expect(view.reason!.message).toMatch(
    /^the order's workflow was terminated at \d{4}-.+ while the order was AWAITING_PAYMENT, so its compensations never ran/,
  );

  const listed = async (filter: ListOrdersQuery) => {
    const { data, response } = await support.GET('/orders', { params: { query: { customerId, ...filter } } });
    expect(response.status).toBe(200);
    return data!.orders.map(({ orderId, status, needsAttention }) => `${orderId} ${status} ${needsAttention}`);
  };
  // Visibility records the close a moment after the terminate: each filter is read until it shows it.
  const shows = async (filter: ListOrdersQuery, expected: string[]) =>
    expect(
      (
        await eventually(
          () => listed(filter),
          (found) => found.length === expected.length && expected.every((line) => found.includes(line)),
        )
      ).sort(),
    ).toEqual(expected.sort());
  await shows({}, [`${terminated.orderId} REQUIRES_ATTENTION true`, `${confirmed.orderId} CONFIRMED false`]);
  await shows({ needsAttention: 'true' }, [`${terminated.orderId} REQUIRES_ATTENTION true`]);
  await shows({ needsAttention: 'false' }, [`${confirmed.orderId} CONFIRMED false`]);
  await shows({ status: 'REQUIRES_ATTENTION' }, [`${terminated.orderId} REQUIRES_ATTENTION true`]);
  expect(await listed({ status: 'AWAITING_PAYMENT' })).toEqual([]);

  const retry = await support.POST('/orders/{orderId}/actions/retry-compensation', {
    params: { path: { orderId: terminated.orderId } },
    body: { note: 'try' },
  });
  expectProblem(retry, 409, 'Order workflow closed');
});

describe('codec endpoints', () => {
  const body = async () => {
    const [payload] = await stack.codec.encode([defaultPayloadConverter.toPayload({ email: PERSONAL[0] })]);
    const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
    return {
      payloads: [
        {
          metadata: Object.fromEntries(Object.entries(payload!.metadata!).map(([k, v]) => [k, b64(v)])),
          data: b64(payload!.data!),
        },
      ],
    };
  };

  const decode = async (client: OrdersClient, payloads: Awaited<ReturnType<typeof body>>) =>
    client.POST('/codec/decode', { body: payloads });

  test('decode gives support the plaintext, in the codec-server format', async () => {
    const { data, response } = await stack
      .api('dev-support')
      .POST('/codec/decode', { body: await body(), headers: { 'x-namespace': NAMESPACE } });
    expect(response.status).toBe(200);
    const [decoded] = data!.payloads;
    expect(JSON.parse(Buffer.from(decoded!.data!, 'base64').toString())).toEqual({ email: PERSONAL[0] });
    expect(Buffer.from(decoded!.metadata!.encoding!, 'base64').toString()).toBe('json/plain');
  });

  test('encode then decode round-trips', async () => {
    const support = stack.api('dev-support');
    const plain = {
      payloads: [
        {
          metadata: { encoding: Buffer.from('json/plain').toString('base64') },
          data: Buffer.from('"hi"').toString('base64'),
        },
      ],
    };
    const encoded = (await support.POST('/codec/encode', { body: plain })).data!;
    expect(Buffer.from(encoded.payloads[0]!.metadata!.encoding!, 'base64').toString()).toBe('binary/encrypted');
    expect((await support.POST('/codec/decode', { body: encoded })).data).toEqual(plain);
  });

  test('401 without a token, 403 without orders:operate, 400 for what cannot be decoded', async () => {
    expectProblem(await decode(stack.api(), await body()), 401);
    expectProblem(await decode(stack.api('dev-checkout'), await body()), 403);
    const tampered = await body();
    tampered.payloads[0]!.data = Buffer.from('not the ciphertext at all, far too short?').toString('base64');
    expectProblem(await decode(stack.api('dev-support'), tampered), 400);
  });

  test('CORS lets the Web UI origin in (preflight needs no token), and no other origin', async () => {
    const preflight = await request(stack.app)
      .options('/codec/decode')
      .set('origin', TEST_UI_ORIGIN)
      .set('access-control-request-method', 'POST')
      .set('access-control-request-headers', 'content-type,x-namespace,authorization');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(TEST_UI_ORIGIN);
    expect(preflight.headers['access-control-allow-headers']).toContain('x-namespace');
    const actual = await request(stack.app)
      .post('/codec/decode')
      .set('origin', TEST_UI_ORIGIN)
      .set(auth('dev-support'))
      .send(await body());
    expect(actual.headers['access-control-allow-origin']).toBe(TEST_UI_ORIGIN);
    const foreign = await request(stack.app)
      .options('/codec/decode')
      .set('origin', 'http://evil.example')
      .set('access-control-request-method', 'POST');
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('the support guide', () => {
  /** The guide's commands, as written in its "Acting on an order" table. */
  const guide = readFileSync(path.join(__dirname, '..', 'docs', 'SUPPORT.md'), 'utf8');
  const acting = guide.slice(
    guide.indexOf('## Acting on an order'),
    guide.indexOf('\n## ', guide.indexOf('## Acting on an order') + 1),
  );
  const commands = [...acting.matchAll(/`(curl [^`]+)`/g)].map(([, command]) => command!);
  const { host, orderId } = { host: 'http://127.0.0.1:3000', orderId: 'A-1001' };

  /** Runs a command of the guide against this stack, for `order`, with the support token; its status and body. */
  async function run(command: string, order: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const script = `${command.replaceAll(host, guideStack.apiUrl).replaceAll(orderId, order)} -w '\\n%{http_code}'`;
    const { stdout } = await promisify(execFile)('bash', ['-c', script], {
      env: { ...process.env, TOKEN: 'dev-support' },
    });
    const lines = stdout.trimEnd().split('\n');
    return { status: Number(lines.pop()), body: JSON.parse(lines.join('\n')) as Record<string, unknown> };
  }
  /** The one command whose URL matches `route`. */
  const command = (route: RegExp) => {
    const url = (candidate: string) => /(http:\/\/[^\s'"]+)/.exec(candidate)![1]!;
    const found = commands.filter((candidate) => route.test(url(candidate)));
    expect(found).toHaveLength(1);
    return found[0]!;
  };
  async function waitingForOperator(): Promise<string> {
    const order = makeOrder({ payment: LOST_PAYMENT });
    await atPaymentLink(await guideStack.startOrder(order));
    await guideStack.client.workflow.getHandle(`order-${order.orderId}`).signal(cancelOrderSignal, { by: 'customer' });
    await eventually(
      async () =>
        (await guideStack.api('dev-support').GET('/orders/{orderId}', { params: { path: { orderId: order.orderId } } }))
          .data,
      (view) => view?.status === 'REQUIRES_ATTENTION',
      30_000,
    );
    return order.orderId;
  }
  // A stack of its own, whose payment window outlasts the test: an order read at its link is still there.
  let guideStack: TestStack;
  beforeAll(async () => {
    guideStack = await startStack({ paymentWindowMs: 60_000, stateSlaMs: 120_000 });
  });
  afterAll(async () => {
    await guideStack?.stop();
  });

  test('every command of "Acting on an order" works as written with the support token', async () => {
    expect(commands).toHaveLength(6);
    const cancelled = makeOrder({ payment: LOST_PAYMENT });
    await atPaymentLink(await guideStack.startOrder(cancelled));
    await guideStack.outage('refunds', true);
    const [toRetry, toResolve] = [await waitingForOperator(), await waitingForOperator()];
    await guideStack.outage('refunds', false);

    const listed = await run(command(/\/orders\?needsAttention=true$/), cancelled.orderId);
    expect(listed.status).toBe(200);
    const ids = (listed.body.orders as { orderId: string }[]).map((order) => order.orderId);
    expect(ids).toEqual(expect.arrayContaining([toRetry, toResolve]));

    expect(await run(command(/\/orders\/A-1001$/), cancelled.orderId)).toMatchObject({
      status: 200,
      body: { orderId: cancelled.orderId, status: 'AWAITING_PAYMENT' },
    });
    const events = await run(command(/\/events$/), cancelled.orderId);
    expect((events.body.events as { type: string }[]).at(-1)?.type).toBe('PaymentRequested');

    // 200 once the compensations ran, or 202 while they still run (a loaded machine): the order ends the same.
    const cancel = await run(command(/\/cancel$/), cancelled.orderId);
    expect([200, 202]).toContain(cancel.status);
    const byCancel = await eventually(
      async () =>
        (
          await guideStack
            .api('dev-support')
            .GET('/orders/{orderId}', { params: { path: { orderId: cancelled.orderId } } })
        ).data,
      (view) => view?.status === 'CANCELLED',
      30_000,
    );
    expect(byCancel!.reason).toEqual({ code: 'CANCELLED_BY_SUPPORT', message: 'customer asked by phone' });

    expect((await run(command(/retry-compensation$/), toRetry)).status).toBe(202);
    expect((await run(command(/mark-resolved$/), toResolve)).status).toBe(202);
    // A retry runs the undo still to run (the void refused while refunds were down); a resolve runs none.
    for (const [orderId, action, undone] of [
      [toRetry, 'retry-compensation', ['PaymentVoided']],
      [toResolve, 'mark-resolved', []],
    ] as const) {
      const params = { params: { path: { orderId } } };
      await eventually(
        async () => (await guideStack.api('dev-support').GET('/orders/{orderId}', params)).data,
        (view) => view?.status === 'CANCELLED',
        30_000,
      );
      const { events } = (await guideStack.api('dev-support').GET('/orders/{orderId}/events', params)).data!;
      const acted = events.findIndex((event) => event.type === 'OperatorAction');
      expect(events[acted]?.data).toMatchObject({ action, operator: 'support' });
      const after = events.slice(acted + 1).map((event) => event.type);
      expect(after.filter((type) => type === 'PaymentVoided' || type === 'StockReleased')).toEqual(undone);
    }
  });
});
