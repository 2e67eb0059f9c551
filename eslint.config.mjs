import { builtinModules } from 'node:module';
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const deterministic = 'workflows/ and domain/ run inside the Temporal workflow sandbox: they must be deterministic.';

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
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: builtinModules.map((name) => ({ name, message: `No Node built-ins: ${deterministic}` })),
          patterns: [
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
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: deterministic },
        { name: 'Buffer', message: deterministic },
        { name: 'require', message: deterministic },
      ],
    },
  },
);
