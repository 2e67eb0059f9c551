import { createHash } from 'node:crypto';
import { WorkflowIdReusePolicy, type WorkflowStartOptions } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { ORDER_WORKFLOW_TYPE, orderWorkflowId, type OrderWorkflowInput, type SagaSettings } from '../domain/contract';
import type { OrderRequest } from '../domain/order-request';
import { formatAmount } from '../domain/money';
import { recordAtStart } from '../domain/order-record';
import type { OrderView } from '../domain/order-state';
import type { OrderEvent } from '../domain/schemas/order-events';

/** A hash of the parsed request that ignores key order: the same order sent twice hashes the same. */
export function canonicalRequestHash(request: OrderRequest): string {
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The order's lines as a Markdown table, for the Web UI's details pane. */
function orderDetails(view: OrderView): string {
  const lines = view.items.map(
    (item) => `| ${item.sku} | ${item.quantity} | ${formatAmount(item.unitPrice, view.currency)} |`,
  );
  return [
    `**Order ${view.orderId}** for customer \`${view.customerId}\`, total ${formatAmount(view.total, view.currency)}`,
    '',
    '| SKU | quantity | unit price |',
    '|---|---|---|',
    ...lines,
  ].join('\n');
}

/**
 * How an order's workflow is started: its id from the order id, its input with the saga settings fixed
 * for its whole life, and search attributes and memo set at once, so the order is findable and readable
 * before any worker has run it.
 */
export function orderStartOptions(
  request: OrderRequest,
  settings: SagaSettings,
  taskQueue: string,
  receivedAt: Date = new Date(),
): {
  workflowType: string;
  input: OrderWorkflowInput;
  firstEvent: OrderEvent;
  initialView: OrderView;
  options: WorkflowStartOptions<(input: OrderWorkflowInput) => Promise<unknown>>;
} {
  const requestHash = canonicalRequestHash(request);
  const input: OrderWorkflowInput = {
    request,
    requestHash,
    receivedAt: receivedAt.toISOString(),
    settings,
    startWroteFirstEvent: true,
  };
  const record = recordAtStart(request, requestHash, input.receivedAt);
  const initialView = record.view;
  return {
    workflowType: ORDER_WORKFLOW_TYPE,
    input,
    firstEvent: record.firstEvent,
    initialView,
    options: {
      workflowId: orderWorkflowId(request.orderId),
      taskQueue,
      args: [input],
      // An order id is used once, ever: a closed order is never started again.
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      memo: record.memo,
      // What support reads at the top of the order in the Web UI. Ids and amounts only: no email, no address.
      staticSummary: `Order ${request.orderId} · customer ${request.customer.id} · ${formatAmount(initialView.total, request.currency)}`,
      staticDetails: orderDetails(initialView),
      typedSearchAttributes: new TypedSearchAttributes(record.searchAttributes),
    },
  };
}
