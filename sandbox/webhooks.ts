import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import type { PaymentEventType } from '../domain/statuses';
import type { PaymentWebhookEvent } from '../payment-provider/protocol';
import { SIGNATURE_HEADER, signWebhook } from '../payment-provider/signature';
import { traceHeaders } from '../observability/trace-context';
import type { SandboxPayment } from './ledger';
import { stripeSignatureHeaders } from './stripe';
import type { PaymentProviderType } from '../payment-provider/providers';
import type { PinoLogger } from '../observability/logger';
import { errorMessage } from '../domain/errors';

/** Delivery attempts per webhook, with doubling waits: a provider retries until the receiver answers 2xx. */
const MAX_ATTEMPTS = 8;
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5_000;
const DELIVERY_TIMEOUT_MS = 5_000;

/** How many sent webhooks the sandbox remembers, for tests that redeliver or reorder real events. */
const REMEMBERED = 2_000;

/** Sends signed payment webhooks (docs/API.md, "Payment webhooks") the way a provider does: retried, and possibly more than once. */
export class WebhookSender {
  /** Each provider's signature over a body, as its type signs: `Payment-Signature`, or Stripe's own. */
  private readonly signers: Map<string, (body: string) => Record<string, string>>;
  private readonly pending = new Set<NodeJS.Timeout>();
  /** Bumped by {@link cancelAll}: a delivery on the wire from before it schedules no retry after it. */
  private generation = 0;
  private closed = false;
  /** The events sent, oldest first (at most REMEMBERED): GET /_sandbox/webhooks. */
  readonly sent: { provider: string; body: string }[] = [];

  constructor(
    private readonly baseUrl: string,
    providers: readonly { name: string; webhookSecret: string; type?: PaymentProviderType }[],
    private readonly logger: PinoLogger,
  ) {
    this.signers = new Map(
      providers.map(({ name, webhookSecret, type }) => [
        name,
        type === 'stripe'
          ? (body: string) => stripeSignatureHeaders(webhookSecret, body)
          : (body: string) => ({ [SIGNATURE_HEADER]: signWebhook(webhookSecret, body, Math.floor(Date.now() / 1000)) }),
      ]),
    );
  }

  /** Sends one event about the payment `copies` times (the same event id each time). */
  send(payment: SandboxPayment, type: PaymentEventType, copies: number, failureReason: string | null = null): void {
    // The body the providers' contract defines, which the API parses.
    const event: PaymentWebhookEvent = {
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
    this.sendEvent(payment.provider, payment.orderId, JSON.stringify(event), copies);
  }

  /** Sends an event body already made in the provider's own shape (the sandbox's Stripe makes Stripe's). */
  sendEvent(provider: string, orderId: string, body: string, copies = 1): void {
    this.sent.push({ provider, body });
    if (this.sent.length > REMEMBERED) this.sent.shift();
    for (let copy = 0; copy < copies; copy++) void this.deliver(provider, orderId, body, 1);
  }

  /** Drops every retry, waiting or yet to be scheduled by a delivery on the wire (which itself finishes). */
  cancelAll(): void {
    this.generation++;
    for (const timer of this.pending) clearTimeout(timer);
    this.pending.clear();
  }

  /** Stops sending: no new delivery and no retry. */
  close(): void {
    this.closed = true;
    this.cancelAll();
  }

  /** One attempt, through undici's `request` rather than `fetch` (the same reason as the activities' client). */
  private async deliver(
    provider: string,
    orderId: string,
    body: string,
    attempt: number,
    generation = this.generation,
  ): Promise<void> {
    if (this.closed) return;
    try {
      const response = await request(`${this.baseUrl}/webhooks/payments/${provider}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...this.signers.get(provider)!(body),
          // The provider's call goes on in the trace of the payment request that caused it, when tracing is on.
          ...traceHeaders(),
        },
        body,
        signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
      });
      await response.body.dump();
      if (response.statusCode >= 200 && response.statusCode < 300) return;
      this.logger.warn({ provider, orderId, attempt, status: response.statusCode }, 'webhook refused');
    } catch (err) {
      // The receiver is down or slow: retry below, as a provider would.
      this.logger.warn({ provider, orderId, attempt, error: errorMessage(err) }, 'webhook not delivered');
    }
    if (attempt >= MAX_ATTEMPTS || generation !== this.generation) return;
    const timer = setTimeout(
      () => {
        this.pending.delete(timer);
        void this.deliver(provider, orderId, body, attempt + 1, generation);
      },
      Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (attempt - 1)),
    );
    this.pending.add(timer);
  }
}
