import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { verifyWebhookSignature } from '../payment-provider/signature';
import { createSandbox } from '../sandbox/server';
import { eventually } from './helpers/stack';

const secrets = { primary: 'whsec_test_primary', backup: 'whsec_test_backup' };

/** A webhook receiver that keeps what it was sent, raw, and answers `status` after `holdMs`. */
async function receiver({ status = 200, holdMs = 0 } = {}) {
  const received: { path: string; signature: string | undefined; body: Buffer }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({
        path: req.url ?? '',
        signature: req.headers['payment-signature'] as string | undefined,
        body: Buffer.concat(chunks),
      });
      setTimeout(() => res.writeHead(status).end('{"received":true}'), holdMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    received,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => server.close(r)),
  };
}

let hook: Awaited<ReturnType<typeof receiver>>;
let sandbox: ReturnType<typeof createSandbox>;
beforeEach(async () => {
  hook = await receiver();
  sandbox = createSandbox({
    providers: Object.entries(secrets).map(([name, webhookSecret]) => ({ name, webhookSecret })),
    webhookBaseUrl: hook.url,
    paymentWindowMs: 200,
    outcomeDelayMs: 10,
  });
});
afterEach(async () => {
  sandbox.close();
  await hook.close();
});

const pay = (token: string, orderId = 'A-1') =>
  request(sandbox.app).post('/providers/primary/payments').send({ orderId, amount: 3998, currency: 'EUR', token });

test('tok_ok: one webhook, signed with the provider secret over the raw body, and the money captured', async () => {
  const created = await pay('tok_ok');
  expect(created.status).toBe(201);
  await eventually(
    () => hook.received.length,
    (n) => n === 1,
  );
  const [delivery] = hook.received;
  expect(delivery!.path).toBe('/webhooks/payments/primary');
  expect(
    verifyWebhookSignature(secrets.primary, delivery!.body, delivery!.signature, Math.floor(Date.now() / 1000)),
  ).toEqual({ ok: true });
  expect(JSON.parse(delivery!.body.toString())).toMatchObject({
    type: 'payment.succeeded',
    data: { paymentId: created.body.paymentId, amount: 3998 },
  });
  expect((await request(sandbox.app).get('/_sandbox/ledger')).body.payments).toEqual([
    expect.objectContaining({ captured: 3998, status: 'succeeded' }),
  ]);
});

test('creating twice for one order gives the same payment', async () => {
  const first = await pay('tok_lost');
  const second = await pay('tok_lost');
  expect(second.status).toBe(200);
  expect(second.body.paymentId).toBe(first.body.paymentId);
});

test('tok_duplicate sends one event three times; tok_decline one failure; tok_silent and tok_lost none', async () => {
  await pay('tok_duplicate', 'D-1');
  await pay('tok_decline', 'D-2');
  await pay('tok_silent', 'D-3');
  await pay('tok_lost', 'D-4');
  await eventually(
    () => hook.received.length,
    (n) => n >= 4,
  );
  // Long enough for a stray delivery (D-3, D-4) to show, had one been sent.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const events = hook.received.map(
    (d) =>
      JSON.parse(d.body.toString()) as {
        id: string;
        type: string;
        data: { orderId: string; failureReason: string | null };
      },
  );
  expect(events.map((e) => e.data.orderId).sort()).toEqual(['D-1', 'D-1', 'D-1', 'D-2']);
  const duplicates = events.filter((e) => e.data.orderId === 'D-1');
  expect(duplicates).toHaveLength(3);
  expect(new Set(duplicates.map((e) => e.id)).size).toBe(1);
  expect(events.filter((e) => e.data.orderId === 'D-2')).toEqual([
    expect.objectContaining({
      type: 'payment.failed',
      data: expect.objectContaining({ failureReason: 'card_declined' }),
    }),
  ]);
  const status = async (orderId: string) =>
    (await request(sandbox.app).get(`/providers/primary/payments?orderId=${orderId}`)).body.payments[0].status;
  expect(await status('D-3')).toBe('succeeded');
  expect(await status('D-4')).toBe('pending');
});

test('tok_late pays after the window plus two seconds, even when voided meanwhile', async () => {
  const created = await pay('tok_late');
  await request(sandbox.app).post(`/providers/primary/payments/${created.body.paymentId}/void`).expect(200);
  await eventually(
    () => hook.received.length,
    (n) => n === 1,
    5_000,
  );
  expect((await request(sandbox.app).get(`/providers/primary/payments/${created.body.paymentId}`)).body).toMatchObject({
    status: 'succeeded',
    captured: 3998,
  });
});

