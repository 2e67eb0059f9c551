import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium } from './chromium';
import { startLocalStack, throwawayLocalStackConfig } from '../../stack/local-stack';
import { installTestRuntime, LOST_PAYMENT, makeOrder } from '../helpers/stack';

/**
 * What a support engineer does: finds an order in the local Web UI by its id, opens it, and reads its
 * decoded input, summary and live step. Real Temporal UI, real codec listener, headless Chromium.
 */
const ARTIFACTS = path.resolve(__dirname, '..', 'artifacts');

installTestRuntime();

let dataDir: string;
let stack: Awaited<ReturnType<typeof startLocalStack>>;
let uiUrl: string;
let browser: BrowserContext;
let page: Page;
const order = makeOrder({ payment: LOST_PAYMENT });

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'order-saga-ui-'));
  const config = await throwawayLocalStackConfig(dataDir);
  uiUrl = `http://127.0.0.1:${config.temporal.uiPort}`;
  stack = await startLocalStack(config);
  const placed = await fetch(`${stack.apiUrl}/orders`, {
    method: 'POST',
    headers: { authorization: 'Bearer dev-checkout', 'content-type': 'application/json' },
    body: JSON.stringify(order),
  });
  expect(placed.status).toBe(201);
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launchChromium({ viewport: { width: 1400, height: 1000 } });
  page = await browser.newPage();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The UI renders summaries and details (Markdown) in sandboxed iframes: look in every frame until one has the text. */
async function textInSomeFrame(page: Page, text: string | RegExp, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const frame of page.frames()) {
      const body = await frame
        .locator('body')
        .innerText({ timeout: 1_000 })
        .catch(() => '');
      if (typeof text === 'string' ? body.includes(text) : text.test(body)) return;
    }
    if (Date.now() > deadline) throw new Error(`no frame shows ${String(text)} within ${timeoutMs} ms`);
    await page.waitForTimeout(250);
  }
}

test('support finds the order by its OrderId search attribute', async () => {
  const query = encodeURIComponent(`OrderId="${order.orderId}"`);
  await page.goto(`${uiUrl}/namespaces/default/workflows?query=${query}`, { waitUntil: 'domcontentloaded' });
  await page
    .getByRole('link', { name: `order-${order.orderId}` })
    .first()
    .waitFor({ timeout: 30_000 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'web-ui-search.png') });
});

test('the order page shows the decoded input; User Metadata shows the summary and the live step', async () => {
  await page.goto(`${uiUrl}/namespaces/default/workflows/order-${order.orderId}`, { waitUntil: 'domcontentloaded' });
  // Decoded by the codec listener: in history it is AES-256-GCM ciphertext.
  await page.getByText(`"email": "${order.customer.email}"`).first().waitFor({ timeout: 30_000 });
  // Each call's summary: a step's first attempt is a local activity, which the Event History lists as
  // "Local Activity" with its type and summary (the timeline above labels it by type only).
  await page
    .getByRole('tab', { name: /Event History/ })
    .or(page.getByRole('link', { name: /Event History/ }))
    .first()
    .click();
  await page.getByText('request payment of 39.98 EUR at primary').first().waitFor();
  await page.screenshot({ path: path.join(ARTIFACTS, 'web-ui-order-history.png') });

  // The run's page has a tab of its own for User Metadata.
  await page
    .getByRole('tab', { name: 'User Metadata' })
    .or(page.getByRole('link', { name: 'User Metadata' }))
    .first()
    .click();
  await textInSomeFrame(page, `Order ${order.orderId} · customer ${order.customer.id} · 39.98 EUR`);
  await textInSomeFrame(page, /Waiting for primary.s payment callback for pay_\w+ until \d{4}-/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'web-ui-order-summary.png') });
});
