import { randomBytes } from 'node:crypto';
import { Agent, request } from 'undici';
import { SIGNATURE_HEADER, signWebhook } from '../api/webhook-signature';
import type { SandboxPayment } from './ledger';
import type { PinoLogger } from '../observability/logger';

/** Delivery attempts per webhook, with doubling waits: a provider retries until the receiver answers 2xx. */
const MAX_ATTEMPTS = 8;
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5_000;
const DELIVERY_TIMEOUT_MS = 5_000;

/** How many sent webhooks the sandbox remembers, for tests that redeliver or reorder real events. */
const REMEMBERED = 2_000;

/** Sends signed payment webhooks (API.md §4) the way a provider does: retried, and possibly more than once. */
export class WebhookSender {
  /** undici's `request` on a keep-alive pool, not `fetch`, for the same reason as the activities' client. */
  private readonly dispatcher = new Agent({
    connect: { timeout: DELIVERY_TIMEOUT_MS },
    headersTimeout: DELIVERY_TIMEOUT_MS,
    bodyTimeout: DELIVERY_TIMEOUT_MS,
  });
  private readonly secrets: Map<string, string>;
  private readonly pending = new Set<NodeJS.Timeout>();
  /** The events sent, oldest first (at most REMEMBERED): GET /_sandbox/webhooks. */
  readonly sent: { provider: string; body: string }[] = [];

  constructor(
    private readonly baseUrl: string,
    providers: readonly { name: string; webhookSecret: string }[],
    private readonly logger: PinoLogger,
  ) {
    this.secrets = new Map(providers.map((p) => [p.name, p.webhookSecret]));
  }

  /** Sends one event about the payment `copies` times (the same event id each time). */
  send(payment: SandboxPayment, type: 'payment.succeeded' | 'payment.failed', copies: number, failureReason: string | null = null): void {
    const event = {
      id: `evt_${randomBytes(9).toString('hex')}`,
      type,
      created: Math.floor(Date.now() / 1000),
      data: {
        paymentId: payment.paymentId,
        orderId: payment.orderId,
        amount: payment.amount,
        currency: payment.currency,
        failureReason,
      },
    };
    const body = JSON.stringify(event);
    this.sent.push({ provider: payment.provider, body });
    if (this.sent.length > REMEMBERED) this.sent.shift();
    for (let copy = 0; copy < copies; copy++) void this.deliver(payment.provider, payment.orderId, body, 1);
  }

  /** Drops the retries still waiting (a delivery already on the wire finishes). */
  cancelAll(): void {
    for (const timer of this.pending) clearTimeout(timer);
    this.pending.clear();
  }

  /** Stops sending: the retries are dropped, and the connections close once the deliveries on the wire finish. */
  close(): void {
    this.cancelAll();
    if (!this.dispatcher.closed) void this.dispatcher.close();
  }

  private async deliver(provider: string, orderId: string, body: string, attempt: number): Promise<void> {
    const secret = this.secrets.get(provider)!;
    try {
      const response = await request(`${this.baseUrl}/webhooks/payments/${provider}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signWebhook(secret, body, Math.floor(Date.now() / 1000)),
        },
        body,
        dispatcher: this.dispatcher,
      });
      await response.body.dump();
      if (response.statusCode >= 200 && response.statusCode < 300) return;
      this.logger.warn({ provider, orderId, attempt, status: response.statusCode }, 'webhook refused');
    } catch (err) {
      // The receiver is down or slow: retry below, as a provider would.
      this.logger.warn({ provider, orderId, attempt, error: err instanceof Error ? err.message : String(err) }, 'webhook not delivered');
    }
    if (attempt >= MAX_ATTEMPTS) return;
    const timer = setTimeout(() => {
      this.pending.delete(timer);
      void this.deliver(provider, orderId, body, attempt + 1);
    }, Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (attempt - 1)));
    this.pending.add(timer);
  }
}
