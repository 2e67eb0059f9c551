import type { WorkflowHandle } from '@temporalio/client';
import { cancelOrderSignal } from '../../domain/contract';
import type { OrderView } from '../../domain/order-state';
import type { OrderStatus } from '../../domain/statuses';
import type { ReasonCode } from '../../domain/reasons';
import type { RouteFaultSetting, SandboxRoute } from '../../sandbox/route-faults';
import {
  atPaymentLink,
  auth,
  eventually,
  makeOrder,
  netMoney,
  startStack,
  type StackOptions,
  type SystemName,
} from './stack';

/**
 * Every call the saga makes × every way it can fail. Each cell runs one order on a stack of its own (the
 * sandbox's switches are per route, not per order), with timeouts short enough that a hang and a retry
 * budget play out in a second or two.
 */
export const MATRIX_SETTINGS = {
  httpTimeoutMs: 300,
  stepGiveUpMs: 1_500,
  compensationGiveUpMs: 1_500,
  paymentWindowMs: 1_500,
};
/** Longer than the retry budgets above: a hung call lands after its step has given up on it. */
const HANG_MS = 2_000;

/** How one call is reached: the order's token, the route and system it uses, and when its fault goes on. */
interface Call {
  route: SandboxRoute;
  system: SystemName;
  token: 'tok_ok' | 'tok_lost';
  /** `start`: before the order starts; `awaiting-payment`: once it has its payment link (the steps before it ran clean). */
  armAt: 'start' | 'awaiting-payment';
  /** The customer cancels once the fault is on (the compensations are the calls under test). */
  cancel?: boolean;
}

export const CALLS = {
  catalog: { route: 'catalog', system: 'catalog', token: 'tok_ok', armAt: 'start' },
  reserve: { route: 'reserve', system: 'inventory', token: 'tok_ok', armAt: 'start' },
  release: { route: 'release', system: 'inventory', token: 'tok_lost', armAt: 'awaiting-payment', cancel: true },
  'create payment': { route: 'create-payment', system: 'payments', token: 'tok_ok', armAt: 'start' },
  'payment status': { route: 'get-payment', system: 'payments', token: 'tok_lost', armAt: 'awaiting-payment' },
  settle: { route: 'void', system: 'payments', token: 'tok_lost', armAt: 'awaiting-payment', cancel: true },
  fulfillment: { route: 'fulfillment', system: 'fulfillment', token: 'tok_ok', armAt: 'start' },
  notification: { route: 'notifications', system: 'notifications', token: 'tok_ok', armAt: 'start' },
} satisfies Record<string, Call>;
export type CallName = keyof typeof CALLS;

/** The fault kinds: a route's switch, or the system's port refusing connections. */
export const FAULTS = {
  '503': { kind: 'status', status: 503 },
  '400': { kind: 'status', status: 400 },
  '404': { kind: 'status', status: 404 },
  '409': { kind: 'status', status: 409 },
  '422': { kind: 'status', status: 422 },
  'bad body': { kind: 'bad-body' },
  hang: { kind: 'hang', ms: HANG_MS },
  refused: 'refused',
} satisfies Record<string, RouteFaultSetting | 'refused'>;
export type FaultName = keyof typeof FAULTS;

/**
 * Where an order ends: `status CODE`. An order in `REQUIRES_ATTENTION` is then handed an operator's
 * retry with the fault gone, and must end `CANCELLED` with the reason it compensated for.
 */
type Outcome = `${OrderStatus}${'' | ` ${ReasonCode}`}`;

const ATTENTION_UNEXPECTED = 'REQUIRES_ATTENTION UNEXPECTED_ANSWER';
const ATTENTION_EXHAUSTED = 'REQUIRES_ATTENTION RETRIES_EXHAUSTED';
const ATTENTION_COMPENSATION = 'REQUIRES_ATTENTION COMPENSATION_FAILED';
const UNEXPECTED_4XX = {
  '400': ATTENTION_UNEXPECTED,
  '404': ATTENTION_UNEXPECTED,
  '409': ATTENTION_UNEXPECTED,
  '422': ATTENTION_UNEXPECTED,
} as const;
const COMPENSATION_4XX = {
  '400': ATTENTION_COMPENSATION,
  '404': ATTENTION_COMPENSATION,
  '409': ATTENTION_COMPENSATION,
  '422': ATTENTION_COMPENSATION,
} as const;

