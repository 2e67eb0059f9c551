import { builtinModules } from 'node:module';
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const deterministic = 'workflows/ and domain/ run inside the Temporal workflow sandbox: they must be deterministic.';
const withoutSchemas =
  'Workflows and the plain domain modules import zod and domain/schemas/ for their types only: every new workflow would evaluate them again.';
const builtinPaths = builtinModules.map((name) => ({ name, message: `No Node built-ins: ${deterministic}` }));
const sandboxPatterns = [
  { group: ['node:*'], message: `No Node built-ins: ${deterministic}` },
  {
    group: ['**/activities', '**/activities/*'],
    allowTypeImports: true,
    message: 'Workflows import only the types of activities (proxyActivities<typeof ...>), never their code.',
  },
  {
    group: ['**/api/*', '**/worker/*', '**/sandbox/*', '**/scripts/*', '**/config', '**/config/*'],
    message: deterministic,
  },
];

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'client/generated/',
      '.tools/',
      '.data/',
      'coverage/',
      'test/artifacts/',
      'bench/results/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // The boundary docs/DESIGN.md draws: no Node built-ins, no activity implementations, no I/O modules.
    files: ['workflows/**/*.ts', 'domain/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { paths: builtinPaths, patterns: sandboxPatterns }],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: deterministic },
        { name: 'Buffer', message: deterministic },
        { name: 'require', message: deterministic },
      ],
    },
  },
  {
    // What a new order's first workflow task evaluates stays free of zod (docs/adr/0032-a-new-order-s-first-workflow-task-evaluates.md).
    files: ['workflows/**/*.ts', 'domain/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [...builtinPaths, { name: 'zod', allowTypeImports: true, message: withoutSchemas }],
          patterns: [...sandboxPatterns, { group: ['**/schemas/*'], allowTypeImports: true, message: withoutSchemas }],
        },
      ],
    },
  },
);
