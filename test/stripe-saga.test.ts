import { cancelOrderSignal, getOrderQuery } from '../domain/contract';
import { STRIPE_SIGNATURE_HEADER } from '../payment-provider/stripe-gateway';
import { stripeSignatureHeaders } from '../sandbox/stripe';
import {
  atPaymentLink,
  eventTypes,
  eventually,
  makeOrder,
  netMoney,
  startStack,
  type TestStack,
} from './helpers/stack';

/** The saga end to end with a `stripe` primary (the sandbox playing Stripe) and an `http` backup. */
let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ providerTypes: ['stripe', 'http'] });
});
afterAll(async () => {
  await stack?.stop();
});
afterEach(async () => {
  await stack.callSandbox('/_sandbox/reset', 'POST');
});

/** A session as the sandbox's Stripe answers its API, with the primary's key. */
async function session(view: { payment: { checkoutUrl: string; paymentId: string } | null }) {
  const apiBase = new URL(view.payment!.checkoutUrl).origin;
  const response = await fetch(`${apiBase}/v1/checkout/sessions/${view.payment!.paymentId}`, {
    headers: { authorization: 'Bearer sk_test_sandbox_primary' },
  });
  return (await response.json()) as { status: string; payment_status: string; url: string | null };
}

const payAt = (view: { payment: { checkoutUrl: string } | null }, body: Record<string, string> = {}) =>
  fetch(view.payment!.checkoutUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

test('an order pays at its Checkout Session: the link is the session page, paying it confirms the order', async () => {
  const request = makeOrder({ payment: { method: 'card', token: 'tok_lost' } });
  const handle = await stack.startOrder(request);
  const view = await atPaymentLink(handle);
  expect(view.payment).toMatchObject({ provider: 'primary', status: 'pending' });
  expect(view.payment!.paymentId).toMatch(/^cs_test_/);
  expect(view.payment!.checkoutUrl).toContain(`/stripe/checkout/${view.payment!.paymentId}`);
  expect(await session(view)).toMatchObject({ status: 'open', payment_status: 'unpaid' });
  expect((await fetch(view.payment!.checkoutUrl)).headers.get('content-type')).toMatch(/text\/html/);

  expect((await payAt(view)).status).toBe(200);
  const done = await stack.result(handle);
  expect(done.status).toBe('CONFIRMED');
  expect(done.payment).toMatchObject({ provider: 'primary', status: 'succeeded' });
  expect(netMoney(stack, request.orderId)).toBe(done.total);
});

test('a declined card is not the end: the customer tries again on the same page and the order is confirmed', async () => {
  const request = makeOrder({ payment: { method: 'card', token: 'tok_lost' } });
  const handle = await stack.startOrder(request);
  const view = await atPaymentLink(handle);
  const declined = await payAt(view, { card: 'declined' });
  expect(declined.status).toBe(402);
  expect(await session(view)).toMatchObject({ status: 'open' });
  expect((await handle.query(getOrderQuery)).status).toBe('AWAITING_PAYMENT');

  expect((await payAt(view)).status).toBe(200);
  expect((await stack.result(handle)).status).toBe('CONFIRMED');
});

test('a cancel expires the session: nobody can pay it after, no money moves', async () => {
  const request = makeOrder({ payment: { method: 'card', token: 'tok_lost' } });
  const handle = await stack.startOrder(request);
  const view = await atPaymentLink(handle);
  await handle.signal(cancelOrderSignal, { by: 'customer', reason: 'changed my mind' });
  const done = await stack.result(handle);
  expect(done.status).toBe('CANCELLED');
  expect(await eventTypes(handle)).toContain('PaymentVoided');
  expect(await session(view)).toMatchObject({ status: 'expired', url: null });
  expect((await payAt(view)).status).toBe(409);
  expect(netMoney(stack, request.orderId)).toBe(0);
});

test('a session Stripe expires while the order waits (its Dashboard, its own clock) cancels the order', async () => {
  const request = makeOrder({ payment: { method: 'card', token: 'tok_lost' } });
  const handle = await stack.startOrder(request);
  const view = await atPaymentLink(handle);
  const apiBase = new URL(view.payment!.checkoutUrl).origin;
  const expired = await fetch(`${apiBase}/v1/checkout/sessions/${view.payment!.paymentId}/expire`, {
    method: 'POST',
    headers: { authorization: 'Bearer sk_test_sandbox_primary' },
  });
  expect(expired.status).toBe(200);
  const done = await stack.result(handle);
  expect(done.status).toBe('CANCELLED');
  expect(done.reason).toEqual({ code: 'PAYMENT_DECLINED', message: 'the checkout session expired unpaid' });
  expect(done.payment?.status).toBe('failed');
  expect(netMoney(stack, request.orderId)).toBe(0);
});

test('a forged or stale Stripe-Signature is refused with 401 and the order hears nothing', async () => {
  const request = makeOrder({ payment: { method: 'card', token: 'tok_lost' } });
  const handle = await stack.startOrder(request);
  const view = await atPaymentLink(handle);
  const body = JSON.stringify({
    id: 'evt_forged',
    object: 'event',
    type: 'checkout.session.completed',
    data: {
      object: { ...(await session(view)), status: 'complete', payment_status: 'paid', url: null },
    },
  });
  const send = (headers: Record<string, string>) =>
    fetch(`${stack.apiUrl}/webhooks/payments/primary`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
  for (const headers of [
    stripeSignatureHeaders('whsec_not_the_secret', body),
    { [STRIPE_SIGNATURE_HEADER]: `t=${Math.floor(Date.now() / 1000) - 3600},v1=${'0'.repeat(64)}` },
    {},
  ]) {
    const answer = await send(headers);
    expect(answer.status).toBe(401);
    expect(answer.headers.get('content-type')).toMatch(/problem\+json/);
  }
  expect((await handle.query(getOrderQuery)).status).toBe('AWAITING_PAYMENT');
  // Signed with the provider's own secret, the same event is taken.
  expect((await send(stripeSignatureHeaders('whsec_dev_primary', body))).status).toBe(200);
  expect((await stack.result(handle)).status).toBe('CONFIRMED');
});

test('a genuine event the saga does not act on is acknowledged with why, and the order goes on waiting', async () => {
  const request = makeOrder({ payment: { method: 'card', token: 'tok_lost' } });
  const handle = await stack.startOrder(request);
  const view = await atPaymentLink(handle);
  const events = [
    { type: 'charge.refunded', object: { id: 'ch_1', object: 'charge' } },
    // Completed with a payment still on its way (a bank debit): not yet the order's success.
    { type: 'checkout.session.completed', object: { ...(await session(view)), status: 'complete', url: null } },
  ];
  for (const { type, object } of events) {
    const body = JSON.stringify({ id: `evt_${type}`, object: 'event', type, data: { object } });
    const answer = await fetch(`${stack.apiUrl}/webhooks/payments/primary`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...stripeSignatureHeaders('whsec_dev_primary', body) },
      body,
    });
    expect([type, answer.status, await answer.json()]).toEqual([
      type,
      200,
      { received: true, ignored: expect.any(String) },
    ]);
  }
  expect((await handle.query(getOrderQuery)).status).toBe('AWAITING_PAYMENT');
});

