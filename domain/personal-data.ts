import type { OrderView } from './order-state';
import type { OrderEvent } from './schemas/order-events';

/**
 * What an anonymised order keeps of the person who placed it: nothing. The order's view and events name
 * no email and no address (those stay in Temporal's encrypted input); the customer's id is what ties them
 * to a person, and an operator's note may say anything. Amounts, items and payments stay, for the books.
 */
export const ANONYMISED_CUSTOMER_ID = 'anonymised';
const ANONYMISED_NOTE = '(anonymised)';

export function anonymisedView(view: OrderView): OrderView {
  return { ...view, customerId: ANONYMISED_CUSTOMER_ID };
}

export function anonymisedEvent(event: OrderEvent): OrderEvent {
  switch (event.type) {
    case 'OrderReceived':
      return { ...event, data: { ...event.data, customerId: ANONYMISED_CUSTOMER_ID } };
    case 'OperatorAction':
      return { ...event, data: { ...event.data, note: ANONYMISED_NOTE } };
    default:
      return event;
  }
}
