import { getEventsQuery } from '../domain/contract';
import { EXPECTED, FAULTS, MEANINGFUL_ANSWERS, runCell, type CallName, type FaultName } from './helpers/fault-matrix';

/** The fault matrix, the rest: compensations, confirmation and notification × each way they can fail. */
const ROWS: CallName[] = ['release', 'settle', 'fulfillment', 'notification'];
const cells = ROWS.flatMap((call) =>
  (Object.keys(FAULTS) as FaultName[]).map((fault) => [call, fault, EXPECTED[call][fault]] as const),
);

test.concurrent.each(cells)('%s answers %s: the order ends %s', async (call, fault, expected) => {
  await runCell({ call, fault: FAULTS[fault], expected });
});

describe('answers that mean something', () => {
  test.concurrent.each(MEANINGFUL_ANSWERS.map((cell) => [cell.name, cell] as const))('%s', async (_name, cell) => {
    await runCell({
      call: cell.call,
      route: cell.route,
      fault: cell.fault,
      expected: cell.ends,
      check: async (view, handle) => {
        expect(view.reason?.message).toMatch(cell.message);
        // The event names the order's own payment: the one the provider had no record of.
        const events = (await handle.query(getEventsQuery)).filter((event) => event.type === cell.event);
        expect(events.length).toBeGreaterThan(0);
        for (const event of events)
          expect(event.data).toEqual({ provider: 'primary', paymentId: view.payment!.paymentId });
      },
    });
  });
});
