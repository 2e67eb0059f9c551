import * as wf from '@temporalio/workflow';
import type { baselineActivities } from './baseline-activities';

/** The signal the bench sends where the saga gets its payment callback. */
export const baselineCallbackSignal = wf.defineSignal('callback');

const { noop } = wf.proxyActivities<typeof baselineActivities>({ startToCloseTimeout: '10 seconds' });

/** The update a raw acceptance asks; answered at once. */
export const rawAcceptUpdate = wf.defineUpdate<string>('accept');

/**
 * The least a checkout's POST could cost on this server: a workflow started with an update it answers at
 * once (update-with-start, as the API places an order), then done. The bench's `post-latency-ratio` is the
 * saga's POST /orders over this round trip.
 */
export async function rawAcceptWorkflow(): Promise<void> {
  let answered = false;
  wf.setHandler(rawAcceptUpdate, () => {
    answered = true;
    return 'accepted';
  });
  await wf.condition(() => answered);
}

/**
 * What the Temporal server on this machine can do at all: the saga's happy path stripped of its work —
 * as many activity calls (no-ops), and one signal it waits for, at the same point.
 */
export async function baselineWorkflow(activitiesBeforeSignal: number, activitiesAfterSignal: number): Promise<void> {
  let called = false;
  wf.setHandler(baselineCallbackSignal, () => void (called = true));
  for (let i = 0; i < activitiesBeforeSignal; i++) await noop();
  await wf.condition(() => called);
  for (let i = 0; i < activitiesAfterSignal; i++) await noop();
}
