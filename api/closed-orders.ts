import { temporal } from '@temporalio/proto';
import { OrderSearchAttributes } from '../domain/search-attributes';
import { isTerminal, TERMINAL_STATUSES, type OrderView } from '../domain/order-state';
import { Status, type OrderStatus } from '../domain/statuses';
import { Reason } from '../domain/reasons';

/**
 * Orders whose workflow was closed other than through its own story: terminated by an operator, failed
 * by a bug of an older deployment, timed out. Such a workflow can no longer write its memo or search
 * attributes, so what it last wrote looks alive (`AWAITING_PAYMENT`, `needsAttention: false`) forever.
 * The API corrects what it shows: every read of such an order, and every filter over them.
 */

type ExecutionStatus = temporal.api.enums.v1.WorkflowExecutionStatus;
const { WorkflowExecutionStatus } = temporal.api.enums.v1;

/** How a workflow can close without completing: its execution status, as visibility queries name it and in words. */
const CLOSED_OTHERWISE = new Map<ExecutionStatus, { query: string; words: string }>([
  [WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED, { query: 'Terminated', words: 'terminated' }],
  [WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_FAILED, { query: 'Failed', words: 'failed' }],
  [WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TIMED_OUT, { query: 'TimedOut', words: 'timed out' }],
  [
    WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CANCELED,
    { query: 'Canceled', words: 'cancelled through Temporal' },
  ],
]);

/**
 * The view to show for an order whose workflow has `executionStatus`: the stored view, unless the
 * workflow closed otherwise than by completing. Then it needs someone: `needsAttention`, a
 * `WORKFLOW_CLOSED` reason saying how it ended, and a status that no longer looks alive
 * (`REQUIRES_ATTENTION`, unless the order had already ended).
 */
export function shownView(
  view: OrderView,
  executionStatus: ExecutionStatus | null | undefined,
  closedAt: Date | undefined,
): OrderView {
  const closed =
    executionStatus === null || executionStatus === undefined ? undefined : CLOSED_OTHERWISE.get(executionStatus);
  if (!closed) return view;
  const how = `the order's workflow was ${closed.words}${closedAt ? ` at ${closedAt.toISOString()}` : ''}`;
  const message = isTerminal(view.status)
    ? `${how} after the order ended ${view.status}: check that no late money was left with a provider`
    : `${how} while the order was ${view.status}, so its compensations never ran: settle its payment and its stock by hand`;
  return {
    ...view,
    status: isTerminal(view.status) ? view.status : Status.REQUIRES_ATTENTION,
    needsAttention: true,
    reason: { code: Reason.WORKFLOW_CLOSED, message },
  };
}

const closedStatuses = `(${[...CLOSED_OTHERWISE.values()].map(({ query }) => `'${query}'`).join(', ')})`;
/** Visibility: the workflows closed other than by completing. */
export const closedOtherwise = `ExecutionStatus IN ${closedStatuses}`;
const notClosedOtherwise = `ExecutionStatus NOT IN ${closedStatuses}`;
/** Visibility: the orders whose last written status is not terminal. */
export const notTerminal = `${OrderSearchAttributes.status.name} NOT IN (${TERMINAL_STATUSES.map((status) => `'${status}'`).join(', ')})`;

/** The visibility clause that finds what {@link shownView} shows with `needsAttention`. */
export function needsAttentionClause(needsAttention: boolean): string {
  const attribute = OrderSearchAttributes.needsAttention.name;
  return needsAttention
    ? `(${attribute} = true OR ${closedOtherwise})`
    : `(${attribute} = false AND ${notClosedOtherwise})`;
}

/** The visibility clause that finds what {@link shownView} shows with `status`. */
export function statusClause(status: OrderStatus): string {
  const attribute = OrderSearchAttributes.status.name;
  if (isTerminal(status)) return `${attribute} = '${status}'`;
  if (status === Status.REQUIRES_ATTENTION)
    return `(${attribute} = '${status}' OR (${closedOtherwise} AND ${notTerminal}))`;
  return `(${attribute} = '${status}' AND ${notClosedOtherwise})`;
}
