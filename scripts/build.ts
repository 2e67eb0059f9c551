import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { tracedBundlePath, writeWorkflowBundle } from '../worker/worker';
import { errorMessage } from '../domain/errors';

/**
 * `npm run build` (after `tsc -p tsconfig.build.json`): the workflow bundles a production worker loads
 * (`WORKFLOW_BUNDLE=dist/bundle/workflows.js`),
 * plain and with the tracing interceptors, so no worker bundles at start.
 */
async function main(): Promise<void> {
  const bundle = path.resolve(process.cwd(), 'dist', 'bundle', 'workflows.js');
  mkdirSync(path.dirname(bundle), { recursive: true });
  await writeWorkflowBundle(bundle);
  await writeWorkflowBundle(tracedBundlePath(bundle), { traced: true });
  console.log(
    `built ${path.relative(process.cwd(), bundle)} and ${path.relative(process.cwd(), tracedBundlePath(bundle))}`,
  );
}

main().catch((err: unknown) => {
  console.error('build failed:', errorMessage(err));
  process.exit(1);
});