test('a paid session whose event is lost is found by reconciliation when the window closes', async () => {
  const request = makeOrder({ payment: { method: 'card', token: 'tok_lost' } });
  const handle = await stack.startOrder(request);
  const view = await atPaymentLink(handle);
  expect((await payAt(view, { event: 'lost' })).status).toBe(200);
  const done = await stack.result(handle);
  expect(done.status).toBe('CONFIRMED');
  expect(await eventTypes(handle)).toEqual(expect.arrayContaining(['PaymentWindowExpired', 'PaymentReconciled']));
});

test('a payment made while the expire is refused is refunded once the session can be read as paid', async () => {
  const request = makeOrder({ payment: { method: 'card', token: 'tok_lost' } });
  const handle = await stack.startOrder(request);
  const view = await atPaymentLink(handle);
  await stack.callSandbox('/_sandbox/faults/void', 'PUT', { kind: 'status', status: 503 });
  await handle.signal(cancelOrderSignal, { by: 'customer', reason: 'too slow' });
  await eventually(
    () => handle.query(getOrderQuery),
    (order) => order.status === 'COMPENSATING',
  );
  // The customer pays while the expire keeps failing: the money is taken after the order gave up on it.
  expect((await payAt(view)).status).toBe(200);
  await stack.callSandbox('/_sandbox/faults/void', 'DELETE');
  const done = await stack.result(handle);
  expect(done.status).toBe('CANCELLED');
  await eventually(
    () => netMoney(stack, request.orderId),
    (net) => net === 0,
  );
  expect(stack.ledger.snapshot().payments.find((p) => p.orderId === request.orderId)).toMatchObject({
    captured: done.total,
    refunded: done.total,
  });
});

test('with Stripe down, the http backup takes the payment', async () => {
  await stack.outage('primary', true);
  const request = makeOrder({ payment: { method: 'card', token: 'tok_ok' } });
  const handle = await stack.startOrder(request);
  const done = await stack.result(handle);
  expect(done.status).toBe('CONFIRMED');
  expect(done.payment?.provider).toBe('backup');
  expect(await eventTypes(handle)).toContain('PaymentProviderUnavailable');
});

test('a create whose answer is lost is repeated under its idempotency key: one session for the order', async () => {
  await stack.callSandbox('/_sandbox/faults/create-payment', 'PUT', { kind: 'hang', ms: 6_000 });
  const request = makeOrder({ payment: { method: 'card', token: 'tok_lost' } });
  const handle = await stack.startOrder(request);
  await eventually(
    () => stack.ledger.snapshot().payments.filter((p) => p.orderId === request.orderId).length,
    (count) => count === 1,
  );
  await stack.callSandbox('/_sandbox/faults/create-payment', 'DELETE');
  const view = await atPaymentLink(handle);
  expect(stack.ledger.snapshot().payments.filter((p) => p.orderId === request.orderId)).toEqual([
    expect.objectContaining({ paymentId: view.payment!.paymentId }),
  ]);
  await payAt(view);
  expect((await stack.result(handle)).status).toBe('CONFIRMED');
});
