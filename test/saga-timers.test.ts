import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time';
import type { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { OrderActivities } from '../activities';
import { loadConfig } from '../config';
import {
  getOrderQuery,
  getEventsQuery,
  LATE_REFUND_WORKFLOW_TYPE,
  latePaymentRefundWorkflowId,
  lateStockReleaseWorkflowId,
  retryCompensationSignal,
  type LatePayment,
  type SagaSettings,
} from '../domain/contract';
import type { SettleOutcome } from '../activities/payments';
import { TRIES_PER_RUN } from '../workflows/after-end';
import type { OrderView } from '../domain/order-state';
import { FailureType, Reason } from '../domain/reasons';
import { OrderSearchAttributes } from '../domain/search-attributes';
import type { PaymentRecord } from '../payment-provider/protocol';
import type { OrderRecord } from '../store/order-store';
import { eventAt, LOST_PAYMENT, makeOrder } from './helpers/stack';
import { PRODUCTION_SETTINGS, startOrderIn, startTimeSkipping, timeSkippingWorker } from './helpers/time-skipping';

/**
 * The saga's timers at their production defaults (config/index.ts), in skipped time: the SDK's
 * time-skipping test server, the real workflow code, and its activities stood in for (the systems are not
 * what is under test here; the saga-* suites run them for real). Each test says how the order ends, how
 * much time passed, and how long its history grew.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

// A server of its own for each test: skipped time is the server's, and nothing one test leaves open (a
// workflow, a deadline) can move another's clock.
let env: TestWorkflowEnvironment;
beforeEach(async () => {
  env = await startTimeSkipping();
});
afterEach(async () => {
  await env?.teardown();
});

/** A provider's record of the order's payment, as the activities return it. */
function paymentOf(orderId: string, status: PaymentRecord['status'] = 'pending'): PaymentRecord {
  const captured = status === 'succeeded' ? 3998 : 0;
  return {
    paymentId: `pay_${orderId}`,
    orderId,
    amount: 3998,
    currency: 'EUR',
    status,
    captured,
    refunded: 0,
    checkoutUrl: 'http://pay',
  };
}

/** Systems that answer at once: the forward steps go through, the order waits at its payment link. */
function answeringSystems(overrides: Partial<OrderActivities> = {}): Partial<OrderActivities> {
  return {
    async validateReserveAndRequestPayment({ orderId }) {
      return { total: 3998, payment: paymentOf(orderId) };
    },
    async validateOrder() {
      return { total: 3998 };
    },
    async reserveStock() {},
    async releaseStock() {},
    async createPayment({ orderId }) {
      return paymentOf(orderId);
    },
    async getPaymentStatus({ paymentId }) {
      return paymentOf(paymentId.slice('pay_'.length));
    },
    async settlePayment({ paymentId }) {
      return { outcome: 'voided', paymentId: paymentId ?? 'none' };
    },
    async submitFulfillment() {
      return { fulfillmentId: 'ful_1' };
    },
    async notifyCustomer() {},
    async deliverStatusEvent() {},
    async recordOrder() {},
    ...overrides,
  } as Partial<OrderActivities>;
}

const unavailable = (system: string) =>
  ApplicationFailure.retryable(`${system} is down`, FailureType.UPSTREAM_UNAVAILABLE);

/** Runs `story` with the order worker on `activities`, on a task queue of its own. */
async function withWorker<T>(
  activities: Partial<OrderActivities>,
  story: (taskQueue: string) => Promise<T>,
): Promise<T> {
  const taskQueue = `timers-${randomUUID()}`;
  const worker = await timeSkippingWorker(env, taskQueue, activities);
  const running = worker.run();
  try {
    return await story(taskQueue);
  } finally {
    worker.shutdown();
    await running;
  }
}

/** A payment that succeeded for an ended order, as the API hands it to a late refund, retried at the production default. */
function latePayment(paymentId: string): LatePayment {
  return {
    provider: 'primary',
    paymentId,
    orderId: `late-${randomUUID().slice(0, 8)}`,
    retryEveryMs: PRODUCTION_SETTINGS.compensationGiveUpMs,
  };
}

/** Starts the late refund of `payment` as the API does, on `taskQueue`. */
function startLateRefund(taskQueue: string, payment: LatePayment) {
  return env.client.workflow.start(LATE_REFUND_WORKFLOW_TYPE, {
    workflowId: latePaymentRefundWorkflowId(payment),
    taskQueue,
    args: [payment],
  });
}

async function historyLength(workflowId: string): Promise<number> {
  const { events } = await env.client.workflow.getHandle(workflowId).fetchHistory();
  return events?.length ?? 0;
}

test('the payment window (15 min): the provider is asked, the payment voided, the stock released, the order cancelled', async () => {
  const calls: string[] = [];
  const activities = answeringSystems({
    async getPaymentStatus({ paymentId }) {
      calls.push('asked the provider');
      return paymentOf(paymentId.slice('pay_'.length));
    },
    async settlePayment({ provider, paymentId }) {
      calls.push(`voided at ${provider}`);
      return { outcome: 'voided', paymentId: paymentId ?? 'none' };
    },
    async releaseStock() {
      calls.push('released');
    },
  });
  const startedAt = await env.currentTimeMs();
  const view = await withWorker(activities, async (taskQueue) => {
    const handle = await startOrderIn(env, taskQueue, makeOrder({ payment: LOST_PAYMENT }));
    const end = (await handle.result()) as OrderView;
    return { view: end, id: handle.workflowId, events: await handle.query(getEventsQuery) };
  });
  expect(view.view).toMatchObject({ status: 'CANCELLED', reason: { code: 'PAYMENT_TIMEOUT' } });
  // Last, the provider the order never used is asked to void anything of it, in case a lost task made one.
  expect(calls).toEqual(['asked the provider', 'voided at primary', 'released', 'voided at backup']);
  // Every wait at the production defaults is shorter than the state SLA: the order is never flagged.
  expect(view.events.map((event) => event.type)).not.toContain('OrderFlaggedStuck');
  expect((await env.currentTimeMs()) - startedAt).toBeGreaterThanOrEqual(PRODUCTION_SETTINGS.paymentWindowMs);
  // The whole window, its reminder at half of it and the compensation: a few dozen events.
  expect(await historyLength(view.id)).toBeLessThan(70);
});

test('the payment window: a payment the provider took but never told is found, and the order confirmed', async () => {
  const activities = answeringSystems({
    async getPaymentStatus({ paymentId }) {
      return paymentOf(paymentId.slice('pay_'.length), 'succeeded');
    },
  });
  const { view, id } = await withWorker(activities, async (taskQueue) => {
    const handle = await startOrderIn(env, taskQueue, makeOrder({ payment: LOST_PAYMENT }));
    return { view: (await handle.result()) as OrderView, id: handle.workflowId };
  });
  expect(view).toMatchObject({ status: 'CONFIRMED', payment: { status: 'succeeded' } });
  expect(await historyLength(id)).toBeLessThan(60);
});

test('the payment reminder (at 50% of the window): the customer who has not paid is reminded once, with the link, at 7.5 min', async () => {
  const reminders: { template: string; reminder?: unknown }[] = [];
  const activities = answeringSystems({
    async notifyCustomer({ template, reminder }) {
      reminders.push({ template, reminder });
    },
  });
  const { view, events } = await withWorker(activities, async (taskQueue) => {
    const handle = await startOrderIn(env, taskQueue, makeOrder({ payment: LOST_PAYMENT }));
    const end = (await handle.result()) as OrderView;
    return { view: end, events: await handle.query(getEventsQuery) };
  });
  expect(view.status).toBe('CANCELLED');
  expect(reminders.map(({ template }) => template)).toEqual(['payment-reminder', 'order-cancelled']);
  expect(reminders[0]!.reminder).toEqual({
    point: '50%',
    checkoutUrl: 'http://pay',
    amount: 3998,
    currency: 'EUR',
    closesAt: expect.any(String),
  });
  expect(Math.round((eventAt(events, 'PaymentReminderSent') - eventAt(events, 'PaymentRequested')) / 1000)).toBe(
    PRODUCTION_SETTINGS.paymentWindowMs / 2 / 1000,
  );
});

test('the state SLA (1 h): an order that waits longer in one status is flagged once, and cleared when it moves on', async () => {
  // A shop whose customers get 3 hours to pay: longer than the SLA, so the wait at the link is flagged.
  const settings: SagaSettings = { ...PRODUCTION_SETTINGS, paymentWindowMs: 3 * HOUR };
  const { waiting, end, id, log } = await withWorker(answeringSystems(), async (taskQueue) => {
    const handle = await startOrderIn(env, taskQueue, makeOrder({ payment: LOST_PAYMENT }), settings);
    await env.sleep(2 * HOUR + 30 * MINUTE);
    const waitingNow = await handle.query(getOrderQuery);
    const ended = (await handle.result()) as OrderView;
    return { waiting: waitingNow, end: ended, id: handle.workflowId, log: await handle.query(getEventsQuery) };
  });
  // One SLA period with no transition flags it, within two.
  expect(waiting).toMatchObject({ status: 'AWAITING_PAYMENT', needsAttention: true });
  expect(end).toMatchObject({ status: 'CANCELLED', reason: { code: 'PAYMENT_TIMEOUT' }, needsAttention: false });
  expect(log.filter((event) => event.type === 'OrderFlaggedStuck')).toHaveLength(1);
  const { events } = await env.client.workflow.getHandle(id).fetchHistory();
  // One timer per period, none per status: three hours add a few events.
  expect(events!.length).toBeLessThan(80);
});

test('a compensation that keeps failing goes to an operator after 10 min; one who answers 30 days later settles it', async () => {
  let refundsDown = true;
  const activities = answeringSystems({
    async settlePayment({ paymentId }) {
      if (refundsDown) throw unavailable('the provider');
      return { outcome: 'voided', paymentId: paymentId ?? 'none' };
    },
  });
  const { view, waitedFor, id } = await withWorker(activities, async (taskQueue) => {
    const handle = await startOrderIn(env, taskQueue, makeOrder({ payment: LOST_PAYMENT }));
    // The window closes at 15 min, the void is given up on 10 min later.
    await env.sleep(PRODUCTION_SETTINGS.paymentWindowMs + PRODUCTION_SETTINGS.compensationGiveUpMs + MINUTE);
    const waiting = await handle.query(getOrderQuery);
    const attentionAt = await env.currentTimeMs();
    await env.sleep(30 * DAY);
    refundsDown = false;
    await handle.signal(retryCompensationSignal, { operator: 'ops-1', note: 'the provider is back' });
    return {
      view: { waiting, end: (await handle.result()) as OrderView },
      waitedFor: (await env.currentTimeMs()) - attentionAt,
      id: handle.workflowId,
    };
  });
  expect(view.waiting).toMatchObject({ status: 'REQUIRES_ATTENTION', needsAttention: true });
  expect(view.end).toMatchObject({ status: 'CANCELLED', needsAttention: false });
  expect(waitedFor).toBeGreaterThanOrEqual(30 * DAY);
  // A month of waiting for a person writes nothing: no timer runs while the order is on support's list.
  expect(await historyLength(id)).toBeLessThan(150);
});

test('an endpoint that never answers: the order is flagged after a minute of failing, given up on after 24 h, and completes', async () => {
  const webhookSettings: SagaSettings = loadConfig({
    ORDER_WEBHOOKS: JSON.stringify([
      { url: 'https://checkout.example/hooks', secret: `whsec_${Buffer.alloc(32, 7).toString('base64')}` },
    ]),
  }).saga;
  // Paid, as the provider says when the window closes; the endpoint refuses every delivery.
  const activities = answeringSystems({
    async getPaymentStatus({ paymentId }) {
      return paymentOf(paymentId.slice('pay_'.length), 'succeeded');
    },
    async deliverStatusEvent() {
      throw unavailable('the checkout');
    },
  });
  const { view, flagged, id } = await withWorker(activities, async (taskQueue) => {
    const handle = await startOrderIn(env, taskQueue, makeOrder({ payment: LOST_PAYMENT }), webhookSettings);
    await env.sleep(PRODUCTION_SETTINGS.paymentWindowMs + 2 * MINUTE);
    const flaggedNow = (await handle.describe()).typedSearchAttributes.get(OrderSearchAttributes.webhooksFailing);
    return { view: (await handle.result()) as OrderView, flagged: flaggedNow, id: handle.workflowId };
  });
  expect(flagged).toBe(true);
  expect(view.status).toBe('CONFIRMED');
  // Timed by the server's own clock in history, from the first delivery to the workflow's completion: given
  // up within one backoff (5 min at most) of the budget, as the server stops the retries once the next
  // would start past it.
  const { events } = await env.client.workflow.getHandle(id).fetchHistory();
  const at = (event: temporal.api.history.v1.IHistoryEvent | undefined) => Number(tsToMs(event!.eventTime));
  const firstDelivery = events!.find((event) => event.activityTaskScheduledEventAttributes);
  const completed = events!.find((event) => event.workflowExecutionCompletedEventAttributes);
  const tookMs = at(completed) - at(firstDelivery);
  expect(tookMs).toBeGreaterThan(webhookSettings.webhooks!.giveUpMs - 5 * MINUTE);
  expect(tookMs).toBeLessThan(webhookSettings.webhooks!.giveUpMs + 5 * MINUTE);
  expect(events!.length).toBeLessThan(100);
});

test('a store of record down for 3 hours: the order is not delayed, is flagged after a minute, and completes once the store holds its end', async () => {
  let storeDown = true;
  const writes: OrderRecord[] = [];
  const activities = answeringSystems({
    async getPaymentStatus({ paymentId }) {
      return paymentOf(paymentId.slice('pay_'.length), 'succeeded');
    },
    async recordOrder(record) {
      if (storeDown) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
      writes.push(record);
    },
  });
  const seen = await withWorker(activities, async (taskQueue) => {
    const handle = await startOrderIn(env, taskQueue, makeOrder({ payment: LOST_PAYMENT }));
    await env.sleep(PRODUCTION_SETTINGS.paymentWindowMs + 5 * MINUTE);
    const whileDown = await handle.describe();
    const confirmedWhileDown = await handle.query(getOrderQuery);
    await env.sleep(3 * HOUR);
    storeDown = false;
    const end = (await handle.result()) as OrderView;
    return {
      whileDown: {
        status: confirmedWhileDown.status,
        running: whileDown.status.name,
        flagged: whileDown.typedSearchAttributes.get(OrderSearchAttributes.storeBehind),
      },
      end,
      after: (await handle.describe()).typedSearchAttributes.get(OrderSearchAttributes.storeBehind),
      id: handle.workflowId,
    };
  });
  // The steps went on while the store was down: confirmed at the window, but kept open until the store took it.
  expect(seen.whileDown).toEqual({ status: 'CONFIRMED', running: 'RUNNING', flagged: true });
  expect(seen.after).toBe(false);
  expect(seen.end.status).toBe('CONFIRMED');
  // Every event once (the payment reminder's among them), the last write closing the order with the view it ended with.
  expect(writes.flatMap((write) => write.events.map((event) => event.seq))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  expect(writes.at(-1)).toMatchObject({ closed: true, view: seen.end, lastSeq: 8 });
  // Hours of retries of one write add nothing to history.
  expect(await historyLength(seen.id)).toBeLessThan(60);
});

test('late money its provider keeps refusing: support is told after 3 tries, and a year of refusals keeps every run short', async () => {
  let refusing = true;
  const toldTheOrder: { type: string; at: string }[] = [];
  const activities = answeringSystems({
    async settlePayment({ paymentId }) {
      if (refusing)
        throw ApplicationFailure.nonRetryable('the provider refused the refund: 422', FailureType.UPSTREAM_CONTRACT);
      return { outcome: 'refunded', paymentId: paymentId ?? 'none', amount: 3998 };
    },
    async recordAfterEnd({ event, at }) {
      toldTheOrder.push({ type: event.type, at });
    },
  });
  const payment = latePayment('pay_late');
  const seen = await withWorker(activities, async (taskQueue) => {
    const handle = await startLateRefund(taskQueue, payment);
    const firstRun = handle.firstExecutionRunId;
    const startedAt = (await handle.describe()).startTime.getTime();
    // Tried at once, then after 10 and 20 minutes: the third refusal tells support.
    await env.sleep(31 * MINUTE);
    const flagged = (await handle.describe()).typedSearchAttributes;
    await env.sleep(60 * DAY);
    const after60Days = { runId: (await handle.describe()).runId, events: await historyLength(handle.workflowId) };
    await env.sleep(305 * DAY);
    const afterAYear = await handle.describe();
    const events = (await handle.fetchHistory()).events!;
    const carried = (await env.client.options.loadedDataConverter.payloadConverter.fromPayload(
      events[0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!,
    )) as LatePayment;
    refusing = false;
    const outcome = (await handle.result()) as SettleOutcome;
    return {
      firstRun,
      startedAt,
      flagged,
      after60Days,
      afterAYear,
      lastRunEvents: events.length,
      carried,
      outcome,
      handle,
    };
  });
  // The order is told once when support must act (its third refusal, 30 minutes in), and once when it is settled.
  expect(toldTheOrder.map(({ type }) => type)).toEqual(['LateMoneyRefused', 'PaymentRefunded']);
  expect(Math.round((Date.parse(toldTheOrder[0]!.at) - seen.startedAt) / MINUTE)).toBe(30);
  expect(seen.flagged.get(OrderSearchAttributes.needsAttention)).toBe(true);
  expect(seen.flagged.get(OrderSearchAttributes.orderId)).toBe(payment.orderId);
  // 60 days: about 70 tries, the wait doubling to a day, in the first run still.
  expect(seen.after60Days.runId).toBe(seen.firstRun);
  expect(seen.after60Days.events).toBeLessThan(1_000);
  // A year: past 100 tries the workflow went on as new, carrying its count, each run well inside the limits.
  expect(seen.afterAYear.runId).not.toBe(seen.firstRun);
  expect(seen.carried.refusedTries).toBeGreaterThanOrEqual(TRIES_PER_RUN);
  expect(seen.lastRunEvents).toBeLessThan(1_500);
  expect(seen.outcome).toMatchObject({ outcome: 'refunded' });
  expect((await seen.handle.describe()).typedSearchAttributes.get(OrderSearchAttributes.needsAttention)).toBe(false);
});

test("late money refused while the order's record cannot be told: the refund is never held up, and the order is told at a later refusal", async () => {
  let refusing = true;
  let storeUp = false;
  const tries: number[] = [];
  const toldTheOrder: { type: string; at: string }[] = [];
  const activities = answeringSystems({
    async settlePayment({ paymentId }) {
      tries.push(Date.now());
      if (refusing)
        throw ApplicationFailure.nonRetryable('the provider refused the refund: 422', FailureType.UPSTREAM_CONTRACT);
      return { outcome: 'refunded', paymentId: paymentId ?? 'none', amount: 3998 };
    },
    async recordAfterEnd({ event, at }) {
      if (!storeUp) throw unavailable('the store of record');
      toldTheOrder.push({ type: event.type, at });
    },
  });
  const payment = latePayment('pay_late_untold');
  const seen = await withWorker(activities, async (taskQueue) => {
    const handle = await startLateRefund(taskQueue, payment);
    const startedAt = (await handle.describe()).startTime.getTime();
    // Refused at 0, 10 and 30 minutes; the store stays down for 4 hours, through two tries of telling.
    await env.sleep(4 * HOUR);
    const triesWhileDown = tries.length;
    storeUp = true;
    await env.sleep(3 * HOUR);
    refusing = false;
    const outcome = (await handle.result()) as SettleOutcome;
    return { startedAt, triesWhileDown, outcome };
  });
  // The refund went on while the order could not be told: each telling gave up after its hour.
  expect(seen.triesWhileDown).toBeGreaterThanOrEqual(4);
  expect(toldTheOrder.map(({ type }) => type)).toEqual(['LateMoneyRefused', 'PaymentRefunded']);
  expect(Date.parse(toldTheOrder[0]!.at) - seen.startedAt).toBeGreaterThan(4 * HOUR);
  expect(seen.outcome).toMatchObject({ outcome: 'refunded' });
});

test('what a rejected order owes, refused at its end: it ends flagged within 2 hours, hands each to a workflow that stays small for 60 days and ends once it goes through', async () => {
  let refusing = true;
  const toldTheOrder: string[] = [];
  const refusal = (system: string) =>
    ApplicationFailure.nonRetryable(`${system} answered 422`, FailureType.UPSTREAM_CONTRACT);
  const activities = answeringSystems({
    // The catalog refuses the order: nothing is reserved or paid, as far as the order knows.
    async validateReserveAndRequestPayment() {
      throw unavailable('the catalog');
    },
    async validateOrder() {
      throw ApplicationFailure.nonRetryable('no such sku', Reason.UNKNOWN_SKU);
    },
    // What a lost workflow task might have done is undone at the end, and refused there.
    async releaseStock() {
      if (refusing) throw refusal('inventory');
    },
    async settlePayment() {
      if (refusing) throw refusal('the provider');
      return { outcome: 'nothing-to-settle', paymentId: null };
    },
    async recordAfterEnd({ event }) {
      toldTheOrder.push(event.type);
    },
  });
  const request = makeOrder();
  const { orderId } = request;
  const seen = await withWorker(activities, async (taskQueue) => {
    const handle = await startOrderIn(env, taskQueue, request);
    const startedAt = await env.currentTimeMs();
    const view = (await handle.result()) as OrderView;
    const endedAfterMs = (await env.currentTimeMs()) - startedAt;
    const events = await handle.query(getEventsQuery);
    const late = [
      lateStockReleaseWorkflowId(orderId),
      latePaymentRefundWorkflowId({ provider: 'primary', orderId }),
      latePaymentRefundWorkflowId({ provider: 'backup', orderId }),
    ].map((id) => env.client.workflow.getHandle(id));
    const flagged = await Promise.all(
      late.map(async (run) => (await run.describe()).typedSearchAttributes.get(OrderSearchAttributes.needsAttention)),
    );
    await env.sleep(60 * DAY);
    const lengths = await Promise.all([handle, ...late].map((run) => historyLength(run.workflowId)));
    refusing = false;
    // The release tries again within a day of its last refusal. (Only one: once a workflow whose parent has
    // closed completes, the test server's clock stops skipping, sdk-java#1618; the refunds' ends are the
    // late-money tests' above.)
    await late[0]!.result();
    const cleared = (await late[0]!.describe()).typedSearchAttributes.get(OrderSearchAttributes.needsAttention);
    return { view, endedAfterMs, events, flagged, lengths, cleared };
  });
  // Three tries each (at 0, 10 and 30 minutes), one after the other; then the order ends on support's list.
  expect(seen.view).toMatchObject({ status: 'REJECTED', needsAttention: true });
  expect(seen.endedAfterMs).toBeLessThan(2 * HOUR);
  expect(seen.events.slice(-3).map((event) => [event.type, event.data])).toEqual([
    ['StockReleaseRefused', { message: expect.stringContaining('inventory answered 422') }],
    ['LateMoneyRefused', { provider: 'primary', paymentId: null, message: expect.stringContaining('422') }],
    ['LateMoneyRefused', { provider: 'backup', paymentId: null, message: expect.stringContaining('422') }],
  ]);
  expect(seen.flagged).toEqual([true, true, true]);
  // Sixty days of tries, the wait doubling to a day: no history anywhere near Temporal's limits.
  expect(Math.max(...seen.lengths)).toBeLessThan(1_000);
  // Once through, it tells the order's record (which already said support must act) and clears its flag.
  expect(toldTheOrder).toEqual(['StockReleased']);
  expect(seen.cleared).toBe(false);
});
