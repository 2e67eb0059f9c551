/** Jest runs TypeScript through SWC; one shared Temporal dev server per run (see test/global-setup.ts). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  // Workflow tests share one dev server and one worker bundle; two cores do not gain from more workers.
  maxWorkers: 2,
  testTimeout: 60_000,
};
