import { temporal } from '@temporalio/proto';
import { OrderSearchAttributes } from '../domain/search-attributes';
import { isTerminal, TERMINAL_STATUSES, type OrderView } from '../domain/order-state';
import { Status } from '../domain/statuses';
import { Reason } from '../domain/reasons';

/**
 * Orders whose workflow was closed other than through its own story: terminated by an operator, failed
 * by a bug of an older deployment, timed out. Such a workflow can no longer write its memo or search
 * attributes, so what it last wrote looks alive (`AWAITING_PAYMENT`, `needsAttention: false`) forever.
 * The API corrects what it shows: every read of such an order, and, once {@link ClosedOrdersSweep} has
 * written the corrected view into the store of record, every list.
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
/** Visibility: the orders whose last written status is not terminal. */
export const notTerminal = `${OrderSearchAttributes.status.name} NOT IN (${TERMINAL_STATUSES.map((status) => `'${status}'`).join(', ')})`;

/** How often each API process writes the orders closed otherwise since its last sweep into the store. */
const SWEEP_EVERY_MS = 5_000;
/** How far back a process's first sweep looks: what was terminated while no API ran. */
const FIRST_SWEEP_LOOKBACK_MS = 24 * 60 * 60_000;
/** Each sweep asks from a little before the last one began: visibility records a close a moment late. */
const SWEEP_OVERLAP_MS = 5_000;

/**
 * Writes the view the API shows for orders closed otherwise (see {@link shownView}) into the store of
 * record, which lists answer from: their workflow never writes its end there. One visibility query every
 * few seconds per API process; the writes are idempotent, so processes that sweep the same orders agree.
 */
export class ClosedOrdersSweep {
  private sweptFrom = Date.now() - FIRST_SWEEP_LOOKBACK_MS;
  private sweeping = false;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly orders: { recordClosedOtherwiseSince(since: Date): Promise<number> }) {
    this.timer = setInterval(() => void this.sweep(), SWEEP_EVERY_MS).unref();
  }

  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    const startedAt = Date.now();
    try {
      await this.orders.recordClosedOtherwiseSince(new Date(this.sweptFrom - SWEEP_OVERLAP_MS));
      this.sweptFrom = startedAt;
    } catch {
      // Temporal or the store did not answer: the next sweep asks from the same moment.
    } finally {
      this.sweeping = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
