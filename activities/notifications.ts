import { z } from 'zod';
import { expectAnswer, type HttpClient } from './http';

export const NotificationTemplate = z.enum(['order-confirmed', 'order-cancelled', 'payment-reminder']);
export type NotificationTemplate = z.infer<typeof NotificationTemplate>;
/** What a `payment-reminder` carries: where to pay, how much, until when, and which point of the window it is. */
export const PaymentReminder = z.object({
  point: z.string().min(1),
  checkoutUrl: z.string(),
  amount: z.int(),
  currency: z.string(),
  closesAt: z.iso.datetime(),
});
export type PaymentReminder = z.infer<typeof PaymentReminder>;
/** The notification service's wire contract. */
export const NotificationRequest = z.object({
  orderId: z.string(),
  email: z.string(),
  template: NotificationTemplate,
  /** With `payment-reminder` only. */
  reminder: PaymentReminder.optional(),
});
export const NotificationAnswer = z.object({ notificationId: z.string() });

/** Activities against the customer notification service, one message per order and template (and reminder point). */
export function createNotificationActivities(http: HttpClient, { baseUrl }: { baseUrl: string }) {
  return {
    async notifyCustomer(input: z.infer<typeof NotificationRequest>): Promise<void> {
      const response = await http.send({
        method: 'POST',
        url: `${baseUrl}/notifications`,
        body: input,
        idempotencyKey: `notify-${notificationKey(input)}`,
      });
      expectAnswer(NotificationAnswer, response, 'notifications');
    },
  };
}

/** One message per order and template, and per point of the window for reminders: `payment-reminder/A-1/50%`. */
export function notificationKey({ orderId, template, reminder }: z.infer<typeof NotificationRequest>): string {
  return `${template}/${orderId}${reminder ? `/${reminder.point}` : ''}`;
}
