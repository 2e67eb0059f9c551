import { z } from 'zod';
import { expectAnswer, type HttpClient } from './http';

export const NotificationTemplate = z.enum(['order-confirmed', 'order-cancelled']);
export type NotificationTemplate = z.infer<typeof NotificationTemplate>;
/** The notification service's wire contract. */
export const NotificationRequest = z.object({ orderId: z.string(), email: z.string(), template: NotificationTemplate });
export const NotificationAnswer = z.object({ notificationId: z.string() });

/** Activities against the customer notification service, one message per order and template. */
export function createNotificationActivities(http: HttpClient, { baseUrl }: { baseUrl: string }) {
  return {
    async notifyCustomer(input: z.infer<typeof NotificationRequest>): Promise<void> {
      const response = await http.send({
        method: 'POST',
        url: `${baseUrl}/notifications`,
        body: input,
        idempotencyKey: `notify-${input.template}-${input.orderId}`,
      });
      expectAnswer(NotificationAnswer, response, 'notifications');
    },
  };
}
