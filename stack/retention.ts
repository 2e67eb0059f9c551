import type { Connection } from '@temporalio/client';
import { msToTs, optionalTsToMs } from '@temporalio/common/lib/time';

const DAY_MS = 24 * 60 * 60 * 1000;

/** The namespace's retention in days: how long it keeps a closed workflow's history (null: not said). */
export async function retentionDays(connection: Connection, namespace: string): Promise<number | null> {
  const { config } = await connection.workflowService.describeNamespace({ namespace });
  const keptMs = optionalTsToMs(config?.workflowExecutionRetentionTtl);
  return keptMs === undefined ? null : keptMs / DAY_MS;
}

/**
 * Sets the namespace's retention to `days` (`TEMPORAL_RETENTION_DAYS`) unless it already is; returns the
 * days it had. After its retention Temporal forgets an order's workflow, and the store of record answers
 * for it (docs/OPERATIONS.md, "How long an order is kept").
 */
export async function ensureRetention(connection: Connection, namespace: string, days: number): Promise<number | null> {
  const had = await retentionDays(connection, namespace);
  if (had !== days)
    await connection.workflowService.updateNamespace({
      namespace,
      config: { workflowExecutionRetentionTtl: msToTs(days * DAY_MS) },
    });
  return had;
}
