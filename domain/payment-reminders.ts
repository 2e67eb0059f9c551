import { msToNumber } from '@temporalio/common/lib/time';

/** A point of the payment window at which a customer who has not paid is reminded, and when it falls. */
export interface ReminderPoint {
  /** As configuration names it (`50%`, `10m`): what names the reminder, once per order. */
  point: string;
  /** How long after the payment link it falls. */
  afterMs: number;
}

const SHARE = /^(\d{1,2}(?:\.\d+)?)%$/;

/**
 * The reminders of `PAYMENT_REMINDERS` (docs/API.md, "Payment reminders"), earliest first: each point a
 * share of the window (`50%`) or a time after the payment link in the SDK's duration format (`10m`,
 * `2 hours`), strictly inside the window. Throws, naming the point, for one that is not.
 */
export function reminderSchedule(points: readonly string[], paymentWindowMs: number): ReminderPoint[] {
  const schedule = points.map((point) => ({ point, afterMs: afterLinkMs(point, paymentWindowMs) }));
  for (const { point, afterMs } of schedule) {
    if (afterMs <= 0 || afterMs >= paymentWindowMs)
      throw new Error(`${point} does not fall inside the payment window of ${paymentWindowMs} ms`);
  }
  if (new Set(schedule.map(({ afterMs }) => afterMs)).size !== schedule.length)
    throw new Error('two points fall at the same time');
  return schedule.sort((a, b) => a.afterMs - b.afterMs);
}

function afterLinkMs(point: string, paymentWindowMs: number): number {
  const share = SHARE.exec(point);
  if (share) return Math.round((paymentWindowMs * Number(share[1])) / 100);
  try {
    return msToNumber(point as Parameters<typeof msToNumber>[0]);
  } catch {
    throw new Error(`${point} is neither a share of the window (50%) nor a duration (10m)`);
  }
}
