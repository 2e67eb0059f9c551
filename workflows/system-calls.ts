import * as wf from '@temporalio/workflow';
import { ActivityFailure, ApplicationFailure, isCancellation, TimeoutFailure } from '@temporalio/workflow';
import { msToNumber } from '@temporalio/common/lib/time';
import type { OrderActivities } from '../activities';

export type ActivityName = keyof OrderActivities;
export type ActivityArgs<K extends ActivityName> = Parameters<OrderActivities[K]>;
export type ActivityResult<K extends ActivityName> = Awaited<ReturnType<OrderActivities[K]>>;
/** One activity of a proxy, called with per-call options. */
type Callable<K extends ActivityName> = {
  executeWithOptions(options: Partial<wf.ActivityOptions>, args: ActivityArgs<K>): Promise<ActivityResult<K>>;
};

/** An order's first attempts running in the worker right now. */
export class LocalAttempts {
  running = 0;

  get busy(): boolean {
    return this.running > 0;
  }
}

/** The backoff before a second attempt when the options name none (Temporal's default). */
const DEFAULT_INITIAL_INTERVAL_MS = 1000;

/**
 * How the saga calls one kind of system: an activity with these options, each call labelled with a summary
 * support reads beside it in the Web UI.
 *
 * With `attempts`, a call's first attempt is a local activity: it runs in the worker inside the
 * workflow task that asked for it, so a call that succeeds costs the server no activity task and no
 * workflow task of its own (the order's payment link comes back in one round trip instead of four). Only a
 * failure worth retrying (the system unreachable, a 5xx, a timeout) goes on as a regular activity, after
 * the first backoff, with the attempts the options leave: its retries then survive a worker restart and a
 * cancel reaches it as it always did. An answer (a refusal, a body off contract) is the
 * call's answer at once, as it was on a regular activity's first attempt.
 */
export class SystemCalls {
  private readonly regular: wf.ActivityInterfaceFor<OrderActivities>;
  /** The first attempt's proxy, and where the attempts are counted while they run; null: every attempt regular. */
  private readonly firstHere: { proxy: wf.ActivityInterfaceFor<OrderActivities>; attempts: LocalAttempts } | null;

  /** @param attempts where the first attempts are counted while they run; null: every attempt regular. */
  constructor(
    private readonly options: wf.ActivityOptions,
    attempts: LocalAttempts | null,
  ) {
    this.regular = wf.proxyActivities<OrderActivities>(options);
    this.firstHere = attempts && {
      proxy: wf.proxyLocalActivities<OrderActivities>({
        // One attempt: the retries are the regular activity's.
        startToCloseTimeout: options.startToCloseTimeout,
        retry: { maximumAttempts: 1 },
        cancellationType: options.cancellationType,
      }),
      attempts,
    };
  }

  async call<K extends ActivityName>(name: K, summary: string, ...args: ActivityArgs<K>): Promise<ActivityResult<K>> {
    const regular = this.regular[name] as unknown as Callable<K>;
    if (!this.firstHere) return regular.executeWithOptions({ summary }, args);
    let failure: unknown;
    try {
      return await this.attemptHere(name, summary, ...args);
    } catch (err) {
      failure = err;
    }
    const left = this.leftAfterFirstAttempt(failure);
    if (!left) throw failure;
    await wf.sleep(left.backoffMs);
    return regular.executeWithOptions({ summary, ...left.options }, args);
  }

  /**
   * One attempt in the worker and no other: for a caller that has its own way on after a failure. The
   * failure arrives as any call's does.
   */
  async attemptHere<K extends ActivityName>(
    name: K,
    summary: string,
    ...args: ActivityArgs<K>
  ): Promise<ActivityResult<K>> {
    if (!this.firstHere) throw new Error(`${name}: these calls make no attempt in the worker`);
    const { proxy, attempts } = this.firstHere;
    attempts.running++;
    try {
      return await (proxy[name] as unknown as Callable<K>).executeWithOptions({ summary }, args);
    } catch (err) {
      throw asActivityFailure(name, err);
    } finally {
      attempts.running--;
    }
  }

  /**
   * What the regular activity is left after a first attempt that failed, and the backoff before it; null:
   * nothing (an answer, or the attempts are spent). Its budget counts from its own start, as a step's did
   * before there was a first attempt here: a call that keeps failing runs one attempt and one backoff past
   * its budget at most (cutting the budget short instead makes the server give up on a timeout that
   * carries no failure, and the saga would lose what the system last answered).
   */
  private leftAfterFirstAttempt(err: unknown): { backoffMs: number; options: Partial<wf.ActivityOptions> } | null {
    if (isCancellation(err) || !worthRetrying(err)) return null;
    const { retry } = this.options;
    const backoffMs =
      retry?.initialInterval === undefined ? DEFAULT_INITIAL_INTERVAL_MS : msToNumber(retry.initialInterval);
    if (retry?.maximumAttempts === undefined) return { backoffMs, options: {} };
    if (retry.maximumAttempts <= 1) return null;
    return { backoffMs, options: { retry: { ...retry, maximumAttempts: retry.maximumAttempts - 1 } } };
  }
}

/** A failed attempt that a retry could turn around: anything but a failure its activity marked final. */
function worthRetrying(err: unknown): boolean {
  for (let cause: unknown = err; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof ApplicationFailure) return !cause.nonRetryable;
  }
  return err instanceof ActivityFailure || err instanceof TimeoutFailure;
}

/**
 * A first attempt's failure as the saga reads every call's: a local activity's arrives bare (what the
 * activity threw, or its timeout), a regular one's wrapped in an `ActivityFailure`.
 */
function asActivityFailure(activity: string, err: unknown): unknown {
  if (err instanceof ActivityFailure || !(err instanceof Error) || isCancellation(err)) return err;
  const retryState = err instanceof ApplicationFailure && err.nonRetryable ? 'NON_RETRYABLE_FAILURE' : 'TIMEOUT';
  return new ActivityFailure('Activity task failed', activity, undefined, retryState, undefined, err);
}