/** What each cell must end as (docs/RELIABILITY.md shows the same table). */
export const EXPECTED: Record<CallName, Record<FaultName, Outcome>> = {
  catalog: {
    '503': ATTENTION_EXHAUSTED,
    ...UNEXPECTED_4XX,
    'bad body': ATTENTION_UNEXPECTED,
    hang: ATTENTION_EXHAUSTED,
    refused: ATTENTION_EXHAUSTED,
  },
  reserve: {
    '503': 'CANCELLED INVENTORY_UNAVAILABLE',
    ...UNEXPECTED_4XX,
    'bad body': ATTENTION_UNEXPECTED,
    hang: 'CANCELLED INVENTORY_UNAVAILABLE',
    // The release goes to the same refusing system.
    refused: ATTENTION_COMPENSATION,
  },
  release: {
    '503': ATTENTION_COMPENSATION,
    ...COMPENSATION_4XX,
    'bad body': ATTENTION_COMPENSATION,
    hang: ATTENTION_COMPENSATION,
    refused: ATTENTION_COMPENSATION,
  },
  'create payment': {
    '503': 'CANCELLED PAYMENT_UNAVAILABLE',
    ...UNEXPECTED_4XX,
    '422': 'CANCELLED PAYMENT_DECLINED',
    'bad body': ATTENTION_UNEXPECTED,
    hang: 'CANCELLED PAYMENT_UNAVAILABLE',
    // Both providers are the refusing system, so their voids fail too.
    refused: ATTENTION_COMPENSATION,
  },
  'payment status': {
    '503': ATTENTION_EXHAUSTED,
    ...UNEXPECTED_4XX,
    'bad body': ATTENTION_UNEXPECTED,
    hang: ATTENTION_EXHAUSTED,
    refused: ATTENTION_EXHAUSTED,
  },
  settle: {
    '503': ATTENTION_COMPENSATION,
    ...COMPENSATION_4XX,
    // The void happened; its next attempt reads the payment voided and is done.
    'bad body': 'CANCELLED CANCELLED_BY_CUSTOMER',
    hang: ATTENTION_COMPENSATION,
    refused: ATTENTION_COMPENSATION,
  },
  // Each failed submission is cancelled at fulfillment (whose cancel route answers): cancelled, or never
  // taken, and the order is refunded. Refused, the cancel is refused too: nobody can say, an operator decides.
  fulfillment: {
    '503': 'CANCELLED CONFIRMATION_FAILED',
    '400': 'CANCELLED CONFIRMATION_FAILED',
    '404': 'CANCELLED CONFIRMATION_FAILED',
    '409': 'CANCELLED CONFIRMATION_FAILED',
    '422': 'CANCELLED CONFIRMATION_FAILED',
    'bad body': 'CANCELLED CONFIRMATION_FAILED',
    hang: 'CANCELLED CONFIRMATION_FAILED',
    refused: ATTENTION_EXHAUSTED,
  },
  notification: {
    '503': 'CONFIRMED',
    '400': 'CONFIRMED',
    '404': 'CONFIRMED',
    '409': 'CONFIRMED',
    '422': 'CONFIRMED',
    'bad body': 'CONFIRMED',
    hang: 'CONFIRMED',
    refused: 'CONFIRMED',
  },
};

/** A cell beside the matrix: a 4xx that the system's contract gives a meaning, not an error. */
export interface MeaningfulAnswer {
  name: string;
  call: CallName;
  /** The route that answers, when not the call's own. */
  route?: SandboxRoute;
  fault: RouteFaultSetting;
  ends: Outcome;
  /** Part of the reason's message. */
  message: RegExp;
  event: string;
}

export const MEANINGFUL_ANSWERS: MeaningfulAnswer[] = [
  {
    name: 'reconciliation hears "no such payment": nothing was paid, compensated as a timeout',
    call: 'payment status',
    fault: { kind: 'status', status: 404, code: 'PAYMENT_NOT_FOUND' },
    ends: 'CANCELLED PAYMENT_TIMEOUT',
    message: /has no record of pay_/,
    event: 'PaymentNotFound',
  },
  {
    name: 'settling a payment the provider does not know: nothing to return, recorded',
    call: 'settle',
    route: 'get-payment',
    fault: { kind: 'status', status: 404, code: 'PAYMENT_NOT_FOUND' },
    ends: 'CANCELLED CANCELLED_BY_CUSTOMER',
    message: /^cancelled by customer$/,
    event: 'PaymentNotFound',
  },
];

