import { z } from 'zod';
import { STATUS_EVENT_TYPES } from '../statuses';
import { OrderView } from './order-state';

/** The schemas of what a checkout hears about its orders (domain/status-events.ts makes the events). */
export const StatusEventType = z.enum(STATUS_EVENT_TYPES);

export const StatusEvent = z
  .object({
    /** Unique per order and change, the same at every delivery: a receiver drops one it has seen. */
    id: z.string(),
    type: StatusEventType,
    /** When the order's status changed (the workflow's time, not the delivery's). */
    createdAt: z.string(),
    /** The order as that change left it. */
    data: OrderView,
  })
  .meta({ id: 'OrderStatusEvent', description: "An order's status changed" });
export type StatusEvent = z.infer<typeof StatusEvent>;
