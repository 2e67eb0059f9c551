import type { EncryptionKey } from '../../codec';
import { EncryptionKeysJson, toEncryptionKeys } from '../../codec/keys';

/** Variables the global setup hands to every test file. */
export const TEST_ENV = {
  address: 'ORDER_SAGA_TEST_TEMPORAL_ADDRESS',
  bundle: 'ORDER_SAGA_TEST_WORKFLOW_BUNDLE',
  /** A key made for this run (ENCRYPTION_KEYS format): every stack of the run encrypts with it. */
  keys: 'ORDER_SAGA_TEST_ENCRYPTION_KEYS',
  /** What a worker process of a test's stack serves (test/helpers/worker-process.ts). */
  workerProcess: 'ORDER_SAGA_TEST_WORKER_PROCESS',
} as const;

export function testTemporalAddress(): string {
  const address = process.env[TEST_ENV.address];
  if (!address) throw new Error('no test Temporal server: run the tests through jest (test/global-setup.ts)');
  return address;
}

export function testWorkflowBundlePath(): string {
  const bundle = process.env[TEST_ENV.bundle];
  if (!bundle) throw new Error('no workflow bundle: run the tests through jest (test/global-setup.ts)');
  return bundle;
}

export function testEncryptionKeys(): EncryptionKey[] {
  const keys = process.env[TEST_ENV.keys];
  if (!keys) throw new Error('no test encryption keys: run the tests through jest (test/global-setup.ts)');
  return toEncryptionKeys(EncryptionKeysJson.parse(JSON.parse(keys)));
}
