import * as wf from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ActivityFailure, ParentClosePolicy } from '@temporalio/workflow';
import type { OrderActivities } from '../activities';
import { errorMessage } from '../domain/errors';
import type { OrderEventBody } from '../domain/schemas/order-events';

/**
 * What an order still owes once it has ended: money it does not keep to return, stock a lost workflow task
 * may have reserved to give back. Its system's outage is retried by the call's own policy; an answer nobody
 * expected (a refusal, a body off the contract) is a refused try. The order tries
 * {@link TRIES_BEFORE_SUPPORT} times, then tells support and hands the work to a workflow of its own, which
 * tries on for as long as it takes: the order ends, and no history grows without bound.
 */

/** Calls made after an order's end: retried while their system is down; never a reason to fail a workflow. */
export const AFTER_END_OPTIONS: wf.ActivityOptions = {
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
};
/**
 * Each try of a workflow that took the work over: an outage of a day counts as a refused try, so that
 * support hears of money or stock held that long.
 */
export const TAKEN_OVER_OPTIONS: wf.ActivityOptions = { ...AFTER_END_OPTIONS, scheduleToCloseTimeout: '1 day' };

/** The longest wait between two tries: a refusal is seldom lifted within minutes. */
const LONGEST_RETRY_MS = 24 * 60 * 60_000;
/** Refused tries after which support is told: the order and the workflow are flagged, and its live step says what to do. */
export const TRIES_BEFORE_SUPPORT = 3;
/**
 * Tries in one run of a workflow that took the work over: then it continues as new, carrying its count. A
 * try is about 11 history events, so a run stays near 1,100 however many years the refusal lasts.
 */
export const TRIES_PER_RUN = 100;

/** The wait after the `refused`-th refused try: `firstMs` doubling, a day at most. */
function waitAfterRefusal(firstMs: number, refused: number): number {
  return Math.min(LONGEST_RETRY_MS, firstMs * 2 ** (refused - 1));
}

/** How far a workflow that took the work over got: carried when it continues as new. */
export interface AfterEndProgress {
  /** The tries refused so far, the order's own included. */
  refusedTries?: number | undefined;
  /** Whether the order's record says that support must act (it is told once, and again when it is done). */
  orderTold?: boolean | undefined;
}

/** One piece of work an ended order owes, as its order and the workflow that takes it over both run it. */
export interface Owed<T> {
  orderId: string;
  /** In words, for warnings and the live step: "pay_1 at primary", "the stock of order o-1". */
  what: string;
  /** The wait after the first refused try; it doubles with each. */
  retryEveryMs: number;
  /** One try. */
  attempt(): Promise<T>;
  /** What support must know and do, for the live step once they are told: who holds what, and what they do. */
  support: { holds: string; does: string };
  /** The order's event once support must act, with the last refusal. */
  refusedEvent(message: string): OrderEventBody;
  /** Once, when support is told: the metric support watches. */
  countRefused(): void;
}

/**
 * The order's own tries, before it hands the work over: `owed` tried {@link TRIES_BEFORE_SUPPORT} times, the
 * wait doubling from its `retryEveryMs`. Its outcome, or the last refusal's message.
 */
export async function triedBeforeSupport<T>(owed: Owed<T>): Promise<{ done: T } | { refused: string }> {
  for (let refused = 1; ; refused++) {
    try {
      return { done: await owed.attempt() };
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      const message = errorMessage(err);
      if (refused === TRIES_BEFORE_SUPPORT) return { refused: message };
      const waitMs = waitAfterRefusal(owed.retryEveryMs, refused);
      sayRefused(owed, message, waitMs);
      await wf.sleep(waitMs);
    }
  }
}

/**
 * Starts the workflow that takes `work` over from its order, and lets the order end: it outlives its
 * parent. It starts where the order left off: the order's refused tries counted, and the order's record
 * already saying that support must act. One per piece of work, ever: its id was used already when another
 * took it over first.
 */
