import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { ConfigEnv } from '../config';

/**
 * `npm run docs:config`: docs/CONFIGURATION.md, generated from config/index.ts, so the reference cannot
 * drift from the code: each variable's comment there is its description here, and its default is the
 * schema's own. `test/config-reference.test.ts` fails when the file and the code differ.
 */
const ROOT = path.join(__dirname, '..');
const SOURCE = path.join(ROOT, 'config', 'index.ts');
export const REFERENCE = path.join(ROOT, 'docs', 'CONFIGURATION.md');

/** Each variable's JSDoc in `const ConfigEnv = z.object({ … })`, on one line. */
function descriptions(): Map<string, string> {
  const file = ts.createSourceFile(SOURCE, readFileSync(SOURCE, 'utf8'), ts.ScriptTarget.ES2022, true);
  const found = new Map<string, string>();
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAssignment(node) && ts.isIdentifier(node.name) && /^[A-Z][A-Z0-9_]+$/.test(node.name.text)) {
      const jsDoc = (node as ts.Node & { jsDoc?: ts.JSDoc[] }).jsDoc?.at(-1);
      const comment = typeof jsDoc?.comment === 'string' ? jsDoc.comment : ts.getTextOfJSDocComment(jsDoc?.comment);
      if (comment) found.set(node.name.text, comment.replace(/\s+/g, ' ').trim());
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

/** A schema's default as the reference shows it, or how it reads when unset. */
function defaultOf(schema: { def: { type: string; defaultValue?: unknown } }): string {
  if (schema.def.type !== 'default') return 'unset';
  const value = schema.def.defaultValue;
  return `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;
}

export function renderConfigurationReference(): string {
  const described = descriptions();
  const rows = Object.entries(ConfigEnv.shape).map(([name, schema]) => {
    const description = described.get(name);
    if (!description) throw new Error(`config/index.ts: ${name} has no comment to describe it`);
    return `| \`${name}\` | ${defaultOf(schema as never)} | ${description.replace(/\|/g, '\\|')} |`;
  });
  return [
    '# Configuration reference',
    '',
    'Generated from `config/index.ts` by `npm run docs:config`; `npm test` fails when they differ. Every process',
    '(API, worker, sandbox, `npm start`, the scripts) reads these variables through that one validated',
    'module. An empty variable counts as unset, and a bad value stops the process at start with a message',
    'that names the variable, never its value. The Temporal connection (`TEMPORAL_ADDRESS`, TLS, API key,',
    'profiles) follows `@temporalio/envconfig` (docs/DEPLOYING.md).',
    '',
    '| variable | default | what it is |',
    '|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

if (require.main === module) {
  writeFileSync(REFERENCE, renderConfigurationReference());
  console.error(`wrote ${path.relative(ROOT, REFERENCE)}`);
}
