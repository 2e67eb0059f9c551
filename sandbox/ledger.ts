import { randomBytes } from 'node:crypto';
import type { PaymentStatus } from '../domain/statuses';
import { OUT_OF_STOCK_CODE } from '../activities/inventory';
import { ALREADY_SHIPPED_CODE, FULFILLMENT_NOT_FOUND_CODE } from '../activities/fulfillment';
import { NOT_FOUND_CODE, NOT_PENDING_CODE } from '../payment-provider/protocol';

/** The sandbox catalog (docs/API.md, "The sandbox"): SKU, unit price in minor units, stock at start. */
export const SANDBOX_CATALOG = [
  { sku: 'SKU-TEE', unitPrice: 1999, stock: 1_000_000 },
  { sku: 'SKU-MUG', unitPrice: 1250, stock: 1_000_000 },
  { sku: 'SKU-CAP', unitPrice: 1500, stock: 1_000_000 },
  { sku: 'SKU-LAST', unitPrice: 999, stock: 1 },
] as const;

/** What a payment token makes the sandbox provider do (docs/API.md, "The sandbox"). */
export const PaymentToken = {
  OK: 'tok_ok',
  DECLINE: 'tok_decline',
  SILENT: 'tok_silent',
  LOST: 'tok_lost',
  DUPLICATE: 'tok_duplicate',
  LATE: 'tok_late',
} as const;
const KNOWN_TOKENS: readonly string[] = Object.values(PaymentToken);

export interface SandboxPayment {
  provider: string;
  paymentId: string;
  orderId: string;
  amount: number;
  currency: string;
  token: string;
  status: PaymentStatus;
  captured: number;
  refunded: number;
  /** When the provider opened it (ms since the epoch). */
  createdAt: number;
}

/** A reservation as inventory keeps it: the order's lines, and when it was made (ms since the epoch). */
export interface SandboxReservation {
  orderId: string;
  items: { sku: string; quantity: number }[];
  status: 'reserved' | 'released';
  createdAt: number;
}

/**
 * The page of `all` (oldest first) after the item `cursor` names, `limit` at most, and the cursor of the
 * next page (null: this is the last): how the sandbox's systems list what they made since a time.
 */
function pageAfter<T>(all: T[], idOf: (item: T) => string, cursor: string | null, limit: number) {
  const start = cursor === null ? 0 : all.findIndex((item) => idOf(item) === cursor) + 1;
  if (cursor !== null && start === 0) throw new SandboxError(400, 'INVALID_CURSOR', 'not a cursor this system gave');
  const items = all.slice(start, start + limit);
  return { items, nextCursor: start + limit < all.length ? idOf(items[items.length - 1]!) : null };
}

export class SandboxError extends Error {
  /** @param details more of the answer's body, beside its code and message. */
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * The sandbox's books: stock, reservations, payments, fulfillments and notifications. Every mutation is
 * idempotent per order (or per payment), as the real systems it stands in for are expected to be.
 */
export class Ledger {
  readonly stock = new Map<string, number>();
  private readonly reservations = new Map<string, SandboxReservation>();
  private readonly payments = new Map<string, SandboxPayment>();
  private readonly paymentByOrder = new Map<string, string>();
  private readonly fulfillments = new Map<string, string>();
  /** Orders whose fulfillment was cancelled, and those whose goods left the warehouse. */
  private readonly cancelledFulfillments = new Set<string>();
  private readonly shipped = new Set<string>();
  private readonly notifications = new Map<string, string>();

  constructor() {
    this.reset();
  }

  reset(): void {
    this.stock.clear();
    for (const entry of SANDBOX_CATALOG) this.stock.set(entry.sku, entry.stock);
    this.reservations.clear();
    this.payments.clear();
    this.paymentByOrder.clear();
    this.fulfillments.clear();
    this.cancelledFulfillments.clear();
    this.shipped.clear();
    this.notifications.clear();
  }

  catalog(skus?: readonly string[]) {
    return SANDBOX_CATALOG.filter((entry) => !skus || skus.includes(entry.sku)).map(({ sku, unitPrice }) => ({
      sku,
      unitPrice,
      stock: this.stock.get(sku) ?? 0,
    }));
  }

