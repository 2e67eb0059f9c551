import { eventTypes } from './helpers/stack';
import { EXPECTED, FAULTS, MEANINGFUL_ANSWERS, runCell, type CallName, type FaultName } from './helpers/fault-matrix';

/** The fault matrix, the rest: compensations, confirmation and notification × each way they can fail. */
const ROWS: CallName[] = ['release', 'settle', 'fulfillment', 'notification'];
const cells = ROWS.flatMap((call) => (Object.keys(FAULTS) as FaultName[]).map((fault) => [call, fault, EXPECTED[call][fault]] as const));

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
        expect(await eventTypes(handle)).toContain(cell.event);
      },
    });
  });
});
