import { z } from 'zod';
import { OperatorAction } from '../operator-actions';
import { OrderItem } from './order-request';
import { OrderReason, PaymentStatus, ReasonCode } from './order-state';

/** The operator actions support staff can take on an order in `REQUIRES_ATTENTION`. */
export const OperatorActionKind = z.enum(OperatorAction);
export type OperatorActionKind = z.infer<typeof OperatorActionKind>;

const PaymentRef = { provider: z.string(), paymentId: z.string() };
/**
 * A payment after the order's end, which a lost workflow task may have made without the order learning its
 * id: null then, the order's payment at that provider, found by order id.
 */
const LatePaymentRef = { provider: z.string(), paymentId: z.string().nullable() };

/**
 * Domain events: the order's history in business terms. The saga appends them; its state is only
 * ever `events.reduce(evolve, null)`.
 */
const EVENT_BODIES = [
  z.object({
    type: z.literal('OrderReceived'),
    data: z.object({ orderId: z.string(), customerId: z.string(), currency: z.string(), items: z.array(OrderItem) }),
  }),
  z.object({ type: z.literal('OrderValidated'), data: z.object({ total: z.int() }) }),
  z.object({ type: z.literal('OrderRejected'), data: OrderReason }),
  z.object({ type: z.literal('StockReserved'), data: z.object({}) }),
  z.object({
    type: z.literal('PaymentProviderUnavailable'),
    data: z.object({ provider: z.string(), message: z.string() }),
  }),
  z.object({
    type: z.literal('PaymentRequested'),
    data: z.object({ ...PaymentRef, amount: z.int(), checkoutUrl: z.string() }),
  }),
  z.object({ type: z.literal('PaymentSucceeded'), data: z.object({ ...PaymentRef, eventId: z.string() }) }),
  z.object({
    type: z.literal('PaymentFailed'),
    data: z.object({ ...PaymentRef, eventId: z.string(), failureReason: z.string() }),
  }),
  /**
   * The customer, who had not paid, was reminded with the payment link at a point of the window (`point` as
   * `PAYMENT_REMINDERS` names it), before the window closes at `closesAt`.
   */
  z.object({
    type: z.literal('PaymentReminderSent'),
    data: z.object({ ...PaymentRef, point: z.string(), closesAt: z.string() }),
  }),
  z.object({ type: z.literal('PaymentWindowExpired'), data: z.object({ windowMs: z.int() }) }),
  z.object({ type: z.literal('PaymentReconciled'), data: z.object({ ...PaymentRef, providerStatus: PaymentStatus }) }),
  z.object({ type: z.literal('OrderConfirmed'), data: z.object({ fulfillmentId: z.string() }) }),
  /** A submission that failed, cancelled at fulfillment: nothing of the order will ship (`taken`: it had the order). */
  z.object({ type: z.literal('FulfillmentCancelled'), data: z.object({ taken: z.boolean() }) }),
  z.object({ type: z.literal('CompensationStarted'), data: OrderReason }),
  z.object({
    type: z.literal('PaymentRefunded'),
    data: z.object({ ...PaymentRef, amount: z.int(), late: z.boolean() }),
  }),
  z.object({ type: z.literal('PaymentVoided'), data: z.object(PaymentRef) }),
  /**
   * Money the order does not keep, whose refund its provider kept refusing at the order's end or after:
   * support must settle it (the late refund goes on trying; its settlement clears it).
   */
  z.object({ type: z.literal('LateMoneyRefused'), data: z.object({ ...LatePaymentRef, message: z.string() }) }),
  /** The provider has no record of the payment, or none outstanding: nothing is there to return. */
  z.object({ type: z.literal('PaymentNotFound'), data: z.object(LatePaymentRef) }),
  /** Reserved stock given back: in the compensation, or after the end once a refused release went through. */
  z.object({ type: z.literal('StockReleased'), data: z.object({}) }),
  /**
   * Stock a lost workflow task may have reserved, whose release inventory kept refusing at the order's end:
   * support must release it (the late release goes on trying; its release clears it).
   */
  z.object({ type: z.literal('StockReleaseRefused'), data: z.object({ message: z.string() }) }),
  z.object({ type: z.literal('OrderCancelled'), data: z.object({}) }),
  z.object({ type: z.literal('CompensationFailed'), data: z.object({ step: z.string(), message: z.string() }) }),
  z.object({
    type: z.literal('OperatorAction'),
    data: z.object({ action: OperatorActionKind, operator: z.string(), note: z.string() }),
  }),
  z.object({ type: z.literal('OrderFlaggedStuck'), data: z.object({ status: z.string(), slaMs: z.int() }) }),
  /** A step got an answer the saga has no meaning for, or gave up on its system: the order waits for an operator. */
  z.object({
    type: z.literal('StepFailed'),
    data: z.object({ step: z.string(), code: ReasonCode, message: z.string() }),
  }),
] as const;
/** One event's body: its type and data (a type only: bodies are built by code, never parsed). */
export type OrderEventBody = z.infer<(typeof EVENT_BODIES)[number]>;
export type OrderEventType = OrderEventBody['type'];

/** An event as recorded: numbered from 1 without gaps, stamped with workflow time. */
export type OrderEvent = { seq: number; at: string } & OrderEventBody;
const seq = z.int().min(1);
/**
 * The schema of a recorded event: each body with its envelope, as one discriminated union (an intersection
 * would render as an `allOf` of two closed objects that no event satisfies).
 */
export const OrderEvent = z.discriminatedUnion(
  'type',
  // Keys in docs/API.md's order (zod's output follows the schema's): seq, type, at, data.
  EVENT_BODIES.map(({ shape }) =>
    z.object({ seq, type: shape.type, at: z.string(), data: shape.data }),
  ) as unknown as typeof EVENT_BODIES,
) as unknown as z.ZodType<OrderEvent>;
