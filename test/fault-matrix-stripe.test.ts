import { EXPECTED, FAULTS, runCell, type CallName, type FaultName } from './helpers/fault-matrix';

/**
 * The fault matrix's payment rows with a `stripe` primary (the sandbox playing Stripe, reached through the
 * real `stripe` adapter) and an `http` backup: the same faults on the same routes end the same orders,
 * save one. Stripe declines with a 402 card error, never a 422: a bare 422 is an answer the saga has no
 * meaning for, as any other 4xx.
 */
const ROWS: CallName[] = ['create payment', 'payment status', 'settle'];
const STRIPE_EXPECTED = {
  ...EXPECTED,
  'create payment': { ...EXPECTED['create payment'], '422': 'REQUIRES_ATTENTION UNEXPECTED_ANSWER' },
} as const;
const cells = ROWS.flatMap((call) =>
  (Object.keys(FAULTS) as FaultName[]).map((fault) => [call, fault, STRIPE_EXPECTED[call][fault]] as const),
);

test.concurrent.each(cells)('stripe: %s answers %s: the order ends %s', async (call, fault, expected) => {
  await runCell({ call, fault: FAULTS[fault], expected, providerTypes: ['stripe', 'http'] });
});
