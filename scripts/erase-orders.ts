import { parseArgs } from 'node:util';
import { Connection, isGrpcServiceError } from '@temporalio/client';
import { z } from 'zod';
import { loadConfigOrExit, temporalConnectionOptions } from '../config';
import { orderWorkflowId } from '../domain/contract';
import { runScript } from '../stack/children';
import { GrpcCode } from '../api/temporal-unavailable';
import { OrderStore, type ErasureFilter } from '../store/order-store';

const USAGE = `usage: npm run erase-orders -- (--anonymise | --delete) [--customer <id>] [--ended-before <time>] [--dry-run]
       <time>: ISO 8601 with a zone, e.g. 2020-01-01T00:00:00Z

Erases ended orders from the store of record, by the business's own policy: the orders of --customer, or
those that ended before --ended-before, or both (docs/OPERATIONS.md, "How long an order is kept").
  --anonymise  the customer's id and operators' notes replaced in the order and its events; amounts, items
               and payments kept for the books; the id stays used
  --delete     the order and its events removed; its id may be placed again
Temporal's own copy of each (a closed workflow still within its retention) is deleted first. Orders that
have not ended are left: run again once they have. --dry-run says what it would erase. One line per order
and a summary; running it again is safe.`;

const Time = z.iso.datetime({ offset: true });
/** Orders read from the store at a time. */
const PAGE = 200;

/** `npm run erase-orders`: a customer's right to erasure, or a retention policy, applied to the store. */
async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      anonymise: { type: 'boolean' },
      delete: { type: 'boolean' },
      customer: { type: 'string' },
      'ended-before': { type: 'string' },
      'dry-run': { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const refuse = (why: string) => {
    console.error(`[erase-orders] ${why}\n${USAGE}`);
    return 2;
  };
  if (values.anonymise === values.delete) return refuse('say either --anonymise or --delete');
  const endedBefore = values['ended-before'] === undefined ? undefined : Time.safeParse(values['ended-before']);
  if (endedBefore && !endedBefore.success)
    return refuse(`--ended-before ${JSON.stringify(values['ended-before'])} is not an ISO 8601 time with a zone`);
  if (values.customer === undefined && !endedBefore)
    return refuse('say whose orders: --customer, --ended-before or both');
  const filter: ErasureFilter = {
    customerId: values.customer,
    endedBefore: endedBefore && new Date(endedBefore.data),
  };
  const how = values.anonymise ? 'anonymised' : 'deleted';
  const dryRun = values['dry-run'] === true;

  const config = loadConfigOrExit('erase-orders');
  const { namespace } = config.temporal;
  const store = await OrderStore.open(config.orderStoreUrl);
  let connection: Connection | null = null;
  try {
    connection = await Connection.connect(temporalConnectionOptions(config));
    let erased = 0;
    for (let after: string | null = null; ;) {
      const page = await store.endedOrders(filter, PAGE, after);
      for (const orderId of page) {
        if (dryRun) {
          console.log(`[erase-orders] ${orderId}: would be ${how} (dry run)`);
          continue;
        }
        // Temporal's copy first: once the store's is anonymised, --customer no longer finds the order.
        const inTemporal = await deleteWorkflow(connection, namespace, orderWorkflowId(orderId));
        if (values.anonymise) await store.anonymise(orderId);
        else await store.forget(orderId);
        erased++;
        console.log(`[erase-orders] ${orderId}: ${how}${inTemporal ? ', and its workflow deleted from Temporal' : ''}`);
      }
      if (page.length < PAGE) break;
      after = page.at(-1)!;
    }
    const live = filter.customerId === undefined ? 0 : await store.liveOrders(filter.customerId);
    console.log(
      `[erase-orders] ${dryRun ? 'dry run: nothing erased' : `${erased} ended orders ${how}`}` +
        (live ? `; ${live} of the customer's orders have not ended: run again once they have` : ''),
    );
    return 0;
  } finally {
    await store.close();
    await connection?.close();
  }
}

/** Deletes a closed workflow's execution and history; false when Temporal no longer holds it. */
async function deleteWorkflow(connection: Connection, namespace: string, workflowId: string): Promise<boolean> {
  try {
    await connection.workflowService.deleteWorkflowExecution({ namespace, workflowExecution: { workflowId } });
    return true;
  } catch (err) {
    if (isGrpcServiceError(err) && err.code === GrpcCode.NOT_FOUND) return false;
    throw err;
  }
}

runScript(main, { name: 'erase-orders' });
