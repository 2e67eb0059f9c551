import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { createHttpClient } from '../activities/http';
import { PaymentToken } from '../sandbox/ledger';
import { reconcile, reconcileThrough, type ReconcileParts } from '../stack/reconcile';
import { placedOrder } from './helpers/stored-orders';
import { atPaymentLink, eventually, LOST_PAYMENT, makeOrder, startStack, type TestStack } from './helpers/stack';

/**
 * What a restore loses, settled: payments the providers opened for orders the server does not know are
 * refunded or voided; those of orders it knows are left to their sagas.
 */
let stack: TestStack;
beforeAll(async () => {
  // The known orders wait at their payment links for the whole test: with the stacks' usual 3 s window, a
  // slow machine's test outlived it, and the order settled its own payment and stock meanwhile.
  stack = await startStack({ paymentWindowMs: 120_000 });
});
afterAll(async () => {
  await stack?.stop();
});

function parts(lines: string[], retries = { attempts: 5, retryDelayMs: 100 }): ReconcileParts {
  return {
    ...reconcileThrough(createHttpClient(), stack.endpoints),
    client: stack.client,
    store: stack.store,
    say: (line) => lines.push(line),
    ...retries,
  };
}

/** A payment opened at a provider for an order the server never heard of (accepted after the backup). */
async function paymentOfALostOrder(provider: 'primary' | 'backup', orderId: string, token: string) {
  const response = await stack.callSandbox(`/providers/${provider}/payments`, 'POST', {
    orderId,
    amount: 2500,
    currency: 'EUR',
    token,
  });
  expect(response.status).toBe(201);
}

/** An order the server knows, at its payment link at the primary (the customer never pays). */
async function anOrderAwaitingPayment() {
  const request = makeOrder({ payment: LOST_PAYMENT });
  const handle = await stack.startOrder(request);
  await atPaymentLink(handle);
  return request;
}

const paymentsOf = (orderId: string) => stack.ledger.snapshot().payments.filter((p) => p.orderId === orderId);
const net = (orderId: string) => paymentsOf(orderId).reduce((sum, p) => sum + p.captured - p.refunded, 0);

test('payments and reservations of orders the server does not know are refunded, voided or released, page after page; a known order is left to its saga', async () => {
  const since = new Date();
  const known = await anOrderAwaitingPayment();
  // Paid silently (no webhook reaches anyone), and opened but never paid: more than a provider's page.
  const paid = Array.from({ length: 3 }, (_, i) => `LOST-PAID-${since.getTime()}-${i}`);
  const pending = Array.from({ length: 110 }, (_, i) => `LOST-PENDING-${since.getTime()}-${i}`);
  for (const orderId of paid) await paymentOfALostOrder('primary', orderId, PaymentToken.SILENT);
  for (const orderId of pending) await paymentOfALostOrder('primary', orderId, PaymentToken.LOST);
  await paymentOfALostOrder('backup', `LOST-BACKUP-${since.getTime()}`, PaymentToken.SILENT);
  // Two lost orders had reserved stock too.
  const mugsBefore = stack.ledger.snapshot().stock['SKU-MUG']!;
  for (const orderId of paid.slice(0, 2)) {
    const response = await stack.callSandbox('/inventory/reservations', 'POST', {
      orderId,
      items: [{ sku: 'SKU-MUG', quantity: 3 }],
    });
    expect(response.status).toBe(201);
  }
  await eventually(
    () => paid.map(net),
    (nets) => nets.every((value) => value === 2500),
  );

  const lines: string[] = [];
  const report = await reconcile(since, parts(lines));

  expect(report).toEqual({
    listed: 1 + paid.length + pending.length + 1,
    unknown: paid.length + pending.length + 1,
    strays: 0,
    settled: { refunded: paid.length + 1, voided: pending.length, nothing: 0 },
    // The known order's reservation is held and left to its saga; the lost ones' are released.
    stock: { held: 3, released: 2 },
    forgotten: 0,
    failures: [],
  });
  expect(stack.ledger.snapshot().stock['SKU-MUG']).toBe(mugsBefore);
  for (const orderId of [...paid, ...pending, `LOST-BACKUP-${since.getTime()}`]) expect(net(orderId)).toBe(0);
  for (const orderId of pending) expect(paymentsOf(orderId)[0]!.status).toBe('voided');
  expect(paymentsOf(known.orderId)).toEqual([expect.objectContaining({ status: 'pending' })]);
  expect(lines).toContainEqual(
    expect.stringMatching(
      new RegExp(`order ${known.orderId}.*left alone, the order's own payment: its saga settles it`),
    ),
  );
  expect(lines.at(-1)).toMatch(
    /: 115 payments at 2 providers, 114 of orders the server does not know, 0 not their known order's: refunded 4, voided 110, nothing to settle 0; 3 reservations held, 2 released; 0 lost orders forgotten by the store; failures 0$/,
  );
});