test('fault switches make the calls fail with 503, and reset restores the start state', async () => {
  await request(sandbox.app).post('/_sandbox/providers/primary/outage').send({ down: true }).expect(200);
  expect((await pay('tok_ok')).status).toBe(503);
  await request(sandbox.app).post('/_sandbox/fulfillment/outage').send({ down: true }).expect(200);
  expect(
    (await request(sandbox.app).post('/fulfillment/orders').send({ orderId: 'A-1', items: [], shippingAddress: {} }))
      .status,
  ).toBe(503);
  await request(sandbox.app)
    .post('/inventory/reservations')
    .send({ orderId: 'A-1', items: [{ sku: 'SKU-LAST', quantity: 1 }] })
    .expect(201);
  expect((await request(sandbox.app).get('/_sandbox/ledger')).body.stock['SKU-LAST']).toBe(0);

  await request(sandbox.app).post('/_sandbox/reset').expect(200);
  expect((await pay('tok_lost')).status).toBe(201);
  const ledger = (await request(sandbox.app).get('/_sandbox/ledger')).body;
  expect(ledger.stock['SKU-LAST']).toBe(1);
  expect(ledger.payments).toHaveLength(1);
});

test('a reset drops the retries of a delivery still on the wire, not only those already waiting', async () => {
  const refusing = await receiver({ status: 500, holdMs: 150 });
  const local = createSandbox({
    providers: [{ name: 'primary', webhookSecret: secrets.primary }],
    webhookBaseUrl: refusing.url,
    paymentWindowMs: 200,
    outcomeDelayMs: 0,
  });
  try {
    await request(local.app)
      .post('/providers/primary/payments')
      .send({ orderId: 'R-1', amount: 100, currency: 'EUR', token: 'tok_ok' })
      .expect(201);
    await eventually(
      () => refusing.received.length,
      (count) => count === 1,
    );
    await request(local.app).post('/_sandbox/reset').expect(200);
    // Refused at 150 ms, the delivery would be retried 250 ms later: wait well past that.
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(refusing.received).toHaveLength(1);
  } finally {
    local.close();
    await refusing.close();
  }
});

test('a released reservation stays released: a reservation that arrives after its release is refused', async () => {
  await request(sandbox.app).post('/inventory/reservations/R-1/release').expect(200);
  const late = await request(sandbox.app)
    .post('/inventory/reservations')
    .send({ orderId: 'R-1', items: [{ sku: 'SKU-TEE', quantity: 1 }] });
  expect(late.status).toBe(409);
  expect(late.body.code).toBe('RESERVATION_RELEASED');
});

test('refunds never exceed what was captured', async () => {
  const created = await pay('tok_silent');
  const id = created.body.paymentId as string;
  await request(sandbox.app).post(`/providers/primary/payments/${id}/refund`).send({ amount: 3998 }).expect(200);
  const again = await request(sandbox.app).post(`/providers/primary/payments/${id}/refund`).send({ amount: 3998 });
  expect(again.body).toMatchObject({ captured: 3998, refunded: 3998, status: 'refunded' });
});

describe('the fault switch', () => {
  const faults = (settings: object) => request(sandbox.app).post('/_sandbox/faults').send(settings);

  test('rate 1, mode error: every service call answers 503, the /_sandbox routes do not', async () => {
    await faults({ rate: 1, mode: 'error' }).expect(200);
    expect((await request(sandbox.app).get('/catalog')).status).toBe(503);
    expect((await pay('tok_ok')).status).toBe(503);
    expect((await request(sandbox.app).get('/_sandbox/ledger')).status).toBe(200);
    await faults({ rate: 0 }).expect(200);
    expect((await request(sandbox.app).get('/catalog')).status).toBe(200);
  });

  test('mode hang: the answer comes only after hangMs, and the call has still happened', async () => {
    await faults({ rate: 1, mode: 'hang', hangMs: 300 }).expect(200);
    const started = Date.now();
    const created = await pay('tok_lost', 'HANG-1');
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(created.status).toBe(201);
    await faults({ rate: 0 }).expect(200);
    expect((await request(sandbox.app).get('/providers/primary/payments?orderId=HANG-1')).body.payments).toHaveLength(
      1,
    );
  });

  test('mode hang: a caller that gives up first does not undo the call: it takes effect once the hang ends', async () => {
    await faults({ rate: 1, mode: 'hang', hangMs: 300 }).expect(200);
    const server = http.createServer(sandbox.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const abandoned = fetch(`http://127.0.0.1:${port}/providers/primary/payments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ orderId: 'HANG-2', amount: 3998, currency: 'EUR', token: 'tok_lost' }),
        signal: AbortSignal.timeout(100),
      });
      await expect(abandoned).rejects.toThrow();
      await eventually(
        () => sandbox.ledger.snapshot().payments.filter((payment) => payment.orderId === 'HANG-2').length,
        (payments) => payments === 1,
        2_000,
      );
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('reset turns faults off; bad settings are refused', async () => {
    await faults({ rate: 1, mode: 'error' }).expect(200);
    await request(sandbox.app).post('/_sandbox/reset').expect(200);
    expect((await request(sandbox.app).get('/catalog')).status).toBe(200);
    expect((await faults({ rate: 2 })).status).toBe(400);
  });
});
