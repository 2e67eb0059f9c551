import { EXPECTED, FAULTS, runCell, type CallName, type FaultName } from './helpers/fault-matrix';

/** The fault matrix, forward steps: each call before the order is paid × each way it can fail. */
const ROWS: CallName[] = ['catalog', 'reserve', 'create payment', 'payment status'];
const cells = ROWS.flatMap((call) =>
  (Object.keys(FAULTS) as FaultName[]).map((fault) => [call, fault, EXPECTED[call][fault]] as const),
);

test.concurrent.each(cells)('%s answers %s: the order ends %s', async (call, fault, expected) => {
  await runCell({ call, fault: FAULTS[fault], expected });
});
