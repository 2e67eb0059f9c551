import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { HistoryAndWorkflowId } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { businessMetricsSinks } from '../observability/worker-runtime';

/** Histories recorded by `npm run histories:capture`, replayed by the test suite and `npm run replay`. */
export const HISTORIES_DIR = path.resolve(__dirname, '..', 'test', 'histories');

/**
 * Every `*.json` history in a folder and its subfolders (one per era of the workflow code: histories of
 * orders started before a patch stay beside the new ones), named by its path without `.json`.
 */
export function loadHistories(dir: string): HistoryAndWorkflowId[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => ({
      workflowId: file.slice(0, -'.json'.length),
      history: historyFromJSON(JSON.parse(readFileSync(path.join(dir, file), 'utf8'))),
    }));
}

export interface ReplayOutcome {
  name: string;
  error?: Error;
}

/** Replays each history against the workflow code in `options`; one outcome per history, in order. */
export async function replayAll(
  options: ReplayWorkerOptions,
  histories: Iterable<HistoryAndWorkflowId> | AsyncIterable<HistoryAndWorkflowId>,
): Promise<ReplayOutcome[]> {
  const outcomes: ReplayOutcome[] = [];
  // The workflows call the business-metrics sink; a replay worker drops the calls, but must know the sink.
  for await (const result of Worker.runReplayHistories({ sinks: businessMetricsSinks(), ...options }, histories)) {
    outcomes.push({ name: result.workflowId, ...(result.error ? { error: result.error } : {}) });
  }
  return outcomes;
}

/** The workflow type a history ran, from its first event. */
export function workflowTypeOf({ history }: HistoryAndWorkflowId): string | undefined {
  const { events } = history as temporal.api.history.v1.IHistory;
  return events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? undefined;
}
