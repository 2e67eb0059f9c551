import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { launchChromium } from './chromium';
import type { Config } from '../../config';
import type { OrderView } from '../../domain/order-state';
import { startLocalStack, throwawayLocalStackConfig } from '../../stack/local-stack';
import { closeServer, listen } from '../../stack/parts';
import { installTestRuntime, LOST_PAYMENT, makeOrder, orderInCookie } from '../helpers/stack';
import { checkoutBackend } from '../../examples/checkout-backend';
import { DEV_ORDER_WEBHOOK_SECRET } from '../../sandbox/status-event-receiver';

/**
 * What a checkout page does: follows its order live with the browser's own `EventSource`, through the
 * checkout's backend of docs/CHECKOUT.md, which holds the API token (a browser's EventSource cannot send one, and a checkout
 * never hands its token to a customer's browser). Real stack, headless Chromium.
 */

/** The checkout page: every event of the stream, one line each, as it comes. */
const PAGE = `<!doctype html><html><body><ol id="events"></ol><script>
  const orderId = new URLSearchParams(location.search).get('order');
  const source = new EventSource('/order-stream/' + encodeURIComponent(orderId));
  const show = (type) => (message) => {
    const item = document.createElement('li');
    const body = JSON.parse(message.data);
    // The order as it is, or a status event with the order as it left it.
    item.textContent = type + ' ' + (body.data ? body.data.status : body.status);
    item.dataset.type = type;
    document.getElementById('events').append(item);
  };
  for (const type of ['order', 'order.paid', 'order.confirmed']) source.addEventListener(type, show(type));
  // The server ends the stream at a terminal status; EventSource would reconnect: the page stops it.
  source.addEventListener('order.confirmed', () => source.close());
</script></body></html>`;

installTestRuntime();

let dataDir: string;
let config: Config;
let stack: Awaited<ReturnType<typeof startLocalStack>>;
let checkout: http.Server;
let checkoutUrl: string;
let browser: BrowserContext;

/**
 * The checkout's backend: the guide's own (examples/checkout-backend.ts), which passes the order's stream on
 * with its token to the visitor whose session placed the order, plus the page, which opens that session.
 */
function checkoutPage(apiUrl: string): http.Server {
  const app = checkoutBackend({
    apiUrl,
    token: 'dev-checkout',
    webhookSecret: DEV_ORDER_WEBHOOK_SECRET,
    onOrderEvent: () => undefined,
    mayFollow: orderInCookie,
  });
  app.get('/', (req, res) => {
    res.cookie('order', String(req.query.order), { httpOnly: true, sameSite: 'strict' }).type('html').send(PAGE);
  });
  return http.createServer(app);
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'order-saga-stream-'));
  config = await throwawayLocalStackConfig(dataDir);
  stack = await startLocalStack(config);
  checkout = checkoutPage(stack.apiUrl);
  checkoutUrl = `http://127.0.0.1:${await listen(checkout, 0)}`;
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  if (checkout) await closeServer(checkout);
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('a checkout page sees its order at its payment link, then paid and confirmed as they happen', async () => {
  const order = makeOrder({ payment: LOST_PAYMENT });
  const placed = await fetch(`${stack.apiUrl}/orders`, {
    method: 'POST',
    headers: { authorization: 'Bearer dev-checkout', 'content-type': 'application/json' },
    body: JSON.stringify(order),
  });
  expect(placed.status).toBe(201);
  const view = (await placed.json()) as OrderView;

  const page = await browser.newPage();
  await page.goto(`${checkoutUrl}/?order=${order.orderId}`);
  await page.locator('li[data-type="order"]').waitFor({ timeout: 20_000 });
  expect(await page.locator('li').allTextContents()).toEqual(['order AWAITING_PAYMENT']);

  const paid = await fetch(
    `${config.sandboxUrl}/providers/${view.payment!.provider}/checkout/${view.payment!.paymentId}`,
    {
      method: 'POST',
    },
  );
  expect(paid.status).toBe(200);
  await page.locator('li[data-type="order.confirmed"]').waitFor({ timeout: 20_000 });
  expect(await page.locator('li').allTextContents()).toEqual([
    'order AWAITING_PAYMENT',
    'order.paid PAID',
    'order.confirmed CONFIRMED',
  ]);
});
