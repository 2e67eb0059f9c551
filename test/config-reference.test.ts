import { readFileSync } from 'node:fs';
import { CONFIG_VARIABLES } from '../config';
import { REFERENCE, renderConfigurationReference } from '../scripts/config-reference';

test('docs/CONFIGURATION.md is what config/index.ts generates: run `npm run docs:config` after changing a variable', () => {
  const generated = renderConfigurationReference();
  expect(readFileSync(REFERENCE, 'utf8')).toBe(generated);
  // Every variable the code reads has its row, with a description.
  for (const variable of CONFIG_VARIABLES)
    expect(generated).toMatch(new RegExp(`^\\| \`${variable}\` \\| .+ \\| .+ \\|$`, 'm'));
});