  /** All or nothing. A released order stays released: a reservation that arrives after its release is refused. */
  reserve(orderId: string, items: readonly { sku: string; quantity: number }[]): { created: boolean } {
    const existing = this.reservations.get(orderId);
    if (existing?.status === 'reserved') return { created: false };
    if (existing?.status === 'released') throw new SandboxError(409, 'RESERVATION_RELEASED', `${orderId} was released`);
    for (const { sku, quantity } of items) {
      const available = this.stock.get(sku);
      if (available === undefined) throw new SandboxError(409, 'UNKNOWN_SKU', `${sku} is not in the catalog`);
      if (available < quantity)
        throw new SandboxError(409, OUT_OF_STOCK_CODE, `${sku}: ${available} left, ${quantity} wanted`);
    }
    for (const { sku, quantity } of items) this.stock.set(sku, this.stock.get(sku)! - quantity);
    this.reservations.set(orderId, { orderId, items: [...items], status: 'reserved', createdAt: Date.now() });
    return { created: true };
  }

  release(orderId: string): void {
    const existing = this.reservations.get(orderId);
    if (existing?.status === 'reserved') {
      for (const { sku, quantity } of existing.items) this.stock.set(sku, (this.stock.get(sku) ?? 0) + quantity);
    }
    this.reservations.set(orderId, {
      orderId,
      items: existing?.items ?? [],
      status: 'released',
      createdAt: existing?.createdAt ?? Date.now(),
    });
  }

  /** Reservations made at `fromMs` or later, oldest first, by pages (see {@link pageAfter}). */
  reservationsSince(fromMs: number, cursor: string | null, limit: number) {
    const all = [...this.reservations.values()].filter((r) => r.createdAt >= fromMs);
    const { items, nextCursor } = pageAfter(all, (r) => r.orderId, cursor, limit);
    return { reservations: items, nextCursor };
  }

  /** Idempotent per provider and order: the same order asks twice, it gets the same payment. */
  createPayment(
    provider: string,
    input: { orderId: string; amount: number; currency: string; token: string },
    /**
     * How the provider's ids begin, and whether it keeps one payment per order: the sandbox's Stripe, like
     * Stripe, opens a session per call and relies on the caller's idempotency key.
     */
    { idPrefix = 'pay', onePerOrder = true }: { idPrefix?: string; onePerOrder?: boolean } = {},
  ) {
    const existingId = onePerOrder ? this.paymentByOrder.get(`${provider}/${input.orderId}`) : undefined;
    if (existingId) return { payment: this.payments.get(existingId)!, created: false };
    if (!KNOWN_TOKENS.includes(input.token))
      throw new SandboxError(422, 'INVALID_TOKEN', 'the payment token is not one the sandbox knows');
    const payment: SandboxPayment = {
      provider,
      paymentId: `${idPrefix}_${randomBytes(9).toString('hex')}`,
      ...input,
      status: 'pending',
      captured: 0,
      refunded: 0,
      createdAt: Date.now(),
    };
    this.payments.set(payment.paymentId, payment);
    if (onePerOrder) this.paymentByOrder.set(`${provider}/${input.orderId}`, payment.paymentId);
    return { payment, created: true };
  }

  payment(provider: string, paymentId: string): SandboxPayment {
    const payment = this.payments.get(paymentId);
    if (!payment || payment.provider !== provider)
      throw new SandboxError(404, NOT_FOUND_CODE, `no payment ${paymentId}`);
    return payment;
  }

  /** A payment by its id at whichever provider: the id in a checkout link is all the page has. */
  anyPayment(paymentId: string): SandboxPayment | undefined {
    return this.payments.get(paymentId);
  }

  paymentsOfOrder(provider: string, orderId: string): SandboxPayment[] {
    const id = this.paymentByOrder.get(`${provider}/${orderId}`);
    return id ? [this.payments.get(id)!] : [];
  }

