import type * as ContractSchemas from '../domain/schemas/contract';

/**
 * The schemas of what signals carry, evaluated when the order's first signal arrives. Evaluating zod and
 * its schemas is most of what a new workflow costs to set up, and the first workflow task (the start and
 * the checkout's wait for its payment link) reads no signal. A `require` inside a function is bundled as a
 * module the workflow evaluates on its first call, with the workflow's own module cache. Everywhere else,
 * workflows import schemas for their types only (eslint.config.mjs; docs/adr/0032-a-new-order-s-first-workflow-task-evaluates.md).
 */
export function signalSchemas(): typeof ContractSchemas {
  // eslint-disable-next-line @typescript-eslint/no-require-imports, no-restricted-globals -- see above
  return require('../domain/schemas/contract') as typeof ContractSchemas;
}