export async function handOver<A extends AfterEndProgress>(
  workflow: (work: A) => Promise<unknown>,
  workflowId: string,
  work: Omit<A, keyof AfterEndProgress>,
): Promise<void> {
  const handedOver: AfterEndProgress = { refusedTries: TRIES_BEFORE_SUPPORT, orderTold: true };
  try {
    await wf.startChild(workflow, {
      workflowId,
      args: [{ ...work, ...handedOver } as A],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    wf.log.info('what the order owes was taken over already', { workflowId });
  }
}

/** What a workflow that took the work over does besides trying: the order's record, flags and metrics. */
export interface TakenOver<T> extends Owed<T> {
  progress: AfterEndProgress;
  /** The order's event once the work went through, whose record then says support has nothing left to do. */
  doneEvent(outcome: T): OrderEventBody;
  /** Flags the workflow for support (`true`) in the Web UI, or clears the flag. */
  flag(on: boolean): void;
  /** Starts the next run with `progress`. */
  continueAsNew(progress: AfterEndProgress): Promise<never>;
}

/**
 * Tries `owed` until it goes through, the wait doubling from its `retryEveryMs` to a day at most. Once
 * {@link TRIES_BEFORE_SUPPORT} tries were refused support is told: the workflow is flagged, its live step
 * says what to do, and so does the order's record in the store of record, which is told again when the
 * work went through. Every {@link TRIES_PER_RUN} tries it continues as new: its history never nears
 * Temporal's limits, however long the refusal lasts.
 */
export async function untilDone<T>(owed: TakenOver<T>): Promise<T> {
  let refused = owed.progress.refusedTries ?? 0;
  let orderTold = owed.progress.orderTold ?? false;
  if (refused >= TRIES_BEFORE_SUPPORT) owed.flag(true);
  for (let inRun = 0; ; inRun++) {
    if (inRun === TRIES_PER_RUN) return owed.continueAsNew({ refusedTries: refused, orderTold });
    try {
      const outcome = await owed.attempt();
      if (refused >= TRIES_BEFORE_SUPPORT) owed.flag(false);
      // The order told support; it now tells that nothing is left to do.
      if (orderTold) await tellOrder(owed.orderId, owed.doneEvent(outcome), doneTeller);
      return outcome;
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      refused++;
      const waitMs = waitAfterRefusal(owed.retryEveryMs, refused);
      const message = errorMessage(err);
      const supportTold = refused >= TRIES_BEFORE_SUPPORT;
      sayRefused(owed, message, waitMs, supportTold ? supportMustAct(owed, refused, message, waitMs) : undefined);
      if (refused === TRIES_BEFORE_SUPPORT) {
        owed.flag(true);
        owed.countRefused();
        wf.log.error('what an ended order owes kept being refused: support must settle it', {
          owed: owed.what,
          orderId: owed.orderId,
          tries: refused,
          error: message,
        });
      }
      // On the order too, past its end: listed under needsAttention, saying what is held.
      if (supportTold && !orderTold)
        orderTold = await tellOrder(owed.orderId, owed.refusedEvent(message), refusedTeller);
      await wf.sleep(waitMs);
    }
  }
}

/** The live step once support is told: who holds what, what they do, and when the workflow tries again. */
function supportMustAct(owed: Owed<unknown>, refused: number, message: string, waitMs: number): string {
  return (
    `Needs support: ${owed.support.holds} ${refused} times (${message}). ${owed.support.does}; ` +
    `this workflow tries again in ${waitMs} ms and ends once it goes through.`
  );
}

/**
 * One warning per refused try, and the live step: `liveStep`, or what was refused, why, and when it is
 * tried again.
 */
function sayRefused(owed: Owed<unknown>, message: string, waitMs: number, liveStep?: string): void {
  wf.log.warn('what an ended order owes was refused: trying again', { owed: owed.what, error: message, waitMs });
  wf.setCurrentDetails(liveStep ?? `${owed.what} was refused (${message}); trying again in ${waitMs} ms`);
}

type RecordAfterEnd = OrderActivities['recordAfterEnd'];
/**
 * Tells the order that support must act, for an hour at most (its record's store down, or the order's own
 * end not yet written): the work never waits longer on it, and the next refusal tells the order again.
 */
const { recordAfterEnd: refusedTeller } = wf.proxyActivities<OrderActivities>({
  ...AFTER_END_OPTIONS,
  scheduleToCloseTimeout: '1 hour',
});
/**
 * Tells the order that the work went through, for two days at most: longer than an order stays open after it
 * handed work over (its webhooks, a day by default), since before its end its record takes nothing more.
 */
const { recordAfterEnd: doneTeller } = wf.proxyActivities<OrderActivities>({
  ...AFTER_END_OPTIONS,
  scheduleToCloseTimeout: '2 days',
});

/** Adds `event` to the order's record in the store of record with `recordAfterEnd`; false, and a warning, when it could not in its time. */
async function tellOrder(orderId: string, event: OrderEventBody, recordAfterEnd: RecordAfterEnd): Promise<boolean> {
  try {
    await recordAfterEnd({ orderId, event, at: new Date().toISOString() });
    return true;
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    wf.log.warn("the order's record did not take what happened after its end", {
      orderId,
      event: event.type,
      error: errorMessage(err),
    });
    return false;
  }
}
