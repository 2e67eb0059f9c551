import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ALL_ORDER_SEARCH_ATTRIBUTES } from '../domain/search-attributes';
import { ensureTemporalCli } from './provision-temporal-cli';

/**
 * A throwaway dev server (in-memory, loopback, the order search attributes registered) on the provisioned
 * CLI, through the SDK's own test environment: for the jest run and for history capture.
 */
export async function startEphemeralServer(say?: (line: string) => void): Promise<TestWorkflowEnvironment> {
  const cli = ensureTemporalCli(say);
  return TestWorkflowEnvironment.createLocal({
    server: {
      ...(cli ? { executable: { type: 'existing-path' as const, path: cli } } : {}),
      ip: '127.0.0.1',
      searchAttributes: ALL_ORDER_SEARCH_ATTRIBUTES,
      log: { format: 'pretty', level: 'error' },
    },
  });
}
