import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createOrdersClient } from '../client';
import { createLogger } from '../observability/logger';
import { installWorkerRuntime } from '../observability/worker-runtime';
import { PaymentToken } from '../sandbox/ledger';
import { startLocalStack, throwawayLocalStackConfig } from '../stack/local-stack';
import { isTerminal } from '../domain/order-state';
import { runScript } from '../stack/children';
import { TOOLS_BIN } from '../stack/temporal-cli';
import { waitForOrdersToEnd } from './order-checks';

/**
 * `npm run test:metrics`: Prometheus's own linter, `promtool check metrics`, on both metrics endpoints of
 * a real local stack after orders have ended one way and another (so the business series exist): any
 * finding (a camelCase label, a gauge named like a counter, a missing help text) fails the run.
 */
const PROMTOOL_TIMEOUT_MS = 30_000;
const ORDERS_END_WITHIN_MS = 60_000;
const say = (line: string) => console.log(`[metrics] ${line}`);

/** promtool as PROMTOOL names it, else the one .ci/run unpacks into .tools/bin, else the one on PATH. */
function promtool(): string {
  if (process.env.PROMTOOL) return process.env.PROMTOOL;
  const provisioned = path.join(TOOLS_BIN, 'promtool');
  return existsSync(provisioned) ? provisioned : 'promtool';
}

/** promtool's findings on one scrape: empty when it is clean. */
function lint(exposition: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(promtool(), ['check', 'metrics'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: PROMTOOL_TIMEOUT_MS,
    });
    let findings = '';
    child.stdout.on('data', (chunk: Buffer) => (findings += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (findings += chunk.toString()));
    child.once('error', (err) =>
      reject(new Error(`cannot run promtool (${err.message}): apt-get install prometheus, or set PROMTOOL`)),
    );
    child.once('exit', (code) => resolve(code === 0 ? '' : findings.trim() || `promtool exited with ${code}`));
    child.stdin.end(exposition);
  });
}

async function main(): Promise<number> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'order-saga-metrics-'));
  const config = await throwawayLocalStackConfig(dataDir);
  installWorkerRuntime({
    logger: createLogger({ level: 'warn' }),
    metrics: { host: '127.0.0.1', port: config.workerMetricsPort },
  });
  const stack = await startLocalStack(config, say);
  try {
    const checkout = createOrdersClient(stack.apiUrl, 'dev-checkout');
    // One order confirmed, one cancelled: every business series the saga writes on a normal day.
    const tokens = [PaymentToken.OK, PaymentToken.DECLINE];
    const orderIds = await Promise.all(
      tokens.map(async (token) => {
        const orderId = `M-${randomUUID().slice(0, 13)}`;
        const { response } = await checkout.POST('/orders', {
          body: {
            orderId,
            customer: { id: 'c-metrics', email: 'metrics@example.com' },
            currency: 'EUR',
            items: [{ sku: 'SKU-TEE', quantity: 1, unitPrice: 1999 }],
            shippingAddress: {
              name: 'M Etrics',
              line1: '1 Main St',
              city: 'Paris',
              postalCode: '75001',
              country: 'FR',
            },
            payment: { method: 'card', token },
          },
        });
        if (response.status >= 300) throw new Error(`POST /orders answered ${response.status}`);
        return orderId;
      }),
    );
    const read = async (orderId: string) =>
      (await checkout.GET('/orders/{orderId}', { params: { path: { orderId } } })).data ?? null;
    const views = await waitForOrdersToEnd(orderIds, read, { timeoutMs: ORDERS_END_WITHIN_MS });
    const unended = orderIds.filter((orderId) => {
      const view = views.get(orderId);
      return !view || !isTerminal(view.status);
    });
    if (unended.length) throw new Error(`orders ${unended.join(', ')} did not end within ${ORDERS_END_WITHIN_MS} ms`);
    let failed = 0;
    for (const [part, url] of [
      ['API', `${stack.apiUrl}/metrics`],
      ['worker', `http://127.0.0.1:${config.workerMetricsPort}/metrics`],
    ] as const) {
      const exposition = await (await fetch(url)).text();
      const findings = await lint(exposition);
      say(
        `${part} ${url}: ${exposition.split('\n').filter((line) => line && !line.startsWith('#')).length} samples, ${findings ? `promtool finds:\n${findings}` : 'promtool check metrics clean'}`,
      );
      if (findings) failed++;
    }
    return failed ? 1 : 0;
  } finally {
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// runScript stops the dev server (in a process group of its own) however the run ends, Ctrl-C included.
runScript(main, { name: 'metrics' });
