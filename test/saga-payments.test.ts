import { paymentCallbackSignal, orderWorkflowId } from '../domain/contract';
import { eventTypes, LOST_PAYMENT, makeOrder, netMoney, startStack, type TestStack } from './helpers/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({
    // The early-callback test: a success callback lands in history before the payment's creation does.
    wrapActivities: (activities, client) => {
      const callBackEarly = async (
        input: { orderId: string; provider: string; token: string; currency: string },
        payment: { paymentId: string; amount: number },
      ) => {
        if (input.token !== 'tok_silent' || !input.orderId.startsWith('EARLY-')) return;
        await client.workflow.getHandle(orderWorkflowId(input.orderId)).signal(paymentCallbackSignal, {
          provider: input.provider,
          eventId: 'evt_early',
          type: 'payment.succeeded',
          paymentId: payment.paymentId,
          orderId: input.orderId,
          amount: payment.amount,
          currency: input.currency,
          failureReason: null,
        });
      };
      return {
        ...activities,
        async createPayment(input) {
          const payment = await activities.createPayment(input);
          await callBackEarly(input, { paymentId: payment.paymentId, amount: input.amount });
          return payment;
        },
        // The steps up to the payment link in one call, as a new order first takes them.
        async validateReserveAndRequestPayment(input) {
          const done = await activities.validateReserveAndRequestPayment(input);
          await callBackEarly(input, { paymentId: done.payment.paymentId, amount: done.total });
          return done;
        },
      };
    },
  });
});
afterAll(async () => {
  await stack?.stop();
});

const stockOf = (sku: string) => stack.ledger.snapshot().stock[sku];

test('a declined payment is compensated: stock back, no money taken, CANCELLED with PAYMENT_DECLINED', async () => {
  const before = stockOf('SKU-MUG')!;
  const request = makeOrder({
    items: [{ sku: 'SKU-MUG', quantity: 3, unitPrice: 1250 }],
    payment: { method: 'card', token: 'tok_decline' },
  });
  const handle = await stack.startOrder(request);
  const view = await stack.result(handle);
  expect(view.status).toBe('CANCELLED');
  expect(view.reason).toEqual({ code: 'PAYMENT_DECLINED', message: 'card_declined' });
  expect(view.payment?.status).toBe('failed');
  expect(stockOf('SKU-MUG')).toBe(before);
  expect(netMoney(stack, request.orderId)).toBe(0);
  expect(await eventTypes(handle)).toEqual([
    'OrderReceived',
    'OrderValidated',
    'StockReserved',
    'PaymentRequested',
    'PaymentFailed',
    'CompensationStarted',
    'StockReleased',
    'OrderCancelled',
  ]);
});

test('when the window closes without a callback, reconciliation finds the payment paid and the order is confirmed', async () => {
  const request = makeOrder({ payment: { method: 'card', token: 'tok_silent' } });
  const handle = await stack.startOrder(request);
  const view = await stack.result(handle);
  expect(view.status).toBe('CONFIRMED');
  expect(view.payment?.status).toBe('succeeded');
  expect(await eventTypes(handle)).toEqual([
    'OrderReceived',
    'OrderValidated',
    'StockReserved',
    'PaymentRequested',
    'PaymentWindowExpired',
    'PaymentReconciled',
    'OrderConfirmed',
  ]);
  expect(netMoney(stack, request.orderId)).toBe(view.total);
});

test('when the window closes on a payment still pending, it is voided and the order CANCELLED with PAYMENT_TIMEOUT', async () => {
  const request = makeOrder({ payment: LOST_PAYMENT });
  const handle = await stack.startOrder(request);
  const view = await stack.result(handle);
  expect(view.status).toBe('CANCELLED');
  expect(view.reason?.code).toBe('PAYMENT_TIMEOUT');
  expect(view.payment?.status).toBe('voided');
  expect(stack.ledger.snapshot().payments.find((p) => p.orderId === request.orderId)?.status).toBe('voided');
  expect(await eventTypes(handle)).toEqual([
    'OrderReceived',
    'OrderValidated',
    'StockReserved',
    'PaymentRequested',
    'PaymentWindowExpired',
    'PaymentReconciled',
    'CompensationStarted',
    'PaymentVoided',
    'StockReleased',
    'OrderCancelled',
  ]);
});

test('the same callback three times confirms once and captures once', async () => {
  const request = makeOrder({ payment: { method: 'card', token: 'tok_duplicate' } });
  const handle = await stack.startOrder(request);
  const view = await stack.result(handle);
  expect(view.status).toBe('CONFIRMED');
  const events = await eventTypes(handle);
  expect(events.filter((type) => type === 'PaymentSucceeded')).toHaveLength(1);
  expect(events).not.toContain('PaymentRefunded');
  expect(netMoney(stack, request.orderId)).toBe(view.total);
});

test('a callback that arrives before the workflow has recorded the payment is kept and used', async () => {
  const request = makeOrder({ orderId: `EARLY-${Date.now()}`, payment: { method: 'card', token: 'tok_silent' } });
  const handle = await stack.startOrder(request);
  const view = await stack.result(handle);
  expect(view.status).toBe('CONFIRMED');
  const events = await eventTypes(handle);
  expect(events).toContain('PaymentSucceeded');
  expect(events).not.toContain('PaymentWindowExpired');
});

describe('provider outages', () => {
  afterEach(async () => {
    await stack.outage('primary', false);
    await stack.outage('backup', false);
  });

  test('with the primary down the payment fails over to the backup, which the order records', async () => {
    await stack.outage('primary', true);
    const request = makeOrder();
    const handle = await stack.startOrder(request);
    const view = await stack.result(handle);
    expect(view.status).toBe('CONFIRMED');
    expect(view.payment?.provider).toBe('backup');
    expect(await eventTypes(handle)).toEqual([
      'OrderReceived',
      'OrderValidated',
      'StockReserved',
      'PaymentProviderUnavailable',
      'PaymentRequested',
      'PaymentSucceeded',
      'OrderConfirmed',
    ]);
    const payments = stack.ledger.snapshot().payments.filter((p) => p.orderId === request.orderId);
    expect(payments.map((p) => p.provider)).toEqual(['backup']);
    expect(netMoney(stack, request.orderId)).toBe(view.total);
  });

  test('with both providers down the order is compensated and CANCELLED with PAYMENT_UNAVAILABLE', async () => {
    await stack.outage('primary', true);
    await stack.outage('backup', true);
    const before = stack.ledger.snapshot().stock['SKU-TEE']!;
    const handle = await stack.startOrder(makeOrder());
    const view = await stack.result(handle);
    expect(view.status).toBe('CANCELLED');
    expect(view.reason?.code).toBe('PAYMENT_UNAVAILABLE');
    expect(view.payment).toBeNull();
    expect(stack.ledger.snapshot().stock['SKU-TEE']).toBe(before);
    expect((await eventTypes(handle)).filter((type) => type === 'PaymentProviderUnavailable')).toHaveLength(2);
  });
});
