import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startEphemeralServer } from '../stack/ephemeral-server';
import { writeWorkflowBundle } from '../worker/worker';
import { TEST_ENV } from './helpers/test-env';

/**
 * Once per jest run: a real Temporal dev server (the CLI the project provisions, never the SDK download
 * where a CLI can be had) with the order search attributes, and the workflow code bundled once.
 */
export default async function globalSetup(): Promise<void> {
  const env = await startEphemeralServer();
  const bundlePath = path.join(mkdtempSync(path.join(os.tmpdir(), 'order-saga-bundle-')), 'workflows.js');
  await writeWorkflowBundle(bundlePath);
  process.env[TEST_ENV.address] = env.address;
  process.env[TEST_ENV.bundle] = bundlePath;
  process.env[TEST_ENV.keys] = JSON.stringify([{ id: 'test-run', key: randomBytes(32).toString('base64') }]);
  (globalThis as { temporalTestEnv?: TestWorkflowEnvironment }).temporalTestEnv = env;
}