test("a known order's payment that is not the one it keeps is settled; a dry run settles nothing", async () => {
  const since = new Date();
  // The order keeps its payment at the primary; the backup holds another for it (made, say, by the part of
  // its history that a restore lost).
  const request = await anOrderAwaitingPayment();
  await paymentOfALostOrder('backup', request.orderId, PaymentToken.SILENT);
  const atBackup = () => paymentsOf(request.orderId).find((p) => p.provider === 'backup')!;
  await eventually(atBackup, (payment) => payment.captured === 2500);

  const dryLines: string[] = [];
  const dry = await reconcile(since, { ...parts(dryLines), dryRun: true });
  expect(dry).toMatchObject({ listed: 2, unknown: 0, strays: 1, settled: { refunded: 0, voided: 0, nothing: 0 } });
  expect(dryLines).toContainEqual(
    expect.stringMatching(/not the order's payment \(it keeps pay_\w+ at primary\), would be settled \(dry run\)$/),
  );
  expect(atBackup().refunded).toBe(0);

  const report = await reconcile(since, parts([]));
  expect(report).toMatchObject({ listed: 2, unknown: 0, strays: 1, settled: { refunded: 1 }, failures: [] });
  expect(atBackup().refunded).toBe(2500);
  expect(paymentsOf(request.orderId).find((p) => p.provider === 'primary')).toMatchObject({ status: 'pending' });
});

test('an order Temporal no longer holds is judged by its record in the store of record; the store forgets the orders placed since that the server does not know', async () => {
  const before = new Date(Date.now() - 60_000);
  const since = new Date();
  // Confirmed, then forgotten by Temporal after its retention: its payment at the primary is its own; one at
  // the backup is not.
  const confirmed = placedOrder({ orderId: `PAST-RETENTION-${since.getTime()}` }, since);
  const { orderId } = confirmed.view;
  await paymentOfALostOrder('primary', orderId, PaymentToken.SILENT);
  await paymentOfALostOrder('backup', orderId, PaymentToken.SILENT);
  const own = await eventually(
    () => paymentsOf(orderId).find((p) => p.provider === 'primary'),
    (payment) => payment?.captured === 2500,
  );
  await stack.store.record({
    orderId,
    requestHash: 'h',
    events: [confirmed.event(1)],
    view: {
      ...confirmed.view,
      status: 'CONFIRMED',
      payment: { provider: 'primary', paymentId: own!.paymentId, status: 'succeeded', checkoutUrl: 'https://pay.test' },
    },
    lastSeq: 1,
    closed: true,
  });
  // Placed in the store and then lost with its workflow (or never started): its money goes back, its record too.
  const lost = placedOrder({ orderId: `PLACED-LOST-${since.getTime()}` }, since);
  await stack.store.claim(lost.claim);
  await paymentOfALostOrder('primary', lost.view.orderId, PaymentToken.LOST);
  // Placed before the time: not the restore's to judge.
  const older = placedOrder({ orderId: `PLACED-BEFORE-${since.getTime()}` }, before);
  await stack.store.claim(older.claim);
  await eventually(
    () => net(orderId),
    (value) => value === 5000,
  );

  const dryLines: string[] = [];
  const dry = await reconcile(since, { ...parts(dryLines), dryRun: true });
  expect(dry).toMatchObject({ listed: 3, unknown: 1, strays: 1, forgotten: 0, failures: [] });
  expect(dryLines).toContainEqual(
    `order ${lost.view.orderId}, placed in the store: unknown to the server, would be forgotten (dry run)`,
  );
  expect(await stack.store.find(lost.view.orderId)).not.toBeNull();

  const lines: string[] = [];
  const report = await reconcile(since, parts(lines));
  expect(report).toMatchObject({
    listed: 3,
    unknown: 1,
    strays: 1,
    settled: { refunded: 1, voided: 1, nothing: 0 },
    forgotten: 1,
    failures: [],
  });
  expect(paymentsOf(orderId)).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ provider: 'primary', captured: 2500, refunded: 0 }),
      expect.objectContaining({ provider: 'backup', captured: 2500, refunded: 2500 }),
    ]),
  );
  expect(lines).toContainEqual(
    expect.stringMatching(new RegExp(`order ${orderId}.*left alone, the order's own payment`)),
  );
  expect(paymentsOf(lost.view.orderId)).toEqual([expect.objectContaining({ status: 'voided' })]);
  expect(await stack.store.find(lost.view.orderId)).toBeNull();
  expect(await stack.store.events(lost.view.orderId)).toBeNull();
  expect(await stack.store.find(older.view.orderId)).not.toBeNull();
  expect(await stack.store.find(orderId)).toMatchObject({ closed: true });
});

test('a provider down past the retries is reported and nothing of it is half done; the next run settles it', async () => {
  const since = new Date();
  const orderId = `LOST-DOWN-${since.getTime()}`;
  await paymentOfALostOrder('backup', orderId, PaymentToken.SILENT);
  await eventually(
    () => net(orderId),
    (value) => value === 2500,
  );
  await stack.outage('backup', true);
  const lines: string[] = [];
  let report;
  try {
    report = await reconcile(since, parts(lines, { attempts: 2, retryDelayMs: 50 }));
  } finally {
    await stack.outage('backup', false);
  }
  expect(report.failures).toEqual([expect.stringMatching(/^could not list backup's payments \(/)]);
  expect(lines).toContainEqual(expect.stringMatching(/^listing backup's payments failed \(.*\): try 2 of 2 in 50 ms$/));
  expect(net(orderId)).toBe(2500);

  const again = await reconcile(since, parts([]));
  expect(again.failures).toEqual([]);
  expect(again.settled.refunded).toBe(1);
  expect(net(orderId)).toBe(0);
});

test('npm run reconcile refuses a --since it cannot read, saying what it wants', () => {
  const script = path.resolve(__dirname, '..', 'scripts', 'reconcile.ts');
  for (const [args, message] of [
    [['--since', 'yesterday'], '--since "yesterday" is not an ISO 8601 time with a zone'],
    [[], '--since is required'],
  ] as const) {
    const result = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
  }
});
