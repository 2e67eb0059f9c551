import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode } from '@temporalio/worker';
import { ALL_ORDER_SEARCH_ATTRIBUTES } from '../domain/search-attributes';
import { ensureTemporalCli } from '../scripts/provision-temporal-cli';
import { WORKFLOWS_PATH } from '../worker/worker';
import { TEST_ENV } from './helpers/test-env';

/**
 * Once per jest run: a real Temporal dev server (the CLI the project provisions, never the SDK download
 * where a CLI can be had) with the order search attributes, and the workflow code bundled once.
 */
export default async function globalSetup(): Promise<void> {
  const cli = ensureTemporalCli();
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      ...(cli ? { executable: { type: 'existing-path' as const, path: cli } } : {}),
      ip: '127.0.0.1',
      searchAttributes: ALL_ORDER_SEARCH_ATTRIBUTES,
      log: { format: 'pretty', level: 'error' },
    },
  });
  const bundle = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} },
  });
  const bundlePath = path.join(mkdtempSync(path.join(os.tmpdir(), 'order-saga-bundle-')), 'workflows.js');
  writeFileSync(bundlePath, bundle.code);
  process.env[TEST_ENV.address] = env.address;
  process.env[TEST_ENV.bundle] = bundlePath;
  process.env[TEST_ENV.keys] = JSON.stringify([{ id: 'test-run', key: randomBytes(32).toString('base64') }]);
  (globalThis as { temporalTestEnv?: TestWorkflowEnvironment }).temporalTestEnv = env;
}
