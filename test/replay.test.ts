import path from 'node:path';
import { DeterminismViolationError } from '@temporalio/workflow';
import { encryptedDataConverter } from '../codec';
import { ORDER_WORKFLOW_TYPE } from '../domain/contract';
import { HISTORIES_DIR, loadHistories, replayAll, workflowTypeOf } from '../scripts/histories';
import { installTestRuntime } from './helpers/stack';
import { testEncryptionKeys, testWorkflowBundlePath } from './helpers/test-env';

const histories = loadHistories(HISTORIES_DIR);
const orderHistories = histories.filter((history) => workflowTypeOf(history) === ORDER_WORKFLOW_TYPE);
const fixture = (name: string) => path.join(__dirname, 'fixtures', name, 'index.ts');

beforeAll(() => installTestRuntime());

test('every saga path has a recorded history', () => {
  expect(histories.map((h) => h.workflowId)).toEqual(
    expect.arrayContaining([
      'happy',
      'declined',
      'window-expiry-reconciled',
      'window-expiry-voided',
      'duplicate-callbacks',
      'failover',
      'customer-cancel',
      'compensation-failure-operator-retry',
      'late-payment-after-cancel',
      'late-payment-refund',
      'rejected',
      'unexpected-answer-operator-retry',
      'reconciled-not-found',
    ]),
  );
});

test('the current workflow code replays every recorded history', async () => {
  // The stack's own converter: plaintext fixtures pass through it, encrypted production histories decode.
  const outcomes = await replayAll(
    {
      workflowBundle: { codePath: testWorkflowBundlePath() },
      dataConverter: encryptedDataConverter(testEncryptionKeys()),
    },
    histories,
  );
  expect(outcomes.filter((o) => o.error).map((o) => `${o.name}: ${o.error!.message}`)).toEqual([]);
  expect(outcomes).toHaveLength(histories.length);
});

test('a new step without patched() is caught: every order history fails with a determinism error', async () => {
  const outcomes = await replayAll({ workflowsPath: fixture('workflows-incompatible') }, orderHistories);
  expect(outcomes).toHaveLength(orderHistories.length);
  for (const outcome of outcomes) expect(outcome.error).toBeInstanceOf(DeterminismViolationError);
});

test('the same step behind patched() replays every history', async () => {
  const outcomes = await replayAll({ workflowsPath: fixture('workflows-patched') }, histories);
  expect(outcomes.filter((o) => o.error).map((o) => `${o.name}: ${o.error!.message}`)).toEqual([]);
  expect(outcomes).toHaveLength(histories.length);
});
