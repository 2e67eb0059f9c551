import * as wf from '@temporalio/workflow';
import type { OrderActivities } from '../activities';
import type { LateRelease } from '../domain/contract';
import { OrderSearchAttributes } from '../domain/search-attributes';
import { TAKEN_OVER_OPTIONS, untilDone, type Owed } from './after-end';
import { recordLateReleaseRefused } from './order-metrics';

const { releaseStock } = wf.proxyActivities<OrderActivities>(TAKEN_OVER_OPTIONS);

/** Stock a lost workflow task may have reserved, as the order and the release that takes it over both try it. */
export function lateRelease(release: LateRelease, attempt: () => Promise<void>): Owed<void> {
  const { orderId } = release;
  return {
    orderId,
    what: `the stock of order ${orderId}`,
    retryEveryMs: release.retryEveryMs,
    attempt,
    support: {
      holds: `inventory may still hold stock for order ${orderId} and refused its release`,
      does: 'Release it at inventory',
    },
    refusedEvent: (message) => ({ type: 'StockReleaseRefused', data: { message } }),
    countRefused: () => recordLateReleaseRefused(orderId),
  };
}

/**
 * Gives back stock a lost workflow task may have reserved for an ended order, which inventory kept refusing
 * to release while the order tried: tried on until it goes through, support told (./after-end.ts). The
 * workflow carries `NeedsAttention` and `OrderId`: the Web UI lists it beside the order.
 */
export async function lateStockReleaseWorkflow(release: LateRelease): Promise<void> {
  const { orderId } = release;
  await untilDone({
    ...lateRelease(release, () => releaseStock({ orderId })),
    progress: release,
    doneEvent: () => ({ type: 'StockReleased', data: {} }),
    flag: (on) =>
      wf.upsertSearchAttributes([
        { key: OrderSearchAttributes.orderId, value: orderId },
        { key: OrderSearchAttributes.needsAttention, value: on },
      ]),
    continueAsNew: (progress) => wf.continueAsNew<typeof lateStockReleaseWorkflow>({ ...release, ...progress }),
  });
  wf.setCurrentDetails(`The stock of order ${orderId} released`);
}
