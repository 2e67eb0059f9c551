import * as wf from '@temporalio/workflow';
import type { baselineActivities } from './baseline-activities';

/** The signal the bench sends where the saga gets its payment callback. */
export const baselineCallbackSignal = wf.defineSignal('callback');

const { noop } = wf.proxyActivities<typeof baselineActivities>({ startToCloseTimeout: '10 seconds' });

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