  /**
   * A provider's payments created at `fromMs` or later, oldest first, `limit` at most, after the payment
   * `cursor` names (the last of the page before).
   */
  paymentsCreatedSince(provider: string, fromMs: number, cursor: string | null, limit: number) {
    const all = [...this.payments.values()].filter((p) => p.provider === provider && p.createdAt >= fromMs);
    const { items, nextCursor } = pageAfter(all, (p) => p.paymentId, cursor, limit);
    return { payments: items, nextCursor };
  }

  /** The customer paid: the provider captures at once (the money has moved). */
  succeed(payment: SandboxPayment): void {
    payment.status = 'succeeded';
    payment.captured = payment.amount;
  }

  fail(payment: SandboxPayment): void {
    if (payment.status === 'pending') payment.status = 'failed';
  }

  capture(payment: SandboxPayment): void {
    if (payment.status !== 'succeeded')
      throw new SandboxError(409, 'PAYMENT_NOT_SUCCEEDED', `${payment.paymentId} is ${payment.status}`);
  }

  /** Refunds up to what is captured and not yet refunded; never more. */
  refund(payment: SandboxPayment, amount: number): void {
    const refundable = payment.captured - payment.refunded;
    payment.refunded += Math.max(0, Math.min(amount, refundable));
    if (payment.captured > 0 && payment.refunded === payment.captured) payment.status = 'refunded';
  }

  void(payment: SandboxPayment): void {
    if (payment.status === 'voided' || payment.status === 'failed') return;
    if (payment.status !== 'pending')
      throw new SandboxError(409, NOT_PENDING_CODE, `${payment.paymentId} is ${payment.status}`);
    payment.status = 'voided';
  }

  fulfil(orderId: string): string {
    const existing = this.fulfillments.get(orderId);
    if (existing) return existing;
    const id = `ful_${randomBytes(6).toString('hex')}`;
    this.fulfillments.set(orderId, id);
    return id;
  }

  /**
   * Cancels the order's fulfillment, again and again alike: refused once its goods have shipped, and for an
   * order fulfillment never took. A submission after the cancel answers the same id and ships nothing.
   */
  cancelFulfillment(orderId: string): void {
    if (!this.fulfillments.has(orderId))
      throw new SandboxError(404, FULFILLMENT_NOT_FOUND_CODE, `fulfillment never took order ${orderId}`);
    if (this.shipped.has(orderId))
      throw new SandboxError(409, ALREADY_SHIPPED_CODE, `order ${orderId} has shipped`, {
        fulfillmentId: this.fulfillments.get(orderId)!,
      });
    this.cancelledFulfillments.add(orderId);
  }

  /** The warehouse ships the order's goods (`POST /_sandbox/fulfillment/orders/{orderId}/ship`). */
  ship(orderId: string): void {
    if (!this.fulfillments.has(orderId))
      throw new SandboxError(404, FULFILLMENT_NOT_FOUND_CODE, `fulfillment never took order ${orderId}`);
    if (this.cancelledFulfillments.has(orderId))
      throw new SandboxError(409, 'FULFILLMENT_CANCELLED', `order ${orderId}'s fulfillment was cancelled`);
    this.shipped.add(orderId);
  }

  /**
   * Records that a customer was told, under its key (`order-confirmed/A-1`, `payment-reminder/A-1/50%`);
   * the address is not kept, only that a message went out.
   */
  notify(key: string): string {
    const existing = this.notifications.get(key);
    if (existing) return existing;
    const id = `ntf_${randomBytes(6).toString('hex')}`;
    this.notifications.set(key, id);
    return id;
  }

  /** GET /_sandbox/ledger (docs/API.md, "The sandbox"), plus what fulfillment and notifications recorded. */
  snapshot() {
    return {
      payments: [...this.payments.values()].map(
        ({ provider, paymentId, orderId, amount, captured, refunded, status }) => ({
          provider,
          paymentId,
          orderId,
          amount,
          captured,
          refunded,
          status,
        }),
      ),
      stock: Object.fromEntries(this.stock),
      fulfillments: Object.fromEntries(this.fulfillments),
      cancelledFulfillments: [...this.cancelledFulfillments],
      shipped: [...this.shipped],
      notifications: [...this.notifications.keys()],
    };
  }
}
