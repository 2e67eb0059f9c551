import type { OrderView } from '../domain/order-state';
import type { Ledger } from '../sandbox/ledger';

/**
 * The money invariant over ended orders, from the sandbox's ledger: a confirmed order's payments net
 * exactly its total, any other order's net zero, and no order has money held at two payments.
 */
export function checkMoney(ended: Iterable<OrderView>, ledger: ReturnType<Ledger['snapshot']>) {
  const problems: string[] = [];
  let moneyMismatches = 0;
  let doubleCharges = 0;
  for (const view of ended) {
    const payments = ledger.payments.filter((payment) => payment.orderId === view.orderId);
    const net = payments.reduce((sum, payment) => sum + payment.captured - payment.refunded, 0);
    const expected = view.status === 'CONFIRMED' ? view.total : 0;
    if (net !== expected) {
      moneyMismatches++;
      problems.push(`money mismatch: ${view.orderId} is ${view.status}, net ${net}, expected ${expected}`);
    }
    if (payments.filter((payment) => payment.captured - payment.refunded > 0).length > 1) {
      doubleCharges++;
      problems.push(`double charge: ${view.orderId}`);
    }
  }
  return { moneyMismatches, doubleCharges, problems };
}