export interface Cell {
  call: CallName;
  fault: RouteFaultSetting | 'refused';
  expected: Outcome;
  /** The route the fault is put on, when not the call's own. */
  route?: SandboxRoute;
  /** More to check once the order has ended. */
  check?: (view: OrderView, handle: WorkflowHandle) => Promise<void>;
  /** The providers' types, primary first (both `http` unless given). */
  providerTypes?: StackOptions['providerTypes'];
}

/** Runs one order into `fault` at `call` and checks where it ends, its money and its stock. */
export async function runCell({
  call: callName,
  fault,
  expected,
  route: faultRoute,
  check,
  providerTypes,
}: Cell): Promise<void> {
  const call: Call = CALLS[callName];
  const route = faultRoute ?? call.route;
  const stack = await startStack({ ...MATRIX_SETTINGS, ...(providerTypes ? { providerTypes } : {}) });
  try {
    const arm = async (on: boolean) => {
      if (fault === 'refused') return stack.refuseConnections(call.system, on);
      const path = `/_sandbox/faults/${route}`;
      const response = await (on ? stack.callSandbox(path, 'PUT', fault) : stack.callSandbox(path, 'DELETE'));
      if (!response.ok) throw new Error(`the fault switch answered ${response.status}`);
    };
    const request = makeOrder({ payment: { method: 'card', token: call.token } });
    const sku = request.items[0]!;
    const stockBefore = stack.ledger.snapshot().stock[sku.sku]!;

    if (call.armAt === 'start') await arm(true);
    const handle = await stack.startOrder(request);
    if (call.armAt === 'awaiting-payment') {
      await atPaymentLink(handle);
      await arm(true);
    }
    if (call.cancel) await handle.signal(cancelOrderSignal, { by: 'customer' });

    const [status, code] = expected.split(' ') as [OrderStatus, ReasonCode | undefined];
    const read = async () =>
      (
        await fetch(`${stack.apiUrl}/orders/${request.orderId}`, { headers: auth('dev-support') })
      ).json() as Promise<OrderView>;
    const ended = (view: OrderView) =>
      view.status === status && (status !== 'REQUIRES_ATTENTION' || view.needsAttention);
    let view = await eventually(read, ended, 30_000);
    expect(view.reason?.code).toBe(code);

    if (status === 'REQUIRES_ATTENTION') {
      const { currentDetails } = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      expect(currentDetails).toMatch(/^Needs an operator: .+Retry compensation/);
      await arm(false);
      const retry = await fetch(`${stack.apiUrl}/orders/${request.orderId}/actions/retry-compensation`, {
        method: 'POST',
        headers: { ...auth('dev-support'), 'content-type': 'application/json' },
        body: JSON.stringify({ note: 'the system is back' }),
      });
      expect(retry.status).toBe(202);
      view = await eventually(read, (now) => now.status === 'CANCELLED', 30_000);
    }
    // The workflow ends through its own story (its result is the view; a failed run throws here).
    expect(await stack.result(handle)).toMatchObject({ status: view.status, reason: view.reason });
    await check?.(view, handle);

    // Money and stock, once any call that hung past its step has landed and been settled.
    const confirmed = view.status === 'CONFIRMED';
    await eventually(
      () => netMoney(stack, request.orderId),
      (net) => net === (confirmed ? view.total : 0),
      20_000,
    );
    await eventually(
      () => stack.ledger.snapshot().stock[sku.sku],
      (stock) => stock === stockBefore - (confirmed ? sku.quantity : 0),
      20_000,
    );
    // Money never goes back for goods that may ship: fulfillment holds exactly the confirmed orders.
    const { fulfillments, cancelledFulfillments } = stack.ledger.snapshot();
    const heldByFulfillment =
      fulfillments[request.orderId] !== undefined && !cancelledFulfillments.includes(request.orderId);
    expect(heldByFulfillment).toBe(confirmed);

    // So does every other workflow of this stack (late refunds): once none runs, none ended otherwise than completing.
    const runs = await eventually(
      async () => {
        const found: string[] = [];
        for await (const run of stack.client.workflow.list({ query: `TaskQueue = '${stack.taskQueue}'` }))
          found.push(`${run.workflowId}: ${run.status.name}`);
        return found;
      },
      (found) => found.length > 0 && found.every((line) => !line.endsWith('RUNNING')),
    );
    expect(runs.filter((line) => !line.endsWith('COMPLETED'))).toEqual([]);
  } finally {
    await stack.stop();
  }
}
